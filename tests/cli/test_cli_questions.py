"""``laoyou member questions``: the admin defines the questionnaire; the API validates by it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import db
from app.members.models import Question


def _questions() -> list[tuple[str, str, list[str], bool, bool]]:
    db.session.expire_all()
    return [
        (q.key, q.type, q.choices, q.required, q.active)
        for q in db.session.scalars(select(Question).order_by(Question.id))
    ]


def test_an_admin_defined_question_is_then_validated_by_type(runner: Any, api: Any) -> None:
    result = runner.invoke(
        args=["member", "questions", "add", "visit_time", "--label", "通常什么时候来店",
              "--type", "choice", "--choice", "工作日", "--choice", "周末"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _questions() == [("visit_time", "choice", ["工作日", "周末"], False, True)]

    bad = api.post(
        "/api/v1/members",
        json={"phone": "13800138000", "home_store": "SH01", "answers": {"visit_time": "深夜"}},
    )
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "invalid_request"
    good = api.post(
        "/api/v1/members",
        json={"phone": "13800138000", "home_store": "SH01", "answers": {"visit_time": "周末"}},
    )
    assert good.status_code == 201, good.get_json()
    assert good.get_json()["answers"] == {"visit_time": "周末"}

    listed = runner.invoke(args=["member", "questions", "list"])
    assert "visit_time" in listed.output and "工作日/周末" in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad key!", "--label", "x", "--type", "text"], "letters, digits"),
        (["likes", "--label", "x", "--type", "choice", "--choice", "only"], "two choices"),
        (["likes", "--label", "x", "--type", "text", "--choice", "a"], "only choice"),
        (["likes", "--label", " ", "--type", "text"], "needs a label"),
    ],
)
def test_a_bad_question_is_refused_and_writes_nothing(
    runner: Any, args: list[str], message: str
) -> None:
    result = runner.invoke(args=["member", "questions", "add", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(select(func.count(Question.id))) == 0


def test_a_key_keeps_its_type_and_retiring_keeps_answers(runner: Any) -> None:
    runner.invoke(
        args=["member", "questions", "add", "kids", "--label", "有孩子吗", "--type", "boolean"]
    )
    changed = runner.invoke(
        args=["member", "questions", "add", "kids", "--label", "x", "--type", "integer"]
    )
    assert changed.exit_code == 1 and "use a new key" in changed.output
    relabelled = runner.invoke(
        args=["member", "questions", "add", "kids", "--label", "家中有孩子吗", "--type", "boolean",
              "--required"]
    )  # fmt: skip
    assert relabelled.exit_code == 0, relabelled.output
    retired = runner.invoke(args=["member", "questions", "retire", "kids"])
    assert retired.exit_code == 0
    assert _questions() == [("kids", "boolean", [], True, False)]
    unknown = runner.invoke(args=["member", "questions", "retire", "nope"])
    assert unknown.exit_code == 1 and "no question" in unknown.output


def test_labels_in_each_language_and_kept_when_not_given(runner: Any) -> None:
    added = runner.invoke(
        args=["member", "questions", "add", "kids", "--label", "家中是否有孩子", "--type",
              "boolean", "--label-in", "en", "Children at home", "--label-in", "zh-Hant",
              "家中是否有孩子"]
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    required = runner.invoke(
        args=["member", "questions", "add", "kids", "--label", "家中是否有孩子", "--type",
              "boolean", "--required"]
    )  # fmt: skip
    assert required.exit_code == 0, required.output
    db.session.expire_all()
    question = db.session.scalars(select(Question)).one()
    assert question.required and question.label_in("en") == "Children at home"
    assert question.label_in("zh-Hans") == "家中是否有孩子"
    bad = runner.invoke(
        args=["member", "questions", "add", "kids", "--label", "x", "--type", "boolean",
              "--label-in", "fr", "Enfants"]
    )  # fmt: skip
    assert bad.exit_code == 2 and "fr" in bad.output
