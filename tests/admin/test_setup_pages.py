"""The set-up pages: stores and regions, API keys (shown once, revoked), the questionnaire."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.auth.services import find_staff, set_overrides
from app.db import db
from app.members.models import Question
from app.stores.models import Store
from tests.admin.conftest import Staff


def _audit(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _secret(html: str) -> str:
    match = re.search(r'<code id="new-secret">([^<]+)</code>', html)
    assert match, "the page shows no new key"
    return match.group(1)


def _new_key(staff: Staff, form: dict[str, str]) -> Any:
    """Send the new-key form as the page gives it, with its one-time token."""
    page = staff.get("/admin/api-keys").text
    match = re.search(r'name="once" value="([^"]+)"', page)
    assert match, "the page has no new-key form"
    return staff.post("/admin/api-keys", {"once": match.group(1), **form})


def _manager_with(signed_in: Any, *permissions: str) -> Staff:
    """A store manager of SH01 granted ``permissions`` on top of the role's."""
    manager = signed_in("store_manager", username="manager1", store="SH01")
    person = find_staff("manager1")
    assert person is not None
    set_overrides(person, dict.fromkeys(permissions, True))
    db.session.flush()
    return manager


# --- stores and regions ----------------------------------------------------------------


def test_an_admin_creates_a_store_and_sees_its_member_count(
    signed_in: Any, make_member: Any, make_store: Any
) -> None:
    admin = signed_in("admin", username="boss")
    make_store("SH01")
    make_member(phone="+8613800000001", store="SH01")
    make_member(phone="+8613800000002", store="SH01")

    answer = admin.post("/admin/stores", {"code": "bj01", "name": "北京国贸店", "region": "华北"})

    assert answer.status_code == 302
    page = admin.get(answer.headers["Location"]).text
    assert "BJ01" in page and "北京国贸店" in page and "华北" in page
    row = re.search(r"<code>SH01</code>.*?</tr>", page, re.S)
    assert row and "<td>2</td>" in row.group(0)
    entry = _audit("store.create")[-1]
    assert (entry.actor_kind, entry.actor, entry.object_id) == ("staff", "boss", "BJ01")
    assert entry.after == {"name": "北京国贸店", "region": "华北"}


def test_an_admin_renames_a_store_and_moves_its_region(signed_in: Any, make_store: Any) -> None:
    admin = signed_in("admin", username="boss")
    make_store("SH01")
    assert "SH01" in admin.get("/admin/stores/sh01").text

    answer = admin.post("/admin/stores/SH01", {"name": "上海新天地店", "region": "华东二区"})

    assert answer.status_code == 302
    store = db.session.scalar(select(Store).where(Store.code == "SH01"))
    assert store is not None and (store.name, store.region) == ("上海新天地店", "华东二区")
    entry = _audit("store.update")[-1]
    assert entry.object_id == "SH01" and entry.after == {
        "name": "上海新天地店",
        "region": "华东二区",
    }
    assert set(entry.before or {}) == {"name", "region"}


def test_saving_a_store_unchanged_writes_no_audit_entry(signed_in: Any, make_store: Any) -> None:
    admin = signed_in("admin")
    store = make_store("SH01")

    admin.post("/admin/stores/SH01", {"name": store.name, "region": store.region})

    assert _audit("store.update") == []


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"code": "SH01", "name": "又一家", "region": "华东"}, "A store with that code exists"),
        ({"code": "上海", "name": "x", "region": "华东"}, "A store code has up to 32"),
        ({"code": "X" * 33, "name": "x", "region": "华东"}, "A store code has up to 32"),
        ({"code": "SH09", "name": "x" * 121, "region": "华东"}, "at most 120 characters"),
        ({"code": "SH09", "name": "x", "region": "r" * 65}, "at most 64 characters"),
        ({"code": "SH09", "name": " ", "region": "华东"}, "A store needs a name"),
        ({"code": "SH09", "name": "x", "region": ""}, "A store needs a region"),
    ],
)
def test_bad_store_input_is_refused_with_a_reason_and_changes_nothing(
    signed_in: Any, make_store: Any, form: dict[str, str], says: str
) -> None:
    admin = signed_in("admin", language="en")
    make_store("SH01")
    stores_before, entries_before = _count(Store), _count(AuditEntry)

    answer = admin.post("/admin/stores", form)

    assert answer.status_code == 400
    assert says in answer.text
    assert (_count(Store), _count(AuditEntry)) == (stores_before, entries_before)


