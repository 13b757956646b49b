"""WeChat's side of the webhook, for tests: requests signed (and in safe mode encrypted) as
WeChat's servers make them, replies read (and decrypted) as WeChat reads them.

The crypto here is wechatpy's, a second implementation independent of the werobot code
the service uses, so a test that passes shows the two agree on the wire.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from wechatpy.crypto import WeChatCrypto

TOKEN = "laoyouWechatToken2026"
APP_ID = "wx1234567890abcdef"
#: 43 characters, as the official account's console shows it (32 bytes of AES key).
AES_KEY = "Nf3oYw1BIb0Tv6ZdkLHq2cPJ8Rsx7mGuEiA5o9KzVl4"
ACCOUNT = "gh_laoyou000001"
MODES = ("plain", "compat", "safe")

_ids = itertools.count(int(time.time()) * 1000)


def wechat_settings(**extra: Any) -> dict[str, Any]:
    return {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        **extra,
    }


def signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def next_msg_id() -> str:
    return str(next(_ids))


def text_xml(openid: str, content: str, msg_id: str, create_time: int | None = None) -> str:
    return fields_xml(
        {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": str(create_time or int(time.time())),
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
        }
    )


def event_xml(
    openid: str, event: str, key: str = "", ticket: str = "", create_time: int = 0
) -> str:
    fields = {
        "ToUserName": ACCOUNT,
        "FromUserName": openid,
        "CreateTime": str(create_time or int(time.time())),
        "MsgType": "event",
        "Event": event,
    }
    if key:
        fields["EventKey"] = key
    if ticket:
        fields["Ticket"] = ticket
    return fields_xml(fields)


def fields_xml(fields: dict[str, str]) -> str:
    inner = "".join(
        f"<{name}>{value}</{name}>" if value.isdigit() else f"<{name}>{cdata(value)}</{name}>"
        for name, value in fields.items()
    )
    return f"<xml>{inner}</xml>"


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class Sent:
    status: int
    content_type: str
    body: str
    #: The reply's fields (decrypted in safe and compatible modes); {} for "success".
    fields: dict[str, str]

    @property
    def content(self) -> str:
        """The text the follower reads ("" when the answer was silent)."""
        return self.fields.get("Content", "")


class WeChatServer:
    """Posts to ``/wechat`` as WeChat does in ``mode``: plain, compat(ible) or safe."""

    def __init__(self, client: FlaskClient, mode: str = "plain") -> None:
        assert mode in MODES
        self.client = client
        self.mode = mode
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

    def query(
        self, body: str, *, timestamp: str | None = None, nonce: str = "n0nce42"
    ) -> tuple[dict[str, str], str]:
        """The query string and body WeChat sends for the plaintext message ``body``."""
        timestamp = timestamp or str(int(time.time()))
        args = {
            "signature": signature(TOKEN, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": _openid_of(body),
        }
        if self.mode == "plain":
            return args, body
        sealed = ET.fromstring(self.crypto.encrypt_message(body, nonce, timestamp))
        encrypt = sealed.findtext("Encrypt") or ""
        args.update(encrypt_type="aes", msg_signature=sealed.findtext("MsgSignature") or "")
        if self.mode == "safe":
            wire = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
            )
        else:  # compatible: the plaintext fields and the ciphertext side by side
            wire = body.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        return args, wire

    def post(self, body: str, **kwargs: Any) -> Sent:
        args, wire = self.query(body, **kwargs)
        response = self.client.post(
            "/wechat", query_string=args, data=wire.encode(), content_type="text/xml"
        )
        return self.read(response)

    def read(self, response: Any) -> Sent:
        body = response.get_data(as_text=True)
        fields: dict[str, str] = {}
        if response.status_code == 200 and body != "success":
            root = ET.fromstring(body)
            if self.mode != "plain":
                # As WeChat checks a reply: its own MsgSignature, TimeStamp and Nonce.
                plain = self.crypto.decrypt_message(
                    body,
                    root.findtext("MsgSignature"),
                    root.findtext("TimeStamp"),
                    root.findtext("Nonce"),
                )
                root = ET.fromstring(plain)
            fields = {child.tag: child.text or "" for child in root}
        return Sent(response.status_code, response.content_type, body, fields)

    def text(self, openid: str, content: str, msg_id: str | None = None) -> Sent:
        return self.post(text_xml(openid, content, msg_id or next_msg_id()))

    def event(self, openid: str, event: str, **kwargs: Any) -> Sent:
        return self.post(event_xml(openid, event, **kwargs))


def _openid_of(body: str) -> str:
    try:
        return ET.fromstring(body).findtext("FromUserName") or ""
    except ET.ParseError:
        return ""
