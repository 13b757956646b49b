"""The message-text pages: the list, editing with a live preview, reset, refusals, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.messaging.alerts import TRANSACTION_TEXTS
from app.texts.models import MessageText
from app.texts.services import msgid_key

CHECKOUT = TRANSACTION_TEXTS["checkout"]
KEY = msgid_key(CHECKOUT)
MINE = (
    "【老友】尾号%(last4)s的卡在%(store)s消费%(amount)s元（%(time)s），余额%(balance)s元，"
    "积分%(points)s，共%(points_total)s分。"
)


def _rows() -> list[tuple[str, str]]:
    return [(r.language, r.text) for r in db.session.scalars(select(MessageText))]


def test_the_list_shows_each_group_in_three_languages_and_marks_a_changed_text(
    signed_in: Any,
) -> None:
    admin = signed_in("admin")
    admin.post(f"/admin/texts/{KEY}", {"language": "zh-Hans", "text": MINE})

    page = admin.get("/admin/texts").text

    for heading in ("提醒", "机器人回复", "其他消息"):
        assert heading in page
    assert "卡号尾号" in page or "尾號" in page  # the catalogue's Chinese alerts
    assert "Card *%(last4)s: spent" in page  # the English catalogue text
    assert "已修改" in page and "【老友】尾号" in page
    assert "管理员工和权限" not in page  # panel words are not members' texts


def test_the_list_filters_by_group_and_words(signed_in: Any) -> None:
    admin = signed_in("admin")

    alerts = admin.get("/admin/texts?group=alerts").text
    assert "spent %(amount)s" in alerts and 'id="group-replies"' not in alerts
    found = admin.get("/admin/texts?q=recharged").text
    assert "recharged %(amount)s" in found and "spent %(amount)s" not in found
    assert "没有匹配的文案" in admin.get("/admin/texts?q=nothing-like-this").text


def test_an_admin_saves_a_text_sees_it_and_resets_it_audited(signed_in: Any) -> None:
    admin = signed_in("admin")
    assert admin.get(f"/admin/texts/{KEY}").status_code == 200

    saved = admin.post(f"/admin/texts/{KEY}", {"language": "zh-Hans", "text": MINE})

    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/admin/texts/{KEY}?saved=zh-Hans#zh-Hans")
    assert _rows() == [("zh-Hans", MINE)]
    page = admin.get(f"/admin/texts/{KEY}").text
    assert "恢复为内置文案" in page and "【老友】尾号" in page

    reset = admin.post(f"/admin/texts/{KEY}/reset", {"language": "zh-Hans"})

    assert reset.status_code == 302 and _rows() == []
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "message_text").order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_kind, e.actor) for e in entries] == [
        ("message_text.update", "staff", "admin1"),
        ("message_text.reset", "staff", "admin1"),
    ]
    assert entries[0].before == {"msgid": CHECKOUT, "text": None}
    assert entries[0].after == {"msgid": CHECKOUT, "text": MINE}
    assert entries[1].before["text"] == MINE


def test_a_text_missing_a_placeholder_is_refused_on_the_page_and_changes_nothing(
    signed_in: Any,
) -> None:
    admin = signed_in("admin")

    refused = admin.post(
        f"/admin/texts/{KEY}", {"language": "zh-Hans", "text": "消费%(amount)s元 %(name)s"}
    )

    assert refused.status_code == 400
    assert "缺少占位符" in refused.text and "%(balance)s" in refused.text
    assert "未知的占位符：%(name)s" in refused.text
    assert "消费%(amount)s元 %(name)s" in refused.text  # what was typed stays in the box
    assert _rows() == []


def test_bad_input_is_a_clear_4xx_and_changes_nothing(signed_in: Any) -> None:
    admin = signed_in("admin")

    assert (
        admin.post(f"/admin/texts/{KEY}", {"language": "zh-Hans", "text": "a\x00b"}).status_code
        == 400
    )
    assert admin.post(f"/admin/texts/{KEY}", {"language": "fr", "text": MINE}).status_code == 400
    assert admin.post("/admin/texts/nosuchkey", {"language": "en", "text": MINE}).status_code == 404
    assert admin.get("/admin/texts/nosuchkey").status_code == 404
    huge = admin.post(f"/admin/texts/{KEY}", {"language": "en", "text": MINE * 100})
    assert huge.status_code == 400 and "1000" in huge.text
    assert admin.post(f"/admin/texts/{KEY}/reset", {"language": "xx"}).status_code == 400
    assert _rows() == []


def test_the_preview_renders_sample_values_in_the_language(signed_in: Any) -> None:
    admin = signed_in("admin")

    shown = admin.post(f"/admin/texts/{KEY}/preview", {"language": "zh-Hans", "text": MINE})
    english = admin.post(
        f"/admin/texts/{KEY}/preview",
        {"language": "en", "text": CHECKOUT.replace("spent", "paid")},
    )

    assert shown.status_code == 200
    assert shown.get_json() == {
        "ok": True,
        "text": "【老友】尾号8888的卡在静安店消费128.00元（12-07 14:30），余额372.00元，"
        "积分+128，共1024分。",
    }
    assert english.get_json()["text"].startswith("Card *8888: paid 128.00 yuan at Jing'an,")
    assert _rows() == []  # a preview saves nothing


def test_the_preview_says_why_a_text_would_be_refused(signed_in: Any) -> None:
    admin = signed_in("admin")

    answer = admin.post(f"/admin/texts/{KEY}/preview", {"language": "zh-Hans", "text": "消费"})

    assert answer.status_code == 400
    assert answer.get_json()["ok"] is False
    assert "缺少占位符" in answer.get_json()["error"]


def test_a_marketer_reads_the_texts_without_a_form(signed_in: Any) -> None:
    marketer = signed_in("marketer")

    page = marketer.get(f"/admin/texts/{KEY}").text

    assert "<textarea" not in page and "静安店" in page  # the preview of the built-in text
    assert (
        marketer.post(f"/admin/texts/{KEY}", {"language": "en", "text": CHECKOUT}).status_code
        == 403
    )
    assert "消息文案" in marketer.get("/admin/").text  # the room is in the navigation
    assert "消息文案" not in signed_in("cashier").get("/admin/").text