def test_a_nul_in_a_store_form_is_refused(signed_in: Any, make_store: Any) -> None:
    admin = signed_in("admin")
    make_store("SH01")

    answer = admin.post("/admin/stores/SH01", {"name": "bad\x00name", "region": "华东"})

    assert answer.status_code == 400
    assert db.session.scalar(select(Store.name).where(Store.code == "SH01")) != "bad\x00name"


def test_a_form_without_its_csrf_token_is_refused(app: Flask, signed_in: Any) -> None:
    admin = signed_in("admin")

    answer = admin.client.post("/admin/stores", data={"code": "BJ01", "name": "x", "region": "y"})

    assert answer.status_code == 400
    assert _count(Store) == 0


def test_an_unknown_store_is_404(signed_in: Any) -> None:
    assert signed_in("admin").get("/admin/stores/NOPE").status_code == 404


def test_a_store_manager_granted_stores_sees_and_edits_only_their_store(
    signed_in: Any, make_store: Any
) -> None:
    make_store("SH02", name="苏州店")
    manager = _manager_with(signed_in, "stores.manage")

    listing = manager.get("/admin/stores").text
    refused = manager.post("/admin/stores/SH02", {"name": "改名", "region": "华东"})
    create = manager.post("/admin/stores", {"code": "SH03", "name": "x", "region": "y"})
    own = manager.post("/admin/stores/SH01", {"name": "我的店", "region": "华东"})

    assert "SH01" in listing and "SH02" not in listing and 'name="code"' not in listing
    assert refused.status_code == 403 and "无权访问" in refused.text
    assert create.status_code == 403
    assert own.status_code == 302
    names = {code: name for code, name in db.session.execute(select(Store.code, Store.name))}
    assert names == {"SH01": "我的店", "SH02": "苏州店"}


# --- API keys ------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_works_against_the_api(
    app: Flask, signed_in: Any, make_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_store("SH01", name="上海南京路店")
    admin = signed_in("admin", username="boss")
    caplog.set_level(logging.DEBUG)

    created = _new_key(admin, {"store": "SH01", "label": "前台收银"})

    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    secret = _secret(created.text)
    assert "only time it is shown" in created.text or "只显示这一次" in created.text
    stores = app.test_client().get("/api/v1/stores", headers={"Authorization": f"Bearer {secret}"})
    assert stores.status_code == 200 and "上海南京路店" in stores.text
    # Never again: not on the listing, not in the audit log, not in any log line.
    assert secret not in admin.get("/admin/api-keys").text
    entry = _audit("api_key.create")[-1]
    assert (entry.actor, entry.after) == ("boss", {"store": "SH01", "label": "前台收银"})
    every_entry = json.dumps(
        [(e.object_id, e.before, e.after) for e in db.session.scalars(select(AuditEntry))]
    )
    assert secret not in every_entry and secret[12:] not in every_entry
    assert secret not in caplog.text


def test_the_same_form_sent_twice_makes_one_key(signed_in: Any, make_store: Any) -> None:
    make_store("SH01")
    admin = signed_in("admin")
    page = admin.get("/admin/api-keys").text
    match = re.search(r'name="once" value="([^"]+)"', page)
    assert match
    form = {"once": match.group(1), "store": "SH01"}

    first = admin.post("/admin/api-keys", form)
    again = admin.post("/admin/api-keys", form)  # a reload of the page that showed the key

    assert first.status_code == 200 and _secret(first.text)
    assert again.status_code == 409 and 'id="new-secret"' not in again.text
    assert _count(ApiKey) == 1


def test_the_listing_shows_prefix_store_label_and_use(
    app: Flask, signed_in: Any, make_store: Any
) -> None:
    make_store("SH01")
    admin = signed_in("admin")
    secret = _secret(_new_key(admin, {"store": "SH01", "label": "POS-A"}).text)
    app.test_client().get("/api/v1/stores", headers={"Authorization": f"Bearer {secret}"})

    listing = admin.get("/admin/api-keys").text

    row = re.search(rf"<code>{re.escape(secret[:12])}…</code>.*?</tr>", listing, re.S)
    assert row, listing
    assert "SH01" in row.group(0) and "POS-A" in row.group(0)
    assert "从未" not in row.group(0)  # used once: a time, not "never"


