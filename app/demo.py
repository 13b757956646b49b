"""``laoyou demo``: a small believable chain to try Laoyou with, loaded idempotently.

``load_demo()`` calls one function per kind of data, in dependency order. Each
adds only what is missing (stores by code, levels by rank, questions by key,
members by phone, anonymous cards by their demo barcode), and the cards and
card states of a member are made only when the member is new, so a second run
adds nothing. ``_history()`` is where the ledger adds transactions (gift card
preloads, recharges, checkouts) with idempotency keys so it stays repeatable.

The last line is the demo API key of store SH01. In development it stays the
same across runs (kept in ``instance/demo_api_key``), so a script set up with it
keeps working; elsewhere, or once it is revoked, older keys labelled ``demo`` are
revoked and a new one is made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection, inspect, select

from app.auth.models import ApiKey
from app.auth.services import authenticate, create_api_key, revoke_api_key
from app.cards.models import Card, CardEvent, CardMedium
from app.cards.services import (
    add_medium,
    change_state,
    enroll,
    issue_card,
    member_cards,
    replace_card,
    set_pin,
)
from app.cli.support import cli_unit_of_work
from app.clock import local_today, now
from app.db import Base, db
from app.errors import Unauthorized
from app.members.models import Level, Member, Question
from app.stores.models import Store
from app.stores.services import create_store

DEMO_STORE = "SH01"
DEMO_KEY_LABEL = "demo"
ACTOR = "demo"

STORES = (
    ("SH01", "上海南京路店", "华东"),
    ("SH02", "上海徐家汇店", "华东"),
    ("BJ01", "北京三里屯店", "华北"),
)

#: name, rank, discount (bp of list price), points multiplier (bp), growth threshold
LEVELS = (
    ("普通会员", 1, 10000, 10000, 0),
    ("银卡", 2, 9500, 12000, 1000),
    ("金卡", 3, 9000, 15000, 5000),
)
#: rank -> the level's names per language (Level.name_zh_hans, name_zh_hant, name_en).
LEVEL_NAMES = {
    1: ("普通会员", "普通會員", "Regular member"),
    2: ("银卡", "銀卡", "Silver"),
    3: ("金卡", "金卡", "Gold"),
}

#: key, label, type, choices
QUESTIONS: tuple[tuple[str, str, str, list[str]], ...] = (
    ("favourite_cuisine", "最喜欢的菜系", "choice", ["本帮菜", "川菜", "粤菜", "西餐", "日料"]),
    ("visit_time", "通常什么时候来店", "choice", ["工作日午餐", "工作日晚餐", "周末"]),
    ("has_children", "家中是否有孩子", "boolean", []),
)
#: The questions as staff read them in Traditional Chinese and English.
QUESTION_LABELS = {
    "favourite_cuisine": ("最喜歡的菜系", "Favourite cuisine"),
    "visit_time": ("通常甚麼時候來店", "Usual time of visit"),
    "has_children": ("家中是否有孩子", "Children at home"),
}


class DemoMember(NamedTuple):
    phone: str
    name: str
    gender: str
    language: str
    store: str
    level_rank: int
    #: "YYYY-MM-DD", "lunar:YYYY-MM-DD" or "lunar-leap:YYYY-MM-DD" (as the member states it)
    birthday: str | None
    tags: tuple[str, ...]
    answers: dict[str, Any]
    #: How long ago the member joined.
    joined_days_ago: int
    #: Card setup beyond the primary card; see ``_member_cards``.
    extras: tuple[str, ...] = ()
    referrer: str | None = None
    occupation: str | None = None
    income_band: str | None = None


A, B, C = (
    {"favourite_cuisine": "本帮菜", "visit_time": "周末", "has_children": True},
    {"favourite_cuisine": "川菜", "visit_time": "工作日晚餐", "has_children": False},
    {"favourite_cuisine": "粤菜", "visit_time": "工作日午餐"},
)

# fmt: off
MEMBERS = (
    # phone, name, gender, language, home store, level rank, birthday, tags, answers,
    # joined days ago, extras, referrer, occupation, income band
    DemoMember("13800138000", "王小明", "male", "zh-Hans", "SH01", 3, "1985-06-18", ("咖啡", "美食"), A, 420, ("pin", "barcode", "ic_uid", "count"), None, "工程师", "20k-50k"),  # noqa: E501
    DemoMember("13912345678", "李娜", "female", "zh-Hans", "SH01", 2, "lunar:1988-08-15", ("烘焙", "亲子"), A, 365, ("pin",), "13800138000", "教师", "10k-20k"),  # noqa: E501
    DemoMember("13701234567", "张伟", "male", "zh-Hans", "SH01", 1, "1992-11-03", ("健身",), B, 300, ("lost",)),  # noqa: E501
    DemoMember("13611112222", "刘洋", "male", "zh-Hans", "SH01", 2, "1990-02-14", ("旅行", "美食"), B, 280, ("frozen",), "13800138000"),  # noqa: E501
    DemoMember("13588886666", "陈静", "female", "zh-Hans", "SH01", 3, "lunar-leap:1990-05-12", ("美容", "咖啡"), C, 260, ("period", "qr_token"), None, "设计师", "20k-50k"),  # noqa: E501
    DemoMember("13162345678", "杨帆", "male", "zh-Hans", "SH01", 1, None, (), {}, 30, ("points_card",)),  # noqa: E501
    DemoMember("13312345678", "赵磊", "male", "zh-Hans", "SH01", 1, "1979-09-09", ("茶", "书法"), B, 240, ("magstripe",), None, "个体经营"),  # noqa: E501
    DemoMember("13456781234", "黄丽", "female", "zh-Hans", "SH01", 2, "1995-03-08", ("烘焙",), C, 220, ("replaced",), "13912345678"),  # noqa: E501
    DemoMember("13287654321", "周杰", "male", "zh-Hans", "SH01", 1, "2001-07-21", ("游戏", "动漫"), {}, 12),  # noqa: E501
    DemoMember("13098765432", "吴敏", "female", "zh-Hans", "SH01", 1, "lunar:1975-01-01", ("茶",), A, 400, ("count",)),  # noqa: E501
    DemoMember("13816667777", "陳美玲", "female", "zh-Hant", "SH01", 2, "1983-10-10", ("咖啡", "旅行"), C, 190, ("pin",), None, "會計師"),  # noqa: E501
    DemoMember("13917778888", "David Miller", "male", "en", "SH01", 1, "1987-04-30", ("coffee", "running"), B, 60, (), None, "consultant"),  # noqa: E501
    DemoMember("13524681357", "徐婷", "female", "zh-Hans", "SH02", 2, "1993-12-25", ("美食", "亲子"), A, 330, ("count",)),  # noqa: E501
    DemoMember("13635792468", "孙浩", "male", "zh-Hans", "SH02", 1, "1998-05-04", ("健身", "篮球"), B, 150),  # noqa: E501
    DemoMember("13744445555", "胡佳", "female", "zh-Hans", "SH02", 1, "1996-08-08", ("烘焙",), C, 95, (), "13524681357"),  # noqa: E501
    DemoMember("13855556666", "朱琳", "female", "zh-Hans", "SH02", 3, "1980-01-20", ("红酒", "旅行"), A, 410, ("period",), None, "律师", "50k+"),  # noqa: E501
    DemoMember("13966667777", "高翔", "male", "zh-Hans", "SH02", 1, None, (), {}, 5),
    DemoMember("13577778888", "林志豪", "male", "zh-Hant", "SH02", 1, "1991-06-06", ("攝影",), B, 140),  # noqa: E501
    DemoMember("13188889999", "何军", "male", "zh-Hans", "SH02", 2, "lunar:1970-09-09", ("茶", "钓鱼"), A, 380),  # noqa: E501
    DemoMember("13399990000", "Sophie Laurent", "female", "en", "SH02", 1, "1994-02-28", ("baking", "wine"), C, 45),  # noqa: E501
    DemoMember("13601010202", "郭晶", "female", "zh-Hans", "SH02", 1, "1999-09-19", ("美妆",), C, 70),  # noqa: E501
    DemoMember("13810203040", "马超", "male", "zh-Hans", "BJ01", 2, "1986-03-15", ("篮球", "美食"), B, 350, ("pin",), None, "销售"),  # noqa: E501
    DemoMember("13920304050", "罗敏", "female", "zh-Hans", "BJ01", 1, "1997-10-01", ("咖啡",), C, 110, (), "13810203040"),  # noqa: E501
    DemoMember("13730405060", "郑凯", "male", "zh-Hans", "BJ01", 3, "1982-12-12", ("高尔夫", "红酒"), A, 430, ("count",), None, "企业主", "50k+"),  # noqa: E501
    DemoMember("13640506070", "谢雨", "female", "zh-Hans", "BJ01", 1, "2000-04-04", ("动漫",), {}, 20),  # noqa: E501
    DemoMember("13550607080", "韩磊", "male", "zh-Hans", "BJ01", 1, "1989-11-11", ("健身",), B, 200),  # noqa: E501
    DemoMember("13160708090", "唐静", "female", "zh-Hans", "BJ01", 2, "lunar:1993-07-07", ("亲子", "烘焙"), A, 310, (), "13810203040"),  # noqa: E501
    DemoMember("13370809010", "冯婷婷", "female", "zh-Hans", "BJ01", 1, "1995-05-20", ("美食",), C, 85),  # noqa: E501
    DemoMember("13480901020", "黃詠詩", "female", "zh-Hant", "BJ01", 1, "1992-08-18", ("旅行",), C, 160),  # noqa: E501
    DemoMember("13290102030", "曹建国", "male", "zh-Hans", "BJ01", 1, "1965-10-01", ("太极", "茶"), B, 390, ("sms_opt_out",), None, "退休"),  # noqa: E501
)
# fmt: on

#: Anonymous gift cards in stock at SH01, found again by their demo barcode.
GIFT_CARDS = ("DEMO-GIFT-001", "DEMO-GIFT-002", "DEMO-GIFT-003", "DEMO-GIFT-004", "DEMO-GIFT-005")
#: Followers of the demo official account bound to demo members (the simulator's WeChat tab):
#: openid, member phone. A fourth, unbound openid (``oDEMO-stranger``) shows the binding flow.
WECHAT_FOLLOWERS = (
    ("oDEMO-wang-xiaoming", "13800138000"),
    ("oDEMO-chen-meiling", "13816667777"),
    ("oDEMO-david-miller", "13917778888"),
)
#: Demo PIN of every card the demo gives a PIN (members "chose" it at the counter).
DEMO_PIN = "246810"


@dataclass
class DemoSummary:
    added: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.added[what] = self.added.get(what, 0) + n

    def text(self) -> str:
        if not self.added:
            return "demo data already loaded: nothing added"
        parts = ", ".join(f"{n} {what}" for what, n in self.added.items())
        return f"demo data loaded: {parts}"


def load_demo() -> DemoSummary:
    """Add whatever demo data is missing; flushes only (the caller commits)."""
    summary = DemoSummary()
    stores = _stores(summary)
    levels = _levels(summary)
    _rules()
    _questions(summary)
    members = _members(stores, levels, summary)
    gift_cards = _gift_cards(stores, summary)
    _history(members, gift_cards, summary)
    _rules_history(members, summary)
    _wechat_followers(members, summary)
    return summary


def _wechat_followers(members: dict[str, Member], summary: DemoSummary) -> None:
    """Bind the demo openids to their members, unless bound already (either side)."""
    from app.members.wechat import bind_openid, member_for_openid, openid_for_member

    for openid, phone in WECHAT_FOLLOWERS:
        member = members.get(phone)
        if member is None or member_for_openid(openid) or openid_for_member(member.id):
            continue
        bind_openid(openid, member, via="code")
        summary.count("WeChat followers")


def _stores(summary: DemoSummary) -> dict[str, Store]:
    stores = {}
    for code, name, region in STORES:
        store = db.session.scalar(select(Store).where(Store.code == code))
        if store is None:
            store = create_store(code, name, region)
            summary.count("stores")
        stores[code] = store
    return stores


def _levels(summary: DemoSummary) -> dict[int, Level]:
    levels = {}
    for name, rank, discount_bp, multiplier_bp, threshold in LEVELS:
        level = db.session.scalar(select(Level).where(Level.rank == rank))
        if level is None:
            level = Level(
                name=name,
                rank=rank,
                discount_bp=discount_bp,
                points_multiplier_bp=multiplier_bp,
                upgrade_threshold=threshold,
            )
            db.session.add(level)
            summary.count("levels")
        if level.name_en is None:
            level.name_zh_hans, level.name_zh_hant, level.name_en = LEVEL_NAMES[rank]
        levels[rank] = level
    db.session.flush()
    return levels


def _questions(summary: DemoSummary) -> None:
    for key, label, qtype, choices in QUESTIONS:
        if db.session.scalar(select(Question.id).where(Question.key == key)) is None:
            zh_hant, english = QUESTION_LABELS[key]
            db.session.add(
                Question(
                    key=key,
                    label=label,
                    label_zh_hant=zh_hant,
                    label_en=english,
                    type=qtype,
                    choices=choices,
                )
            )
            summary.count("questions")
    db.session.flush()


def _members(
    stores: dict[str, Store], levels: dict[int, Level], summary: DemoSummary
) -> dict[str, Member]:
    """Members by phone (as listed); a member's cards are set up only when the member is new."""
    members: dict[str, Member] = {}
    start = now()
    for spec in MEMBERS:
        existing = db.session.scalar(select(Member).where(Member.phone == "+86" + spec.phone))
        if existing is not None:
            members[spec.phone] = existing
            continue
        data: dict[str, Any] = {
            "phone": spec.phone,
            "home_store": spec.store,
            "name": spec.name,
            "gender": spec.gender,
            "language": spec.language,
            "region": stores[spec.store].region,
            "occupation": spec.occupation,
            "income_band": spec.income_band,
            "tags": list(spec.tags),
            "answers": spec.answers,
            "referrer": spec.referrer,
            **_birthday(spec.birthday),
        }
        card_type = "points" if "points_card" in spec.extras else "stored_value"
        member = enroll(data, card_type=card_type)
        member.level = levels.get(spec.level_rank, member.level)
        member.joined_at = start - dt.timedelta(days=spec.joined_days_ago)
        member.sms_opt_out = "sms_opt_out" in spec.extras
        summary.count("members")
        summary.count("cards", _member_cards(member, spec.extras))
        members[spec.phone] = member
    db.session.flush()
    return members


