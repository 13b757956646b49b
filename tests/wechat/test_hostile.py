"""Hostile and broken requests: each a quick 4xx that stores nothing, never a 500. In safe
mode the hostile document also arrives inside a correctly signed ciphertext."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.db import db
from app.messaging.models import InboundMessage
from app.wechat.transport import MAX_BODY_BYTES
from tests.wechat.support import ACCOUNT, WeChatServer, fields_xml, next_msg_id, text_xml

OPENID = "oHostile00000000000000001"

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]><xml><ToUserName>g</ToUserName><FromUserName>o</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content>"
    "<MsgId>1</MsgId></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>g</ToUserName><FromUserName>o</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>"
    "<MsgId>2</MsgId></xml>"
)
DTD_ONLY = '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd">' + text_xml(
    "o", "积分", "3"
)
DEEP = text_xml("o", "积分", "4").replace("</xml>", "<a>" * 5000 + "</a>" * 5000 + "</xml>")


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(InboundMessage)) or 0


def _doc(**fields: str) -> str:
    base = {
        "ToUserName": ACCOUNT,
        "FromUserName": OPENID,
        "CreateTime": "1796600000",
        "MsgType": "text",
        "Content": "积分",
        "MsgId": next_msg_id(),
    }
    return fields_xml({k: v for k, v in {**base, **fields}.items() if v != "-"})


HOSTILE = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": EXTERNAL_ENTITY,
    "external DTD": DTD_ONLY,
    "nested 5,000 deep": DEEP,
    "malformed": "<xml><ToUserName><![CDATA[g]]></ToUserName><MsgType>text",
    "not XML": "MsgType=text&Content=hi",
    "empty": "",
    "another root": "<message><MsgType>text</MsgType></message>",
    "a NUL character reference": _doc(Content="a&#0;b").replace("<![CDATA[a&#0;b]]>", "a&#0;b"),
    "no MsgType": _doc(MsgType="-"),
    "no FromUserName": _doc(FromUserName="-"),
    "an event without Event": _doc(MsgType="event", Content="-", MsgId="-"),
    "an event without CreateTime": _doc(
        MsgType="event", Event="subscribe", CreateTime="-", Content="-", MsgId="-"
    ),
    "a text without MsgId": _doc(MsgId="-"),
    "CreateTime no number": _doc(CreateTime="yesterday").replace(
        "<CreateTime><![CDATA[yesterday]]>", "<CreateTime>yesterday"
    ),
    "MsgId no number": _doc(MsgId="abc"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_xml_is_400_quickly_and_stores_nothing(
    wechat: WeChatServer, client: FlaskClient, name: str, make_store: Any
) -> None:
    make_store("SH01")
    body = HOSTILE[name]
    if wechat.mode == "safe" and body:
        # Inside the ciphertext, correctly signed: only the inner document is hostile.
        args, wire = wechat.query(body)
    else:
        args, _ = wechat.query(text_xml(OPENID, "积分", next_msg_id()))
        wire = body
    # CPU time, not the wall clock: the machine's other load must not fail the test.
    started = time.process_time()
    response = client.post(
        "/wechat", query_string=args, data=wire.encode(), content_type="text/xml"
    )
    elapsed = time.process_time() - started
    assert response.status_code == 400, response.get_data(as_text=True)
    # Quick: a parser that expanded entities or recursed would take seconds or minutes;
    # refusing takes milliseconds (the margin is for a busy machine: 0.5 s once failed there).
    assert elapsed < 1.0
    text = response.get_data(as_text=True)
    assert "root:" not in text and "lollol" not in text
    assert _count() == 0


def test_a_nul_byte_in_the_body_is_400(client: FlaskClient) -> None:
    plain = WeChatServer(client, "plain")
    args, wire = plain.query(text_xml(OPENID, "积分", next_msg_id()))
    response = client.post(
        "/wechat", query_string=args, data=wire.encode().replace(b"\xe7\xa7\xaf", b"\x00")
    )
    assert response.status_code == 400
    assert _count() == 0


def test_a_nul_in_the_query_is_400(client: FlaskClient) -> None:
    plain = WeChatServer(client, "plain")
    args, wire = plain.query(text_xml(OPENID, "积分", next_msg_id()))
    response = client.post("/wechat", query_string={**args, "openid": "o\x00"}, data=wire.encode())
    assert response.status_code == 400
    assert _count() == 0


def test_an_oversized_body_is_413_unread(wechat: WeChatServer, client: FlaskClient) -> None:
    huge = text_xml(OPENID, "积" * (MAX_BODY_BYTES // 3 + 10), next_msg_id())
    args, wire = wechat.query(huge)
    response = client.post("/wechat", query_string=args, data=wire.encode())
    assert response.status_code == 413
    assert _count() == 0


def test_an_oversized_body_without_a_length_is_413(client: FlaskClient) -> None:
    """A chunked body (no Content-Length, as gunicorn passes it on): read up to the limit."""
    plain = WeChatServer(client, "plain")
    args, wire = plain.query(text_xml(OPENID, "x" * (MAX_BODY_BYTES + 10), next_msg_id()))
    response = client.post(
        "/wechat",
        query_string=args,
        input_stream=io.BytesIO(wire.encode()),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert _count() == 0


def test_a_body_just_under_the_limit_is_answered(client: FlaskClient, make_store: Any) -> None:
    """The limit is no lower than it says: a long text is the engine's to refuse politely."""
    make_store("SH01")
    plain = WeChatServer(client, "plain")
    sent = plain.text(OPENID, "x" * (MAX_BODY_BYTES - 400))
    assert sent.status == 200
    assert "1,600" in sent.content  # the engine's too-long reply
    assert _count() == 1


@pytest.mark.parametrize("mode", ["compat", "safe"])
@pytest.mark.parametrize(
    "encrypt",
    ["not base64 !!", "QUJD", "A" * 44, "MTIzNDU2Nzg5MDEyMzQ1Ng=="],
)
def test_an_undecryptable_ciphertext_with_a_valid_signature_is_400(
    client: FlaskClient, mode: str, encrypt: str
) -> None:
    from tests.wechat.support import TOKEN, signature

    server = WeChatServer(client, mode)
    args, _ = server.query(text_xml(OPENID, "积分", next_msg_id()))
    args["msg_signature"] = signature(TOKEN, args["timestamp"], args["nonce"], encrypt)
    wire = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    response = client.post("/wechat", query_string=args, data=wire.encode())
    assert response.status_code == 400
    assert _count() == 0


def test_a_ciphertext_for_another_app_id_is_400(client: FlaskClient) -> None:
    from wechatpy.crypto import WeChatCrypto

    from tests.wechat.support import AES_KEY, TOKEN

    server = WeChatServer(client, "safe")
    server.crypto = WeChatCrypto(TOKEN, AES_KEY, "wx_another_app_0001")
    args, wire = server.query(text_xml(OPENID, "积分", next_msg_id()))
    response = client.post("/wechat", query_string=args, data=wire.encode())
    assert response.status_code == 400
    assert _count() == 0


def test_encrypt_type_aes_without_encrypt_is_400(client: FlaskClient) -> None:
    plain = WeChatServer(client, "plain")
    args, wire = plain.query(text_xml(OPENID, "积分", next_msg_id()))
    response = client.post(
        "/wechat",
        query_string={**args, "encrypt_type": "aes", "msg_signature": "0" * 40},
        data=wire.encode(),
    )
    assert response.status_code == 400
    assert _count() == 0


def test_other_methods_are_405(client: FlaskClient) -> None:
    assert client.put("/wechat").status_code == 405
    assert client.delete("/wechat").status_code == 405