def test_revoking_asks_first_then_the_api_refuses_the_key(
    app: Flask, signed_in: Any, make_store: Any
) -> None:
    make_store("SH01")
    admin = signed_in("admin", username="boss")
    secret = _secret(_new_key(admin, {"store": "SH01"}).text)
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == secret[:12]))
    assert key is not None

    confirm = admin.get(f"/admin/api-keys/{key.id}/revoke")
    unconfirmed = admin.post(f"/admin/api-keys/{key.id}/revoke", {})
    assert confirm.status_code == unconfirmed.status_code == 200
    assert 'name="confirm"' in confirm.text and key.revoked_at is None

    revoked = admin.post(f"/admin/api-keys/{key.id}/revoke", {"confirm": "yes"})

    assert revoked.status_code == 302
    db.session.refresh(key)
    assert key.revoked_at is not None
    answer = app.test_client().get("/api/v1/stores", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401
    entry = _audit("api_key.revoke")[-1]
    assert (entry.actor, entry.object_id) == ("boss", secret[:12])
    assert secret not in json.dumps([entry.before, entry.after])


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"store": "NOPE"}, "Choose one of the stores listed"),
        ({"store": ""}, "Choose one of the stores listed"),
        ({"store": "SH01", "label": "x" * 121}, "at most 120 characters"),
    ],
)
def test_bad_key_input_is_refused_and_makes_no_key(
    signed_in: Any, make_store: Any, form: dict[str, str], says: str
) -> None:
    make_store("SH01")
    admin = signed_in("admin", language="en")

    answer = _new_key(admin, form)

    assert answer.status_code == 400 and says in answer.text
    assert _count(ApiKey) == 0 and _audit("api_key.create") == []


def test_a_store_manager_granted_keys_works_only_with_their_store(
    signed_in: Any, make_store: Any
) -> None:
    make_store("SH02")
    admin = signed_in("admin")
    other = _secret(_new_key(admin, {"store": "SH02", "label": "theirs"}).text)
    other_key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == other[:12]))
    assert other_key is not None
    manager = _manager_with(signed_in, "api_keys.manage")

    listing = manager.get("/admin/api-keys").text
    for_other = _new_key(manager, {"store": "SH02"})
    revoke_other = manager.post(f"/admin/api-keys/{other_key.id}/revoke", {"confirm": "yes"})
    own = _new_key(manager, {"store": "SH01"})

    assert "theirs" not in listing and 'value="SH02"' not in listing
    assert for_other.status_code == 400
    db.session.refresh(other_key)
    assert revoke_other.status_code == 403 and other_key.revoked_at is None
    assert own.status_code == 200 and _secret(own.text).startswith("lyk_")
    assert db.session.scalar(select(func.count()).where(ApiKey.store_id == other_key.store_id)) == 1


# --- the member questionnaire --------------------------------------------------------------


def test_an_admin_adds_a_choice_question_and_retires_it(signed_in: Any) -> None:
    admin = signed_in("admin", username="boss")

    added = admin.post(
        "/admin/questions",
        {
            "key": "favourite_dish",
            "label": "最喜欢的菜系",
            "type": "choice",
            "choices": "川菜\r\n粤菜，潮汕\r\n\r\n湘菜",
            "required": "yes",
        },
    )

    assert added.status_code == 302
    question = db.session.scalar(select(Question).where(Question.key == "favourite_dish"))
    assert question is not None and question.choices == ["川菜", "粤菜，潮汕", "湘菜"]
    assert question.required and question.active
    assert "粤菜，潮汕" in admin.get("/admin/questions").text
    entry = _audit("question.define")[-1]
    assert (entry.actor, entry.object_id) == ("boss", "favourite_dish")
    assert entry.after is not None and entry.after["type"] == "choice"

    retired = admin.post("/admin/questions/favourite_dish/retire", {})

    assert retired.status_code == 302
    db.session.refresh(question)
    assert question.active is False
    assert "已停用" in admin.get("/admin/questions").text
    assert _audit("question.retire")[-1].after == {"active": False}


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"key": "喜好", "label": "x", "type": "text"}, "A question key has up to 64"),
        ({"key": "k" * 65, "label": "x", "type": "text"}, "A question key has up to 64"),
        ({"key": "k", "label": "x" * 201, "type": "text"}, "at most 200 characters"),
        ({"key": "k", "label": "x", "type": "colour"}, "Choose one of the question types"),
        ({"key": "k", "label": "x", "type": "choice", "choices": "one"}, "at least two choices"),
        ({"key": "k", "label": "x", "type": "choice", "choices": "a\nb\na"}, "listed twice"),
        ({"key": "k", "label": "x", "type": "text", "choices": "a\nb"}, "Only a choice question"),
        (
            {"key": "k", "label": "x", "type": "choice", "choices": "\n".join(map(str, range(51)))},
            "At most 50 choices",
        ),
        ({"key": "shoe_size", "label": "x", "type": "text"}, "another type"),
    ],
)
def test_bad_question_input_is_refused_and_changes_nothing(
    app: Flask, signed_in: Any, form: dict[str, str], says: str
) -> None:
    from app.members.services import define_question

    define_question("shoe_size", "鞋码", "integer")
    admin = signed_in("admin", language="en")
    before = [(q.key, q.label, q.type) for q in db.session.scalars(select(Question))]
    entries = len(_audit("question.define"))

    answer = admin.post("/admin/questions", form)

    assert answer.status_code == 400 and says in answer.text
    assert [(q.key, q.label, q.type) for q in db.session.scalars(select(Question))] == before
    assert len(_audit("question.define")) == entries