def _birthday(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    calendar, _, day = text.rpartition(":")
    return {
        "birthday": day,
        "birthday_calendar": "lunar" if calendar else "solar",
        "lunar_leap_month": calendar == "lunar-leap",
    }


def _member_cards(member: Member, extras: tuple[str, ...]) -> int:
    """Give a new member's cards the states and media the demo shows off; returns cards made."""
    primary = member_cards(member)[0]
    _backdate(primary, member.joined_at)
    made = 1
    store = member.home_store
    if "pin" in extras:
        set_pin(primary, DEMO_PIN)
    if "barcode" in extras:
        add_medium(primary, "barcode", "69" + primary.number[-11:])
    if "ic_uid" in extras:
        add_medium(primary, "ic_uid", "04" + primary.number[-12:])
    if "magstripe" in extras:
        expiry = f"{(local_today().year + 5) % 100:02d}12"
        add_medium(primary, "magstripe", f";{primary.number}={expiry}101?")
    if "qr_token" in extras:
        add_medium(primary, "qr_token", f"LYQR{primary.number}")
    if "lost" in extras:
        change_state(primary, "report-lost", actor=ACTOR, reason="丢失于地铁")
    if "frozen" in extras:
        change_state(primary, "freeze", actor=ACTOR, reason="会员要求暂停使用")
    if "replaced" in extras:
        change_state(primary, "report-lost", actor=ACTOR, reason="钱包被盗")
        replace_card(primary, actor=ACTOR, reason="挂失补卡")
        made += 1
    if "count" in extras:
        issue_card("count", member=member, store=store, actor=ACTOR)
        made += 1
    if "period" in extras:
        issue_card("period", member=member, store=store, period="year", actor=ACTOR)
        made += 1
    db.session.flush()
    return made


def _backdate(card: Card, moment: dt.datetime) -> None:
    """The primary card was issued when the member joined, not when the demo ran."""
    card.issued_at = moment
    for event in db.session.scalars(select(CardEvent).where(CardEvent.card_id == card.id)):
        event.at = moment


def _gift_cards(stores: dict[str, Store], summary: DemoSummary) -> list[Card]:
    cards = []
    for barcode in GIFT_CARDS:
        medium = db.session.scalar(
            select(CardMedium).where(CardMedium.kind == "barcode", CardMedium.value == barcode)
        )
        if medium is not None:
            cards.append(medium.card)
            continue
        card = issue_card("gift", store=stores[DEMO_STORE], actor=ACTOR)
        add_medium(card, "barcode", barcode)
        cards.append(card)
        summary.count("gift cards")
    return cards


#: The ledger's demo history: (member phone, days ago, what, store, amount in fen).
#: ``recharge`` pays in (the bonus plans apply), ``sv`` / ``cash`` are checkouts paid
#: from stored value or in cash, ``visits`` uses the member's count card.
LEDGER_HISTORY = (
    ("13800138000", 390, "recharge", "SH01", 100000),
    ("13800138000", 380, "sv", "SH01", 26800),
    ("13800138000", 200, "sv", "BJ01", 45600),
    ("13800138000", 40, "sv", "SH02", 12800),
    ("13800138000", 35, "load_visits", "SH01", 10),
    ("13800138000", 20, "visits", "SH01", 16800),
    ("13912345678", 300, "recharge", "SH01", 50000),
    ("13912345678", 90, "sv", "SH02", 18600),
    ("13816667777", 150, "recharge", "SH01", 50000),
    ("13816667777", 60, "sv", "SH01", 23800),
    ("13312345678", 230, "cash", "SH01", 35800),
    ("13312345678", 100, "cash", "SH02", 9900),
    ("13524681357", 300, "load_visits", "SH02", 10),
    ("13524681357", 45, "visits", "SH02", 9800),
    ("13810203040", 330, "recharge", "BJ01", 100000),
    ("13810203040", 120, "sv", "BJ01", 38800),
    ("13810203040", 25, "sv", "SH01", 15600),
    ("13730405060", 400, "cash", "BJ01", 128000),
    ("13312345678", 20, "cash", "BJ01", 6600),
    ("13188889999", 180, "cash", "SH02", 26600),
)


def _history(members: dict[str, Member], gift_cards: list[Card], summary: DemoSummary) -> None:
    """A believable ledger: gift card preloads, recharges, checkouts across the three
    stores, a count card's visits, a half refund and expired promotion points.

    Every posting has a fixed idempotency key (``demo:ledger:...``), so a second
    ``laoyou demo`` posts nothing new; past postings are dated with the frozen clock.
    """
    from app.clock import frozen, zone
    from app.ledger import journal, operations
    from app.ledger.expiry import expire_lots
    from app.ledger.models import Line, PointsLot, Transaction

    today = local_today()

    def at(days_ago: int, hour: int = 12) -> dt.datetime:
        return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(hour, 30), zone())

    def counted(result: Any, what: str) -> Any:
        if not result.replayed:
            summary.count(what)
        return result

    for n, card in enumerate(gift_cards):
        with frozen(at(60)):
            counted(
                operations.load_value(
                    card, 20000, idempotency_key=f"demo:ledger:gift:{n}", actor=ACTOR
                ),
                "gift card preloads",
            )
    if gift_cards:
        with frozen(at(10)):
            counted(
                operations.checkout(
                    gift_cards[0], _store(DEMO_STORE), 6800, "stored_value",
                    key="demo:ledger:gift-spend:0", actor=ACTOR,
                ),
                "checkouts",
            )  # fmt: skip

    purchases: dict[str, int] = {}
    for phone, days_ago, what, code, amount in LEDGER_HISTORY:
        member = members.get(phone)
        if member is None:
            continue
        cards = member_cards(member)
        primary = cards[0]
        count_card = next((c for c in cards if c.type == "count"), None)
        key = f"demo:ledger:{what}:{phone}:{days_ago}"
        with frozen(at(days_ago, 12 + days_ago % 8)):
            if what == "recharge":
                counted(
                    operations.recharge(primary, _store(code), amount, key=key, actor=ACTOR),
                    "recharges",
                )
            elif what == "load_visits" and count_card is not None:
                counted(
                    operations.load_value(
                        count_card, 0, visits=amount, idempotency_key=key, actor=ACTOR
                    ),
                    "count card loads",
                )
            elif what == "visits" and count_card is not None:
                counted(
                    operations.checkout(
                        count_card, _store(code), amount, "visits", key=key, actor=ACTOR
                    ),
                    "checkouts",
                )
            elif what in ("sv", "cash"):
                result = counted(
                    operations.checkout(
                        primary,
                        _store(code),
                        amount,
                        "stored_value" if what == "sv" else "cash",
                        pin=DEMO_PIN if primary.pin_hash else None,
                        key=key,
                        actor=ACTOR,
                    ),
                    "checkouts",
                )
                purchases[f"{phone}:{days_ago}"] = result.transaction_id

    # 李娜 brings half of her purchase back the day after.
    bought = purchases.get("13912345678:90")
    if bought is not None:
        with frozen(at(89)):
            counted(
                operations.refund(bought, 9300, key="demo:ledger:refund:13912345678", actor=ACTOR),
                "refunds",
            )

    # 赵磊 was given 200 promotion points valid for 30 days, 75 days ago: they expired.
    zhao = members.get("13312345678")
    key = "demo:ledger:promotion:13312345678"
    if zhao is not None:
        posted = db.session.scalar(select(Transaction.id).where(Transaction.idempotency_key == key))
        if posted is None:  # the expiry date depends on the day of the first run
            with frozen(at(75)):
                journal.credit_points(
                    member_cards(zhao)[0],
                    200,
                    kind="gift",
                    reason="promotion",
                    key=key,
                    expires_on=today - dt.timedelta(days=45),
                    actor=ACTOR,
                )
            summary.count("promotion gifts")
            posted = db.session.scalar(
                select(Transaction.id).where(Transaction.idempotency_key == key)
            )
        expires_on = db.session.scalar(
            select(PointsLot.expires_on)
            .join(Line, Line.id == PointsLot.line_id)
            .where(Line.transaction_id == posted)
        )
        if expires_on is not None and expires_on < today:
            as_of = expires_on + dt.timedelta(days=1)
            with frozen(dt.datetime.combine(as_of, dt.time(0, 5), zone())):
                report = expire_lots(as_of, actor=ACTOR)
            if report.points:
                summary.count("expired points", report.points)


