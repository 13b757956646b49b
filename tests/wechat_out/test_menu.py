"""``laoyou wechat menu push``: the default menu or one from a JSON file, through the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.messaging.providers.wechat_fake import FakeWechatApi
from app.wechat.menus import MENU_KEYS, default_menu

MENU = "/cgi-bin/menu/create"


def _keys(menu: dict[str, Any]) -> list[str]:
    found = []
    for button in menu["button"]:
        for item in button.get("sub_button", [button]):
            if item.get("type") == "click":
                found.append(item["key"])
    return found


def test_the_default_menu_is_pushed_with_chinese_labels(
    runner: Any, fake_wechat: FakeWechatApi
) -> None:
    result = runner.invoke(args=["wechat", "menu", "push"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "menu pushed: 我的积分 | 我的余额 | 会员"
    [sent] = [r for r in fake_wechat.received if r["path"] == MENU]
    assert json.loads(sent["raw"].decode("utf-8")) == {
        "button": [
            {"type": "click", "name": "我的积分", "key": "points"},
            {"type": "click", "name": "我的余额", "key": "balance"},
            {
                "name": "会员",
                "sub_button": [
                    {"type": "click", "name": "电子会员卡", "key": "ecard"},
                    {"type": "click", "name": "帮助", "key": "help"},
                ],
            },
        ]
    }
    assert "我的积分".encode() in sent["raw"]
    assert _keys(sent["body"]) == list(MENU_KEYS)


def test_the_menu_in_other_languages(app: Flask) -> None:
    """One menu serves every follower (Simplified Chinese); the labels translate all the same."""
    assert [b["name"] for b in default_menu("zh-Hant")["button"]] == [
        "我的積分",
        "我的餘額",
        "會員",
    ]
    assert [b["name"] for b in default_menu("en")["button"]] == [
        "My points",
        "My balance",
        "Membership",
    ]


def test_a_menu_from_a_json_file(runner: Any, fake_wechat: FakeWechatApi, tmp_path: Path) -> None:
    menu = {
        "button": [
            {"type": "click", "name": "积分", "key": "points"},
            {"type": "view", "name": "官网", "url": "https://shop.example.com/"},
        ]
    }
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["wechat", "menu", "push", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert fake_wechat.calls(MENU) == [menu]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON file"),
        ('{"menu": []}', '"button" list'),
        (json.dumps({"button": [{"type": "click", "name": "x", "key": "k"}] * 4}), "1 to 3"),
        (json.dumps({"button": [{"type": "click", "name": "会员积分查询", "key": "k"}]}), "bytes"),
        (json.dumps({"button": [{"type": "click", "name": "积分"}]}), "needs a key"),
        (json.dumps({"button": [{"type": "view", "name": "网", "url": "ftp://x"}]}), "http(s)"),
        (json.dumps({"button": [{"name": "会员", "sub_button": []}]}), "sub-buttons"),
        (json.dumps({"button": [{"name": "会员"}]}), "needs a type"),
    ],
)
def test_a_bad_menu_file_is_refused_before_wechat_sees_it(
    runner: Any, fake_wechat: FakeWechatApi, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "menu.json"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["wechat", "menu", "push", "--file", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert fake_wechat.requests == []


def test_wechat_refusing_the_menu_is_reported(runner: Any, fake_wechat: FakeWechatApi) -> None:
    fake_wechat.script("40016")
    result = runner.invoke(args=["wechat", "menu", "push"])
    assert result.exit_code == 1
    assert "refused the menu" in result.output and "40016" in result.output
    fake_wechat.script("-1")
    result = runner.invoke(args=["wechat", "menu", "push"])
    assert result.exit_code == 1
    assert "did not answer; try again" in result.output


def test_without_credentials_nothing_is_called(app: Flask, fake_wechat: FakeWechatApi) -> None:
    app.config.update(WECHAT_APP_ID="", WECHAT_APP_SECRET="")
    result = app.test_cli_runner().invoke(args=["wechat", "menu", "push"])
    assert result.exit_code == 1
    assert "WECHAT_APP_ID" in result.output
    assert fake_wechat.requests == []