def test_retiring_an_unknown_question_is_404(signed_in: Any) -> None:
    assert signed_in("admin").post("/admin/questions/nope/retire", {}).status_code == 404


def test_a_marketer_reads_the_questionnaire_but_cannot_change_it(signed_in: Any) -> None:
    from app.members.services import define_question

    define_question("shoe_size", "鞋码", "integer")
    marketer = signed_in("marketer")

    page = marketer.get("/admin/questions")
    add = marketer.post("/admin/questions", {"key": "k", "label": "x", "type": "text"})
    retire = marketer.post("/admin/questions/shoe_size/retire", {})

    assert page.status_code == 200 and "鞋码" in page.text
    assert 'name="key"' not in page.text and "question_retire" not in page.text
    assert add.status_code == retire.status_code == 403
    assert db.session.scalar(select(Question.active).where(Question.key == "shoe_size"))


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-Hans", ["门店", "API 密钥", "会员问卷"]),
        ("zh-Hant", ["門店", "API 金鑰", "會員問卷"]),
        ("en", ["Stores", "API keys", "Questionnaire"]),
    ],
)
def test_the_rooms_are_in_the_navigation_in_each_language(
    signed_in: Any, language: str, words: list[str]
) -> None:
    page = signed_in("admin", language=language).get("/admin/").text
    for word in words:
        assert word in page


def test_a_question_reads_in_each_staff_language(signed_in: Any, make_member: Any) -> None:
    """The questionnaire page, a member's page and their form say the question in the staff
    member's language; a language left empty says it as asked."""
    admin = signed_in("admin", username="boss")
    added = admin.post(
        "/admin/questions",
        {
            "key": "favourite_dish",
            "label": "最喜欢的菜系",
            "label_zh_hant": "最喜歡的菜系",
            "label_en": "Favourite cuisine",
            "type": "text",
        },
    )
    assert added.status_code == 302
    assert _audit("question.define")[-1].after["label_en"] == "Favourite cuisine"
    member = make_member(answers={"favourite_dish": "川菜"})
    pages = ("/admin/questions", f"/admin/members/{member.id}", f"/admin/members/{member.id}/edit")
    staff = {
        language: signed_in("admin", username=f"staff-{language}", language=language)
        for language in ("zh-Hans", "zh-Hant", "en")
    }
    for language, shown in (
        ("zh-Hans", "最喜欢的菜系"),
        ("zh-Hant", "最喜歡的菜系"),
        ("en", "Favourite cuisine"),
    ):
        for page in pages:
            answer = staff[language].get(page)
            assert answer.status_code == 200 and shown in answer.text, (language, page)

    # Sent again without its translations: every language reads the question as asked.
    admin.post(
        "/admin/questions", {"key": "favourite_dish", "label": "最喜欢的菜系", "type": "text"}
    )
    english = staff["en"].get(f"/admin/members/{member.id}").text
    assert "最喜欢的菜系" in english and "Favourite cuisine" not in english


def test_a_translated_label_over_the_limit_is_refused(signed_in: Any) -> None:
    admin = signed_in("admin", language="en")
    form = {"key": "k", "label": "x", "label_en": "y" * 201, "type": "text"}
    answer = admin.post("/admin/questions", form)
    assert answer.status_code == 400 and "at most 200 characters" in answer.text
    assert db.session.scalars(select(Question)).all() == []
