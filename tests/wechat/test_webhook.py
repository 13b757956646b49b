"""The webhook as WeChat's servers meet it: the URL check, the three modes, signatures,
events and the other message types, and what an error in an answer gets."""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from app.bot.message import Reply
from app.db import db
from app.members.wechat import bind_openid
from app.messaging.models import InboundMessage
from app.wechat import events
from app.wechat.event import Event
from app.wechat.transport import robot, text_reply
from tests.wechat.support import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    TOKEN,
    WeChatServer,
    event_xml,
    fields_xml,
    next_msg_id,
    signature,
    text_xml,
)

OPENID = "oFollower00000000000000001"


def _rows() -> list[InboundMessage]:
    return list(db.session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(InboundMessage)) or 0


# --- the URL check ---------------------------------------------------------------------


def _verify_args(**override: str) -> dict[str, str]:
    args = {"timestamp": "1796600000", "nonce": "381046", "echostr": "5837397749804407296"}
    args["signature"] = signature(TOKEN, args["timestamp"], args["nonce"])
    return {**args, **override}


def test_server_verification_echoes_echostr(client: FlaskClient) -> None:
    response = client.get("/wechat", query_string=_verify_args())
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "5837397749804407296"
    assert response.content_type.startswith("text/plain")


@pytest.mark.parametrize(
    ("override", "status"),
    [
        ({"signature": "0" * 40}, 403),
        ({"signature": ""}, 403),
        ({"nonce": "another"}, 403),  # the signature no longer covers it
        ({"echostr": ""}, 200),
    ],
)
def test_server_verification_refuses_a_bad_signature(
    client: FlaskClient, override: dict[str, str], status: int
) -> None:
    response = client.get("/wechat", query_string=_verify_args(**override))
    assert response.status_code == status


def test_server_verification_without_echostr_is_400(client: FlaskClient) -> None:
    args = _verify_args()
    del args["echostr"]
    assert client.get("/wechat", query_string=args).status_code == 400
    too_long = client.get("/wechat", query_string=_verify_args(echostr="9" * 300))
    assert too_long.status_code == 400
    # Without a signature the missing echostr is not even looked at.
    del args["signature"]
    assert client.get("/wechat", query_string=args).status_code == 403


# --- the three modes --------------------------------------------------------------------


def test_safe_mode_reply_decrypts_with_wechatpy_and_its_signature_checks(
    client: FlaskClient, make_store: Any
) -> None:
    """Interoperability: a second, independent implementation reads our safe-mode reply."""
    make_store("SH01")
    safe = WeChatServer(client, "safe")
    args, wire = safe.query(text_xml(OPENID, "帮助", next_msg_id()))
    assert "<MsgType>" not in wire  # safe mode: only the ciphertext travels
    response = client.post("/wechat", query_string=args, data=wire.encode())
    assert response.status_code == 200
    assert response.content_type == "application/xml; charset=utf-8"
    body = response.get_data(as_text=True)
    sealed = ET.fromstring(body)
    assert {child.tag for child in sealed} == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "帮助" not in body and "积分" not in body  # nothing in the clear
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    msg_signature = sealed.findtext("MsgSignature") or ""
    timestamp, nonce = sealed.findtext("TimeStamp") or "", sealed.findtext("Nonce") or ""
    assert msg_signature == signature(TOKEN, timestamp, nonce, sealed.findtext("Encrypt") or "")
    plain = ET.fromstring(crypto.decrypt_message(body, msg_signature, timestamp, nonce))
    assert plain.findtext("ToUserName") == OPENID
    assert plain.findtext("FromUserName") == ACCOUNT
    assert plain.findtext("MsgType") == "text"
    assert "绑定" in (plain.findtext("Content") or "")  # a stranger's HELP: how to bind
    # A reply whose signature was tampered with does not pass wechatpy's check.
    with pytest.raises(InvalidSignatureException):
        crypto.decrypt_message(body, "0" * 40, timestamp, nonce)


