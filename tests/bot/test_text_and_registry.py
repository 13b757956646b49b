"""Normalisation, hygiene, language detection and keyword matching: no database needed."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from flask import Flask

from app.bot.commands import COMMAND_MODULES
from app.bot.registry import Command, Registry, command
from app.bot.text import detect_language, normalise, problem

registry = Registry.from_modules(COMMAND_MODULES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＪＦ", "JF"),
        ("  jf  ", "jf"),
        ("ＢＤ　８８００　１２３４", "BD 8800 1234"),
        ("投票\t\n A", "投票 A"),
    ],
)
def test_normalise_folds_width_and_spaces(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("x" * 1600, None),
        ("x" * 1601, "too_long"),
        ("JF 😀", "emoji"),
        ("JF\u2764\ufe0f", "emoji"),
        ("JF\x00", "control"),
        ("JF\u200b", "control"),
        ("line one\nline two\ttab", None),
        ("ЈF", "mixed_scripts"),  # a Cyrillic Ј before a Latin F
        ("留言 the coffee 很好", None),
        ("привет", None),  # one foreign script is not mixed: it is simply not a command
    ],
)
def test_problem(raw: str, expected: str | None) -> None:
    assert problem(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("請問這個怎麼用", "zh-Hant"),
        ("请问这个怎么用", "zh-Hans"),
        ("你好", "zh-Hans"),
        ("hello there", "en"),
        ("12345", "zh-Hans"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text, "zh-Hans") == expected


@pytest.mark.parametrize(
    ("text", "name", "args", "languages"),
    [
        ("JF", "points", "", ("zh-Hans",)),
        ("jf", "points", "", ("zh-Hans",)),
        ("Points", "points", "", ("en",)),
        ("積分", "points", "", ("zh-Hant",)),
        ("积分吗", "points", "吗", ("zh-Hans",)),
        ("YE", "balance", "", ("zh-Hans",)),
        ("YES", "opt_in", "", ("en",)),
        ("BD 8800123412341234 1234", "bind", "8800123412341234 1234", ("zh-Hans",)),
        ("投票A", "vote", "A", ("zh-Hans", "zh-Hant")),
        ("TP b", "vote", "b", ("zh-Hans",)),
        ("留言今天的汤很好喝", "message", "今天的汤很好喝", ("zh-Hans", "zh-Hant")),
        ("MSG Hello, Store", "message", "Hello, Store", ("en",)),
        ("stop", "opt_out", "", ("en",)),
        ("STOP.", "opt_out", "", ("en",)),
        ("退订。", "opt_out", "", ("zh-Hans",)),
        ("T", "opt_out", "", ("zh-Hans",)),
        ("STOPALL", "opt_out", "", ("en",)),
        ("opt out", "opt_out", "", ("en",)),
        ("Opt-Out!", "opt_out", "", ("en",)),
        ("?", "help", "", ()),
        ("LANGUAGE en", "lang", "en", ("en",)),
    ],
)
def test_match(text: str, name: str, args: str, languages: tuple[str, ...]) -> None:
    found = registry.match(normalise(text))
    assert found is not None
    assert (found.command.name, found.args, found.languages) == (name, args, languages)


@pytest.mark.parametrize(
    "text",
    ["stop sending me ads please", "STOP IT", "T 1", "JFK", "TPA", "BINDER 1", "quit now", "hello"],
)
def test_no_match(text: str) -> None:
    assert registry.match(normalise(text)) is None


def test_longest_keyword_wins_and_duplicates_are_refused() -> None:
    local = Registry()
    local.add(Command("short", lambda ctx: "s", {"en": ("ALERT",)}))
    local.add(Command("long", lambda ctx: "l", {"en": ("ALERT OFF",)}))
    found = local.match("alert off level")
    assert found is not None and (found.command.name, found.args) == ("long", "level")
    with pytest.raises(ValueError, match="two commands"):
        local.add(Command("again", lambda ctx: "a", {"en": ("alert",)}))


def _module_with(*handlers: Any) -> ModuleType:
    module = ModuleType("extra_commands")
    for number, handler in enumerate(handlers):
        setattr(module, f"handler_{number}", handler)
    return module


def test_a_second_command_of_the_same_name_is_refused() -> None:
    extra = _module_with(command("points", keywords={"en": ("PTS2",)})(lambda ctx: ""))
    with pytest.raises(ValueError, match="registered twice"):
        Registry.from_modules((*COMMAND_MODULES, extra))


def test_declaring_a_command_registers_nothing(app: Flask) -> None:
    """The decorator only tags: the app answers with what its ``init_app`` collected."""
    from app.bot import current_registry

    handler = command("weather", keywords={"en": ("WEATHER",)})(lambda ctx: "sunny")
    assert current_registry().match("WEATHER") is None
    found = Registry.from_modules((_module_with(handler),)).match("WEATHER")
    assert found is not None and found.command.handler is handler
    assert set(current_registry().commands) == set(registry.commands)


@pytest.mark.parametrize(
    ("raw", "keyword", "expected"),
    [
        ("留言 新品太甜了，能少糖吗？", "留言", "新品太甜了，能少糖吗？"),
        ("ＭＳＧ  Ｈｉ！", "MSG", "Ｈｉ！"),
        ("ly\u3000你好", "LY", "你好"),
        ("留言", "留言", ""),
    ],
)
def test_after_keyword_keeps_the_senders_text(raw: str, keyword: str, expected: str) -> None:
    from app.bot.text import after_keyword

    assert after_keyword(raw, keyword) == expected