def _store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.code == code))
    assert store is not None, code
    return store


def _rules() -> None:
    """The example rules (docs/rules.example.json), once: a second run keeps edited rules.

    Through ``replace_rules``, as ``laoyou rules import`` does: the rules' history in the
    audit log starts with them."""
    import json

    from app.ledger.rules.io import replace_rules
    from app.ledger.rules.models import ProgramRules
    from app.paths import example_rules

    if not inspect(db.session.connection()).has_table(ProgramRules.__tablename__):
        return  # a database migrated before the rules' tables existed
    if db.session.get(ProgramRules, 1) is not None:
        return
    path = example_rules()
    if not path.is_file():
        raise click.ClickException(f"the example rules are not installed: {path} is missing")
    replace_rules(json.loads(path.read_text(encoding="utf-8")), object_id="demo")


def _rules_history(members: dict[str, Member], summary: DemoSummary) -> None:
    """A level upgrade and a member-day purchase, as the rules make them.

    杨帆 (普通会员) spends 1200 yuan three days ago: growth 1200 passes 银卡's 1000;
    the next day he takes a 保温杯 for 800 of the points. 周杰 buys 88 yuan on the
    last Wednesday (会员日, 1.5x points) and is given a 9折券.
    """
    from app.clock import frozen, zone
    from app.ledger import operations
    from app.ledger.redemption import services as redemption

    if not inspect(db.session.connection()).has_table("program_rules"):
        return
    today = local_today()
    wednesday = today - dt.timedelta(days=(today.isoweekday() - 3) % 7 or 7)
    purchases = (
        ("13162345678", today - dt.timedelta(days=3), 120000, "upgrade"),
        ("13287654321", wednesday, 8800, "member-day"),
    )
    for phone, day, amount_fen, what in purchases:
        member = members.get(phone)
        if member is None:
            continue
        card = member_cards(member)[0]
        at = dt.datetime.combine(day, dt.time(12, 30), zone())
        with frozen(at):
            result = operations.checkout(
                card,
                member.home_store,
                amount_fen,
                "cash",
                key=f"demo:rules:{what}:{phone}",
                actor=ACTOR,
            )
        if not result.replayed:
            summary.count(f"{what} purchases")
    yang, zhou = members.get("13162345678"), members.get("13287654321")
    if yang is not None:
        at = dt.datetime.combine(today - dt.timedelta(days=2), dt.time(18), zone())
        with frozen(at):
            gift = redemption.redeem_gift(
                member_cards(yang)[0],
                "MUG",
                key="demo:rules:gift:13162345678",
                store=yang.home_store,
                actor=ACTOR,
            )
        if not gift.replayed:
            summary.count("gift redemptions")
    if zhou is not None and not redemption.member_coupons(zhou):
        redemption.issue_coupon(zhou, "C90")
        summary.count("coupons")


