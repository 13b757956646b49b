"""WeChat's wire format: the signatures, safe mode's AES, the XML in and out.

werobot (1.13) does the AES and turns the fields into its message objects; what it gets
wrong stays out: its signature checks compare with ``==`` (here: ``hmac.compare_digest``),
its decryption raises anything on a bad ciphertext (here: ``Refused(400)``), its XML parser
meets the bytes unvetted (here: defusedxml first, no DTD or entity declaration at all), and
its reply templates put text into CDATA unescaped (a ``]]>`` in a reply would end it).
"""

from __future__ import annotations

import binascii
import hmac
import struct
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask import current_app
from werobot import WeRoBot
from werobot.config import Config
from werobot.crypto.exceptions import AppIdValidationError
from werobot.exceptions import ConfigError
from werobot.messages.events import WeChatEvent
from werobot.messages.messages import WeChatMessage
from werobot.parser import process_message
from werobot.utils import get_signature

#: A WeChat message is a few hundred bytes, a safe-mode one about twice that; far bigger
#: is no WeChat message, refused unread.
MAX_BODY_BYTES = 64 * 1024
#: Levels of elements WeChat nests at most (<xml><SendPicsInfo><PicList><item><PicMd5Sum>).
MAX_DEPTH = 5
#: WeChat's ``echostr`` is a number of about 20 digits.
MAX_ECHOSTR_CHARS = 256
EXTENSION = "werobot"


class Refused(Exception):
    """The request is not one WeChat sent (403) or cannot be read (400, 413)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def make_robot(config: Mapping[str, Any]) -> WeRoBot:
    """The app's WeRoBot: settings only, no handlers (the view answers), no session store.

    ``WeRoBot(session_storage=False)`` is ignored by werobot (it tests the value for truth)
    and then writes ``werobot_session.sqlite3`` into the working directory: hence a Config.
    """
    settings = Config(
        TOKEN=config["WECHAT_TOKEN"] or None,
        APP_ID=config["WECHAT_APP_ID"] or None,
        APP_SECRET=config["WECHAT_APP_SECRET"] or None,
        ENCODING_AES_KEY=config["WECHAT_ENCODING_AES_KEY"] or None,
        SESSION_STORAGE=False,
        SERVER="auto",
        HOST="127.0.0.1",
        PORT="8888",
    )
    return WeRoBot(config=settings)


def robot() -> WeRoBot:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def check_signature(args: Mapping[str, str]) -> None:
    """``signature`` over the token, ``timestamp`` and ``nonce``: every request WeChat sends."""
    token = robot().config["TOKEN"]
    if not token:
        raise Refused(403, "WECHAT_TOKEN is not set")
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    signature = args.get("signature", "")
    if not (timestamp and nonce and signature):
        raise Refused(403, "signature, timestamp or nonce missing")
    if not _same(get_signature(token, timestamp, nonce), signature):
        raise Refused(403, "bad signature")


def parse_xml(raw: bytes) -> dict[str, Any]:
    """The ``<xml>`` document's fields (children's text, one level of nesting kept for the
    events that nest), read by defusedxml before anything else sees the bytes."""
    if b"\x00" in raw:
        raise Refused(400, "a NUL byte in the body")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Refused(400, f"refused XML: {type(exc).__name__}") from None
    except (ParseError, ValueError) as exc:
        raise Refused(400, f"malformed XML: {exc}") from None
    if root.tag != "xml":
        raise Refused(400, f"root element <{root.tag[:40]}>, not <xml>")
    if _deeper_than(root, MAX_DEPTH):
        raise Refused(400, f"elements nested deeper than {MAX_DEPTH} levels")
    return _fields(root)


def _deeper_than(root: Element, limit: int) -> bool:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def _fields(element: Element) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for child in element:
        if len(child):
            # ScanCodeInfo, SendPicsInfo ...: one level; anything deeper is no WeChat field.
            fields[child.tag] = {sub.tag: sub.text or "" for sub in child if not len(sub)}
        else:
            fields[child.tag] = child.text or ""
    return fields


def decrypt(args: Mapping[str, str], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Safe and compatible mode: check ``msg_signature`` over ``Encrypt``, then decrypt it
    (werobot's AES) and read the inner document as any other."""
    encrypted = fields.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise Refused(400, "encrypt_type=aes without Encrypt")
    wechat = robot()
    try:
        crypto = wechat.crypto
    except ConfigError:
        raise Refused(403, "an encrypted message, but no WECHAT_ENCODING_AES_KEY/APP_ID") from None
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    expected = get_signature(crypto.token, timestamp, nonce, encrypted)
    if not _same(expected, args.get("msg_signature", "")):
        raise Refused(403, "bad msg_signature")
    try:
        plain = crypto.prp_crypto.decrypt(encrypted, crypto.app_id)
    # werobot trusts the padding and the length it reads from the plaintext: a ciphertext
    # that decrypts to rubbish raises whatever slicing and unpacking meet.
    except (AppIdValidationError, ValueError, TypeError, struct.error, binascii.Error) as exc:
        raise Refused(400, f"undecryptable Encrypt: {type(exc).__name__}") from None
    return parse_xml(bytes(plain))


def read_message(fields: dict[str, Any]) -> WeChatMessage | WeChatEvent:
    """werobot's message (or event) object for the fields; Refused(400) for what no WeChat
    message lacks or carries wrong."""
    msg_type = fields.get("MsgType")
    if not isinstance(msg_type, str) or not msg_type:
        raise Refused(400, "no MsgType")
    if not fields.get("FromUserName") or not isinstance(fields["FromUserName"], str):
        raise Refused(400, "no FromUserName")
    # Retries are told apart by these: an event by its sender, CreateTime and name, any
    # other message by its MsgId. Without them a retry would act twice.
    if msg_type.lower() == "event":
        if not isinstance(fields.get("Event"), str) or not fields.get("CreateTime"):
            raise Refused(400, "an event without Event or CreateTime")
    elif not fields.get("MsgId") or not isinstance(fields["MsgId"], str):
        raise Refused(400, "a message without MsgId")
    message = process_message(dict(fields))
    try:
        # werobot reads these with int() on first use: a non-number must fail here.
        _ = message.time, message.message_id
    except ValueError:
        raise Refused(400, "CreateTime or MsgId is not a number") from None
    return message  # type: ignore[no-any-return]


def _cdata(text: str) -> str:
    """Text inside CDATA: a ``]]>`` in it is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """A passive text reply: to the follower, from the official account."""
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content></xml>"
    )


def encrypt_reply(xml: str) -> str:
    """Safe mode: the reply encrypted and signed (``Encrypt``, ``MsgSignature``, ``TimeStamp``,
    ``Nonce``) by werobot's crypto."""
    return str(robot().crypto.encrypt_message(xml))
