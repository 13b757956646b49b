"""The e-card: a code that changes every minute (current, one step of grace, then expired),
the store station's lookup by it, and the signed page and its JSON refresh."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from app import clock
from app.cards.ecard import (
    LINK_MAX_AGE_SECONDS,
    code_for,
    current_step,
    link_token,
    lookup_code,
    seconds_left,
)
from app.cards.services import change_state, find_card, member_cards, resolve_card
from app.errors import NotFound
from app.members.wechat import bind_openid
from app.wechat.ecard import qr_svg
from tests.wechat_member.conftest import OPENID, PHONE

#: 10:00:00 UTC, the start of a minute.
T0 = dt.datetime(2027, 3, 1, 10, 0, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> Any:
    return clock.frozen(T0 + dt.timedelta(seconds=seconds))


def _card(member: Any) -> Any:
    return member_cards(member)[0]


def test_the_code_changes_every_minute_and_names_the_card(make_member: Any) -> None:
    card = _card(make_member(PHONE))
    with _at(0):
        code = code_for(card.id)
        assert len(code) == 20 and code.isdigit()
        assert card.number not in code and str(card.id) != code[-len(str(card.id)) :]
        assert seconds_left() == 60
    with _at(59.9):
        assert code_for(card.id) == code
        assert seconds_left() == 1
    with _at(60):
        assert code_for(card.id) != code
        assert current_step() == current_step(T0) + 1


def test_current_grace_and_expired_codes(make_member: Any) -> None:
    card = _card(make_member(PHONE))
    with _at(10):
        code = code_for(card.id)
        assert find_card(code) == card
    with _at(60 + 59):  # the next minute: one step of grace
        assert lookup_code(code).card == card
        assert find_card(code) == card
    with _at(120):
        found = lookup_code(code)
        assert (found.card, found.expired) == (None, True)
        assert find_card(code) is None
        with pytest.raises(NotFound, match="expired"):
            resolve_card(code)
    with _at(16 * 3600):  # still told apart from a forgery 16 hours on
        assert lookup_code(code).expired


def test_forged_codes_name_nothing(make_member: Any) -> None:
    card = _card(make_member(PHONE))
    other = _card(make_member("+8613900139000"))
    with _at(0):
        code = code_for(card.id)
        forged = [
            code[:-1] + str((int(code[-1]) + 1) % 10),  # one digit off
            code[:10] + code_for(other.id)[10:],  # another card's signature
            "0" * 20,
            "9" * 20,
        ]
        for ref in forged:
            found = lookup_code(ref)
            assert (found.card, found.expired) == (None, False), ref
            with pytest.raises(NotFound) as refused:
                resolve_card(ref)
            assert "expired" not in refused.value.message


def test_another_secret_key_makes_other_codes(app: Any, make_member: Any) -> None:
    card = _card(make_member(PHONE))
    with _at(0):
        code = code_for(card.id)
        app.config["SECRET_KEY"] = "another-secret-key-that-is-long-enough-1"
        try:
            assert code_for(card.id) != code
            assert lookup_code(code).card is None
        finally:
            app.config["SECRET_KEY"] = "test-secret-key-that-is-long-enough-000"


def test_a_replaced_cards_code_stops_working(make_member: Any) -> None:
    card = _card(make_member(PHONE))
    with _at(0):
        code = code_for(card.id)
        change_state(card, "replace")
        assert find_card(code) is None


def test_the_station_looks_a_member_up_by_the_code(api: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    card = _card(member)
    with _at(5):
        code = code_for(card.id)
        response = api.get(f"/api/v1/members/{code}")
        assert response.status_code == 200
        assert (response.json["id"], response.json["phone"]) == (member.id, PHONE)
        assert api.get(f"/api/v1/cards/{code}").json["card"]["number"] == card.number
    with _at(65):
        assert api.get(f"/api/v1/members/{code}").json["id"] == member.id
    with _at(125):
        expired = api.get(f"/api/v1/members/{code}")
        assert expired.status_code == 404
        assert expired.json["error"]["code"] == "not_found"
        assert "expired" in expired.json["error"]["message"]
        assert "expired" in api.get(f"/api/v1/cards/{code}").json["error"]["message"]
        forged = api.get(f"/api/v1/members/{code[:-1]}{(int(code[-1]) + 3) % 10}")
        assert forged.status_code == 404
        assert forged.json["error"]["code"] == "not_found"
        assert "expired" not in forged.json["error"]["message"]


def test_the_ecard_command_links_to_a_page_of_the_current_code(
    wechat: Any, client: Any, make_member: Any
) -> None:
    member = make_member(PHONE)
    card = _card(member)
    bind_openid(OPENID, member, via="code")
    with _at(30):
        reply = wechat(OPENID).text("电子卡")
        link = re.search(r"http://127\.0\.0\.1:5000(/wechat/ecard/\S+)", reply)
        assert link, reply
        assert reply.endswith("卡上的码每分钟更新，请在收银台出示。链接 10 分钟内有效。")
        page = client.get(link.group(1))
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        html = page.get_data(as_text=True)
        code = code_for(card.id)
        assert " ".join(code[i : i + 4] for i in range(0, 20, 4)) in html
        assert f"尾号 {card.number[-4:]} 的卡" in html
        assert "<svg" in html and "我的电子会员卡" in html
        assert card.number not in html

        refreshed = client.get(f"{link.group(1)}/code")
        assert refreshed.status_code == 200
        assert refreshed.json["code"] == code and refreshed.json["seconds_left"] == 30
        # The QR drawn is the QR of the current code (qrcode draws the same code the same way).
        assert refreshed.json["svg"] == qr_svg(code)
        assert qr_svg(code) in html
    with _at(61):
        later = client.get(f"{link.group(1)}/code").json
        assert later["code"] == code_for(card.id) != code
        assert later["svg"].startswith("<svg")


def test_the_page_is_in_the_members_language(client: Any, make_member: Any) -> None:
    card = _card(make_member(PHONE, language="en"))
    with _at(0):
        html = client.get(f"/wechat/ecard/{link_token(card)}").get_data(as_text=True)
    assert "My e-card" in html and f"Card ending {card.number[-4:]}" in html
    assert 'lang="en"' in html


def test_an_old_or_forged_link_is_refused(client: Any, make_member: Any) -> None:
    card = _card(make_member(PHONE))
    with _at(0):
        token = link_token(card)
    with _at(LINK_MAX_AGE_SECONDS + 1):
        page = client.get(f"/wechat/ecard/{token}")
        assert page.status_code == 410
        assert code_for(card.id) not in page.get_data(as_text=True)
        refresh = client.get(f"/wechat/ecard/{token}/code")
        assert refresh.status_code == 410
        assert refresh.json["error"]["code"] == "link_expired"
    with _at(LINK_MAX_AGE_SECONDS - 1):
        assert client.get(f"/wechat/ecard/{token}").status_code == 200
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        assert client.get(f"/wechat/ecard/{forged}").status_code == 403
        assert client.get(f"/wechat/ecard/{forged}/code").json["error"]["code"] == "link_invalid"
        assert client.get("/wechat/ecard/nonsense").status_code == 403
        assert client.get("/wechat/ecard/%00").status_code == 400
        assert client.get("/wechat/ecard/" + "a" * 5000).status_code in (403, 414)


def test_a_twenty_digit_barcode_still_finds_its_card(make_member: Any) -> None:
    from app.cards.services import add_medium

    card = _card(make_member(PHONE))
    add_medium(card, "barcode", "12345678901234567890")
    with _at(0):
        assert find_card("12345678901234567890") == card
