"""Signed, safe-mode WeChat text "积分" per second through ``/wechat``, beside two baselines.

Three WSGI apps are served the same way (gunicorn, 2 gthread workers x 8 threads,
127.0.0.1) and driven in the same run by the same client (16 keep-alive connections):

- ``laoyou``: ``POST /wechat?encrypt_type=aes`` of the real app, served from its
  production entry ``app.wsgi``, each request a new MsgId, encrypted and signed as
  WeChat does (``signature`` and ``msg_signature``): the signature checks, defusedxml,
  the AES decryption, the claim of the MsgId (an INSERT), the command engine answering
  积分 for the member bound to the openid (a level, 1,280 points, 200 expiring), the
  reply stored on the claimed row, one commit, the reply encrypted and signed.
- ``bare`` and ``insert``: the SMS benchmark's two baselines (``bench/_webhook.py``),
  a Flask endpoint answering fixed TwiML and the same plus one durable INSERT.

PostgreSQL only (``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else the local
``test`` database); a fresh schema is made and dropped. Ends with ``figure NAME VALUE
UNIT`` lines; ``wechat_webhook_ratio`` is the webhook's rate over the insert baseline's
(target at least 0.35, with ``wechat_webhook_p99_ms`` under 100 ms).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._webhook import (
    BASELINES,
    PG_URL,
    Request,
    baseline_requests,
    conninfo,
    laoyou_env,
    measure_as_asked,
    print_figures,
    print_header,
    setup,
    teardown,
    teardown_quietly,
    verify_rows,
)

WECHAT_TOKEN = "benchWechatToken2026"
APP_ID = "wxbench0123456789"
AES_KEY = "Nf3oYw1BIb0Tv6ZdkLHq2cPJ8Rsx7mGuEiA5o9KzVl4"
ACCOUNT = "gh_bench000001"
OPENID = "oBench0000000000000000000001"
#: WeChat's MsgIds are 64-bit numbers; every request of a run gets its own.
_MSG_IDS = itertools.count(time.time_ns() // 1000)


def wechat_env(schema: str) -> dict[str, str]:
    return {
        **laoyou_env(schema),
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
    }


def _crypt() -> Any:
    from werobot.crypto import MessageCrypt

    return MessageCrypt(WECHAT_TOKEN, AES_KEY, APP_ID)


def wechat_requests(prefix: str, count: int) -> list[Request]:
    """Safe-mode text messages as WeChat posts them, made before the clock starts."""
    from werobot.utils import get_signature

    crypt = _crypt()
    timestamp = str(int(time.time()))
    out = []
    for n in range(count):
        nonce = f"{prefix}{n}"
        msg_id = str(next(_MSG_IDS))
        plain = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[积分]]></Content><MsgId>{msg_id}</MsgId></xml>"
        )
        sealed = ET.fromstring(crypt.encrypt_message(plain, timestamp, nonce))
        encrypt = sealed.findtext("Encrypt") or ""
        query = urlencode(
            {
                "signature": get_signature(WECHAT_TOKEN, timestamp, nonce),
                "timestamp": timestamp,
                "nonce": nonce,
                "openid": OPENID,
                "encrypt_type": "aes",
                "msg_signature": sealed.findtext("MsgSignature") or "",
            }
        )
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()
        out.append((f"/wechat?{query}", body, {"Content-Type": "text/xml"}))
    return out


def bind(member: Any) -> None:
    from app.members.wechat import bind_openid

    bind_openid(OPENID, member, via="code")


def check_laoyou(samples: list[bytes]) -> None:
    """The webhook must have answered the command, encrypted and signed, not an error."""
    if not samples:
        raise RuntimeError("no sampled replies")
    crypt = _crypt()
    for body in samples:
        sealed = ET.fromstring(body)
        encrypt = sealed.findtext("Encrypt") or ""
        plain = crypt.decrypt_message(
            sealed.findtext("TimeStamp"),
            sealed.findtext("Nonce"),
            sealed.findtext("MsgSignature"),
            encrypt,
        ).decode()
        content = ET.fromstring(plain).findtext("Content") or ""
        if not all(w in content for w in ("1,280", "金卡", "到期")):
            raise RuntimeError(f"unexpected reply from the webhook: {content[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4000, help="per app, at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="per app, at most")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per app")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (every app)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (every app)")
    args = parser.parse_args()

    schema = f"bench_wechat_{os.getpid()}"
    try:
        setup(schema, wechat_env(schema), then=bind)
    except Exception as exc:  # PostgreSQL unreachable: say so, do not pretend.
        print(f"wechat_webhook: PostgreSQL setup failed ({exc}); skipped", file=sys.stderr)
        teardown_quietly(schema)
        return 1
    try:
        env = {"BENCH_CONNINFO": conninfo(PG_URL, schema), **wechat_env(schema)}
        run_id = uuid.uuid4().hex[:8]

        def batch(name: str, tag: str, count: int) -> list[Request]:
            if name == "laoyou":
                return wechat_requests(f"{run_id}{tag}", count)
            return baseline_requests(f"{run_id}{name}{tag}", count)

        measured = measure_as_asked(
            args,
            [*BASELINES, ("laoyou", "app.wsgi:app")],
            env,
            batch,
        )
        check_laoyou(measured.samples["laoyou"])
        results = measured.results
        verify_rows(schema, results["laoyou"]["n"], results["insert"]["n"])
    finally:
        teardown(schema)

    lao, bare, ins = results["laoyou"], results["bare"], results["insert"]
    print_header(args, results, "one safe-mode 积分: decrypt, engine, encrypt", 0.35, 100)
    print_figures("wechat_baseline_bare", bare, None)
    print_figures("wechat_baseline_insert", ins, None)
    print_figures("wechat_webhook", lao, ins["rps"])
    print(f"figure wechat_webhook_ratio_bare {lao['rps'] / bare['rps']:.3f} ratio")
    print(f"figure wechat_webhook_p99_vs_insert {lao['p99_ms'] / ins['p99_ms']:.3f} ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