def test_plain_mode_reply_is_plain_xml(client: FlaskClient, make_store: Any) -> None:
    make_store("SH01")
    sent = WeChatServer(client, "plain").text(OPENID, "帮助")
    assert sent.body.startswith("<xml><ToUserName><![CDATA[" + OPENID)
    assert "绑定" in sent.content  # a stranger's HELP: how to bind


def test_a_silent_answer_is_success(wechat: WeChatServer) -> None:
    sent = wechat.event(OPENID, "VIEW", key="https://laoyou.example.com/menu")
    assert sent.status == 200
    assert sent.body == "success"
    assert sent.content_type.startswith("text/plain")


# --- bad signatures ---------------------------------------------------------------------


def _post(client: FlaskClient, args: dict[str, str], wire: str | bytes) -> Any:
    data = wire.encode() if isinstance(wire, str) else wire
    return client.post("/wechat", query_string=args, data=data, content_type="text/xml")


def test_a_bad_signature_is_403_and_stores_nothing(
    client: FlaskClient, wechat: WeChatServer, make_store: Any
) -> None:
    make_store("SH01")
    args, wire = wechat.query(text_xml(OPENID, "帮助", next_msg_id()))
    for bad in (
        {**args, "signature": "f" * 40},
        {**args, "signature": signature("another-token", args["timestamp"], args["nonce"])},
        {key: value for key, value in args.items() if key != "signature"},
        {**args, "timestamp": str(int(args["timestamp"]) + 1)},
    ):
        response = _post(client, bad, wire)
        assert response.status_code == 403, bad
        assert "积分" not in response.get_data(as_text=True)
    assert _count() == 0
    assert _post(client, args, wire).status_code == 200  # the same request, signed: answered


@pytest.mark.parametrize("mode", ["compat", "safe"])
def test_a_bad_msg_signature_is_403_and_stores_nothing(
    client: FlaskClient, mode: str, make_store: Any
) -> None:
    make_store("SH01")
    server = WeChatServer(client, mode)
    args, wire = server.query(text_xml(OPENID, "帮助", next_msg_id()))
    root = ET.fromstring(wire)
    encrypt = root.findtext("Encrypt") or ""
    tampered = encrypt[:20] + ("A" if encrypt[20] != "A" else "B") + encrypt[21:]
    for bad_args, bad_wire in (
        ({**args, "msg_signature": "0" * 40}, wire),
        ({key: value for key, value in args.items() if key != "msg_signature"}, wire),
        (args, wire.replace(encrypt, tampered)),  # the ciphertext changed under its signature
    ):
        assert _post(client, bad_args, bad_wire).status_code == 403
    assert _count() == 0


def test_safe_mode_without_an_aes_key_is_refused(app: Flask, client: FlaskClient) -> None:
    safe = WeChatServer(client, "safe")
    args, wire = safe.query(text_xml(OPENID, "帮助", next_msg_id()))
    app.extensions["werobot"].config["ENCODING_AES_KEY"] = None
    app.extensions["werobot"].__dict__.pop("_crypto", None)
    assert _post(client, args, wire).status_code == 403
    assert _count() == 0


def test_no_token_configured_refuses_everything(app: Flask, client: FlaskClient) -> None:
    args, wire = WeChatServer(client, "plain").query(text_xml(OPENID, "帮助", next_msg_id()))
    app.extensions["werobot"].config["TOKEN"] = None
    assert _post(client, args, wire).status_code == 403
    assert client.get("/wechat", query_string=_verify_args()).status_code == 403


# --- events and other message types ------------------------------------------------------


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Event]]:
    """Stands in for the event answers (another part of the service): records each event
    and says which it was."""
    seen: list[Event] = []

    def answer(event: Event) -> Reply:
        seen.append(event)
        if event.event in ("view", "templatesendjobfinish"):
            return Reply("", "zh-Hans", event.event, silent=True)
        return Reply(f"answered {event.event} {event.key}".strip(), "en", event.event)

    monkeypatch.setattr(events, "answer_event", answer)
    yield seen