def rotate_demo_key() -> tuple[ApiKey, str]:
    """Revoke the older demo keys of SH01 and make a new one: only one demo key is live."""
    store = db.session.scalar(select(Store).where(Store.code == DEMO_STORE))
    if store is None:
        raise click.ClickException(f"store {DEMO_STORE} is missing; the demo cannot make its key")
    live = db.session.scalars(
        select(ApiKey).where(
            ApiKey.store_id == store.id,
            ApiKey.label == DEMO_KEY_LABEL,
            ApiKey.revoked_at.is_(None),
        )
    )
    for key in list(live):
        revoke_api_key(key.prefix)
    return create_api_key(store, label=DEMO_KEY_LABEL)


def _kept_key_file() -> Path | None:
    """Where development keeps the demo key's secret; None where it must not be kept."""
    if current_app.config["LAOYOU_ENV"] != "development":
        return None
    return Path(current_app.instance_path) / "demo_api_key"


def kept_demo_key() -> tuple[ApiKey, str] | None:
    """The demo key printed last time, if it is still a live demo key of SH01."""
    path = _kept_key_file()
    if path is None or not path.is_file():
        return None
    secret = path.read_text().strip()
    try:
        key = authenticate(secret)
    except Unauthorized:
        return None  # revoked, or made for another database
    if key.label != DEMO_KEY_LABEL or key.store.code != DEMO_STORE:
        return None
    return key, secret


