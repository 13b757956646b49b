"""Commands declared by decorator, with their keywords in every language (errbot-like).

The decorator only records the function; ``Registry.match`` picks the command:
exact whole-message keywords first (opt-out and opt-in, which must never fire on
a sentence that merely starts with STOP), then the longest keyword the message
starts with, then patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import FunctionType, ModuleType

from app.bot.message import Message, Sender
from app.members.models import Member
from app.members.services import get_member

#: Keywords under this key hint at no language (``?``).
NEUTRAL = ""
#: Trailing punctuation people add to a single-word command ("STOP." "退订。").
_TRAILING = ".!。！"


@dataclass
class Context:
    """What a handler sees. ``language`` is the reply language; LANG changes it."""

    message: Message
    sender: Sender
    language: str
    #: The keyword as matched (upper case), e.g. ``JF`` or ``积分``.
    keyword: str
    #: What followed the keyword, normalised but in the sender's case.
    args: str
    #: The same as the sender wrote it (full-width punctuation kept), for free text.
    raw_args: str = ""
    _member: Member | None = field(default=None, repr=False)
    _member_loaded: bool = field(default=False, repr=False)

    @property
    def member(self) -> Member | None:
        """The sender's member (None for a stranger), loaded on first use: POINTS answers
        from ``sender`` alone."""
        if not self._member_loaded:
            member_id = self.sender.member_id
            self._member = get_member(member_id) if member_id is not None else None
            self._member_loaded = True
        return self._member

    @member.setter
    def member(self, member: Member | None) -> None:
        # JOIN makes the stranger a member.
        self._member = member
        self._member_loaded = True


Handler = Callable[[Context], str]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    #: language -> keywords, upper case and normalised.
    keywords: dict[str, tuple[str, ...]]
    #: Only members may use it; a stranger is told how to join (how to bind on WeChat).
    member_required: bool = True
    #: Channels where a stranger may use it all the same (BIND a phone from WeChat).
    strangers_on: tuple[str, ...] = ()
    #: Only the whole message counts (opt-out and opt-in keywords).
    exact: bool = False
    #: The handler may write: it runs in a savepoint, so a failure leaves nothing behind.
    #: Read-only commands (POINTS, the hot path) skip the two extra round trips.
    writes: bool = True
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Match:
    command: Command
    keyword: str
    #: Languages the keyword belongs to, in declaration order (empty: no hint).
    languages: tuple[str, ...]
    args: str


@dataclass
class Registry:
    commands: dict[str, Command] = field(default_factory=dict)
    _exact: dict[str, tuple[Command, tuple[str, ...]]] = field(default_factory=dict)
    _prefix: list[tuple[str, Command, tuple[str, ...]]] = field(default_factory=list)
    #: ``_prefix`` by the keyword's first character, longest first: a message is compared
    #: with the few keywords that start like it, not with all of them.
    _by_initial: dict[str, list[tuple[str, Command, tuple[str, ...]]]] = field(default_factory=dict)

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType]) -> Registry:
        """A registry of every ``@command`` handler defined in ``modules``, in their order."""
        registry = cls()
        for module in modules:
            for value in vars(module).values():
                # Functions only: a module's names include proxies such as current_app.
                found = getattr(value, TAG, None) if isinstance(value, FunctionType) else None
                if isinstance(found, Command) and found.handler is value:
                    registry.add(found)
        return registry

    def add(self, command: Command) -> None:
        if command.name in self.commands:
            raise ValueError(f"command {command.name!r} registered twice")
        self.commands[command.name] = command
        for keyword, languages in _keyword_languages(command.keywords).items():
            if keyword in self._exact or any(k == keyword for k, _c, _l in self._prefix):
                raise ValueError(f"keyword {keyword!r} belongs to two commands")
            if command.exact:
                self._exact[keyword] = (command, languages)
            else:
                self._prefix.append((keyword, command, languages))
        self._prefix.sort(key=lambda entry: len(entry[0]), reverse=True)
        self._by_initial = {}
        for entry in self._prefix:
            self._by_initial.setdefault(entry[0][0], []).append(entry)

    def match(self, text: str) -> Match | None:
        """``text`` must be normalised (``app.bot.text.normalise``)."""
        upper = text.upper()
        bare = upper.rstrip(_TRAILING).rstrip() or upper
        if bare in self._exact:
            command, languages = self._exact[bare]
            return Match(command, bare, languages, "")
        for keyword, command, languages in self._by_initial.get(upper[:1], ()):
            if _starts_with(text, keyword):
                return Match(command, keyword, languages, text[len(keyword) :].strip())
        for command in self.commands.values():
            if command.pattern is not None:
                found = command.pattern.fullmatch(text)
                if found:
                    return Match(command, "", (), (found.groupdict().get("args") or "").strip())
        return None


def _keyword_languages(keywords: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """keyword -> the languages it is written in (投票 is both Simplified and Traditional)."""
    result: dict[str, tuple[str, ...]] = {}
    for language, words in keywords.items():
        for word in words:
            key = word.upper()
            langs = result.get(key, ())
            if language != NEUTRAL and language not in langs:
                langs = (*langs, language)
            result[key] = langs
    return result


def _starts_with(text: str, keyword: str) -> bool:
    """``JF 1`` and ``投票A`` start with their keyword; ``JFK`` does not start with ``JF``."""
    head = text[: len(keyword)]
    if head.upper() != keyword:
        return False
    rest = text[len(keyword) :]
    if not rest or not rest[0].isalnum():
        return True
    # After a Chinese keyword the argument may follow without a space: 投票A, 留言你好.
    return not keyword[-1].isascii()


#: The attribute ``@command`` tags a handler with; ``Registry.from_modules`` reads it.
TAG = "laoyou_command"


def command(
    name: str,
    *,
    keywords: dict[str, tuple[str, ...]],
    member_required: bool = True,
    strangers_on: tuple[str, ...] = (),
    exact: bool = False,
    writes: bool = True,
    pattern: str | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a command: ``@command("points", keywords={"zh-Hans": ("积分", "JF"), ...})``.

    It only tags the handler: the bot's ``init_app`` builds the app's registry from the
    command modules, so importing a module registers nothing.
    """

    def tag(handler: Handler) -> Handler:
        setattr(
            handler,
            TAG,
            Command(
                name=name,
                handler=handler,
                keywords=keywords,
                member_required=member_required,
                strangers_on=strangers_on,
                exact=exact,
                writes=writes,
                pattern=re.compile(pattern, re.IGNORECASE) if pattern else None,
            ),
        )
        return handler

    return tag