def test_every_event_reaches_the_event_answers(wechat: WeChatServer, answered: list[Event]) -> None:
    created = int(time.time())
    assert wechat.event(OPENID, "subscribe", create_time=created).content == "answered subscribe"
    scene = wechat.event(
        OPENID,
        "subscribe",
        key="qrscene_counter7",
        ticket="gQH47joAAAAAAAAAASxodHRw",
        create_time=created + 1,
    )
    assert scene.content == "answered subscribe qrscene_counter7"
    assert wechat.event(
        OPENID, "SCAN", key="counter7", ticket="gQH4", create_time=created + 2
    ).content
    assert wechat.event(OPENID, "CLICK", key="points", create_time=created + 3).content == (
        "answered click points"
    )
    assert wechat.event(
        OPENID, "VIEW", key="https://x.example/e", create_time=created + 4
    ).body == ("success")
    assert wechat.event(OPENID, "TEMPLATESENDJOBFINISH", create_time=created + 5).body == "success"
    assert wechat.event(OPENID, "unsubscribe", create_time=created + 6).content
    assert [(e.event, e.key, e.ticket) for e in answered] == [
        ("subscribe", "", ""),
        ("subscribe", "qrscene_counter7", "gQH47joAAAAAAAAAASxodHRw"),
        ("scan", "counter7", "gQH4"),
        ("click", "points", ""),
        ("view", "https://x.example/e", ""),
        ("templatesendjobfinish", "", ""),
        ("unsubscribe", "", ""),
    ]
    assert all(e.openid == OPENID for e in answered)
    assert answered[0].create_time == created
    rows = _rows()
    assert [row.text for row in rows][:2] == [
        "[event subscribe]",
        "[event subscribe qrscene_counter7]",
    ]
    assert rows[0].provider_id == f"{OPENID}:{created}:subscribe"
    assert all(row.channel == "wechat" and row.sender == OPENID for row in rows)


def test_a_retried_event_is_answered_once(wechat: WeChatServer, answered: list[Event]) -> None:
    body = event_xml(OPENID, "CLICK", key="balance", create_time=1796600123)
    replies = {wechat.post(body).content for _ in range(4)}  # WeChat's three retries
    assert replies == {"answered click balance"}
    assert len(answered) == 1
    assert _count() == 1
    # The same event at another second is another event.
    wechat.post(event_xml(OPENID, "CLICK", key="balance", create_time=1796600124))
    assert len(answered) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"MsgType": "image", "PicUrl": "http://mmbiz.example/pic", "MediaId": "media1"},
        {"MsgType": "voice", "MediaId": "media2", "Format": "amr"},
        {"MsgType": "video", "MediaId": "media3", "ThumbMediaId": "thumb3"},
        {"MsgType": "shortvideo", "MediaId": "media4", "ThumbMediaId": "thumb4"},
        {
            "MsgType": "location",
            "Location_X": "31.2304",
            "Location_Y": "121.4737",
            "Scale": "20",
            "Label": "静安寺",
        },
        {"MsgType": "link", "Title": "t", "Description": "d", "Url": "https://x.example"},
    ],
)
def test_other_message_types_get_a_polite_reply_once(
    wechat: WeChatServer, fields: dict[str, str]
) -> None:
    msg_id = next_msg_id()
    body = fields_xml(
        {
            "ToUserName": ACCOUNT,
            "FromUserName": OPENID,
            "CreateTime": "1796600000",
            **fields,
            "MsgId": msg_id,
        }
    )
    first, second = wechat.post(body), wechat.post(body)
    assert first.content == "抱歉，这里只能读懂文字消息。回复“帮助”查看全部指令。"
    assert second.content == first.content
    rows = _rows()
    assert len(rows) == 1 and rows[0].provider_id == msg_id
    assert rows[0].text == f"[{fields['MsgType']}]"