def _keep_demo_key(secret: str) -> None:
    path = _kept_key_file()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)


def _check_schema(connection: Connection) -> None:
    """Say what is wrong before the first INSERT fails with a driver's traceback."""
    from app.cli.db import NotMigrated

    missing = sorted(set(Base.metadata.tables) - set(inspect(connection).get_table_names()))
    if Store.__tablename__ in missing:
        raise NotMigrated()
    if missing:
        raise click.ClickException(
            f"the database lacks tables the code needs ({', '.join(missing)}): run "
            "'laoyou db upgrade'; if it is already at the newest revision, a migration is missing"
        )


@click.command("demo", help="Load the demo chain (idempotent) and print the API key of SH01.")
@with_appcontext
def demo_command() -> None:
    with cli_unit_of_work() as session:
        _check_schema(session.connection())
        summary = load_demo()
        kept = kept_demo_key()
        key, secret = kept or rotate_demo_key()
    if kept is None:
        _keep_demo_key(secret)  # after the commit: never a key the database lacks
    click.echo(summary.text())
    click.echo(f"demo PIN of the cards that have one: {DEMO_PIN}")
    click.echo("a member to look up: 13800138000 (王小明, 金卡)")
    click.echo(f"API key {key.prefix}… for store {DEMO_STORE} (label {DEMO_KEY_LABEL}):")
    click.echo(secret)


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_command)