def test_the_polite_reply_is_in_a_bound_members_language(
    client: FlaskClient, make_member: Any
) -> None:
    bind_openid(OPENID, make_member("+14155550123", language="en"), via="code")
    body = fields_xml(
        {
            "ToUserName": ACCOUNT,
            "FromUserName": OPENID,
            "CreateTime": "1796600000",
            "MsgType": "image",
            "PicUrl": "http://p.example/1",
            "MsgId": next_msg_id(),
        }
    )
    reply = WeChatServer(client, "safe").post(body).content
    assert (
        reply
        == "Sorry, only text messages are understood here. Send HELP for the list of commands."
    )


# --- errors in answers -------------------------------------------------------------------


def test_an_event_answer_that_fails_is_logged_and_answered_politely(
    app: Flask,
    wechat: WeChatServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    make_member: Any,
) -> None:
    monkeypatch.setitem(app.config, "BOT_RAISE_ERRORS", False)
    member = make_member("+8613700000099")

    def broken(event: Event) -> Reply:
        bind_openid(event.openid, member, via="scene")  # a write, then the failure
        raise RuntimeError("the scene table is on fire")

    monkeypatch.setattr(events, "answer_event", broken)
    with caplog.at_level(logging.ERROR, logger="laoyou.wechat"):
        sent = wechat.event(OPENID, "SCAN", key="counter7")
    assert sent.status == 200
    assert sent.content == "抱歉，系统出了点问题，请稍后再试。"
    record = next(r for r in caplog.records if r.name == "laoyou.wechat")
    assert record.exc_info is not None and "on fire" in str(record.exc_info[1])
    assert OPENID not in record.getMessage()  # the openid is masked in the log
    from app.members.wechat import member_for_openid

    assert member_for_openid(OPENID) is None  # the failed answer's write is undone
    assert len(_rows()) == 1  # the event is claimed: a retry replays the polite reply


def test_an_event_answer_error_is_raised_with_bot_raise_errors(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: Event) -> Reply:
        raise RuntimeError("boom")

    monkeypatch.setattr(events, "answer_event", broken)
    with pytest.raises(RuntimeError, match="boom"):
        WeChatServer(client, "plain").event(OPENID, "CLICK", key="points")


def test_a_failure_outside_the_answers_is_a_polite_reply(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.wechat import inbound

    def unavailable(*args: Any) -> Any:
        raise ConnectionError("the database went away")

    monkeypatch.setitem(app.config, "BOT_RAISE_ERRORS", False)
    monkeypatch.setattr(inbound, "answer_text", unavailable)
    with caplog.at_level(logging.ERROR, logger="laoyou.wechat"):
        sent = WeChatServer(client, "safe").text(OPENID, "积分")
    assert sent.status == 200
    assert sent.content == "抱歉，系统出了点问题，请稍后再试。"
    assert any(r.exc_info for r in caplog.records if r.name == "laoyou.wechat")


# --- the reply's XML and werobot's settings ----------------------------------------------


def test_reply_text_with_cdata_terminators_stays_one_text() -> None:
    xml = text_reply("o]]>id", ACCOUNT, "a ]]> b <c/> & ]]]]>", 1796600000)
    root = ET.fromstring(xml)
    assert root.findtext("Content") == "a ]]> b <c/> & ]]]]>"
    assert root.findtext("ToUserName") == "o]]>id"


def test_werobot_keeps_no_session_file(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_store: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    make_store("SH01")
    WeChatServer(client, "safe").text(OPENID, "帮助")
    assert robot().session_storage is None
    assert list(tmp_path.iterdir()) == []


def test_the_webhook_opens_no_session_and_sets_no_cookie(
    app: Flask, client: FlaskClient, make_store: Any
) -> None:
    make_store("SH01")
    client.set_cookie("session", "not-even-a-valid-signature")
    assert WeChatServer(client, "plain").text(OPENID, "帮助").content
    args, wire = WeChatServer(client, "plain").query(text_xml(OPENID, "帮助", next_msg_id()))
    response = _post(client, args, wire)
    assert "Set-Cookie" not in response.headers
    with app.test_request_context("/wechat", method="POST"):
        assert app.session_interface.open_session(app, request) is None
