"""Club activities (会员活动) and the win-back messages. Services flush; the caller commits.

An activity has a code members text (报名 TEA1), a time, a place, a capacity and an
eligibility (a level rank). Every change to an activity's places (sign up, cancel,
promote from the waiting list, check in) first locks the activity's row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), so two sign-ups for the last place end with one confirmed and one waiting.

A sign-up past the capacity joins the waiting list; when a confirmed member cancels, the
earliest waiting sign-up (``queued_at``, then id) is confirmed and told so with their
check-in code. Checking in (the code the member got, or the member's phone or card at the
counter) is once: a second check-in answers "already" and posts nothing; the attendance
points are one journal transaction keyed by activity and member.

After an activity ends, ``request_ratings`` asks each member who checked in for a rating;
their next message that starts with a digit 1-5 ("5 很好") within ``RATING_WINDOW`` is the
rating and its comment (``app.bot.commands.activities``).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from flask import current_app
from sqlalchemy import and_, func, select

from app import clock
from app.campaigns.activity_models import Activity, ActivitySignup, WinbackMessage
from app.campaigns.errors import NotEligible
from app.db import db
from app.errors import InvalidRequest, LaoyouError, NotFound
from app.i18n import gettext, in_language
from app.limits import MAX_POINTS
from app.members.models import Member

CODE_PATTERN = re.compile(r"^[A-Z0-9]{1,16}$")
MAX_TITLE_CHARS = 200
MAX_PLACE_CHARS = 200
MAX_CAPACITY = 100_000
MAX_COMMENT_CHARS = 500
#: Check-in opens this long before the start and closes at the end.
CHECKIN_OPENS_BEFORE = dt.timedelta(hours=2)
#: A rating is taken this long after the request; later a digit is just a digit.
RATING_WINDOW = dt.timedelta(days=7)
#: Activities that ended longer ago than this get no rating request (a job that was off).
RATING_REQUEST_WITHIN = dt.timedelta(days=2)
#: "5", "5 很好", "4分 还行", "3, ok": a digit 1-5 alone, then an optional comment.
RATING_TEXT = re.compile(r"^\s*([1-5])(?![0-9])\s*(?:分|星|/5)?[\s,，.。:：;；!！、~-]*(.*)$", re.S)
#: Win-back messages are queued this many members at a time (bounded memory).
WINBACK_BATCH = 500


# --- refusals (codes are contracts) -----------------------------------------------------


class SignupsClosed(LaoyouError):
    """The activity has started: no sign-up and no cancelling any more."""

    code = "signups_closed"
    status = 409


class AlreadySignedUp(LaoyouError):
    """details: ``status`` (confirmed or waiting) and ``checkin_code``."""

    code = "already_signed_up"
    status = 409


class NotSignedUp(LaoyouError):
    code = "not_signed_up"
    status = 404


class CheckinRefused(LaoyouError):
    """details: ``reason``: ``waiting`` (on the waiting list), ``cancelled``, ``too_early``
    or ``ended``."""

    code = "checkin_refused"
    status = 409


# --- activities --------------------------------------------------------------------------


def create_activity(
    *,
    code: str,
    titles: Mapping[str, str],
    place: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int,
    min_level_rank: int | None = None,
    points: int = 0,
) -> Activity:
    """A new activity; ``titles`` by language, the Simplified Chinese one required."""
    code = code.strip().upper()
    if not CODE_PATTERN.match(code):
        raise InvalidRequest("the code is 1 to 16 letters or digits", field="code")
    if get_activity_or_none(code) is not None:
        raise InvalidRequest(f"an activity with code {code} exists", field="code", reason="taken")
    clean = {lang: (titles.get(lang) or "").strip() for lang in ("zh-Hans", "zh-Hant", "en")}
    if not clean["zh-Hans"]:
        raise InvalidRequest("the activity needs a title in Simplified Chinese", field="title")
    for lang, title in clean.items():
        if len(title) > MAX_TITLE_CHARS:
            raise InvalidRequest(f"a title has at most {MAX_TITLE_CHARS} characters", field=lang)
    place = place.strip()
    if not place or len(place) > MAX_PLACE_CHARS:
        raise InvalidRequest("the place is 1 to 200 characters", field="place")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidRequest("times must carry their time zone", field="starts_at")
    if ends_at <= starts_at:
        raise InvalidRequest("the activity must end after it starts", field="ends_at")
    if isinstance(capacity, bool) or not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidRequest(f"the capacity is 1 to {MAX_CAPACITY}", field="capacity")
    if isinstance(points, bool) or not 0 <= points <= MAX_POINTS:
        raise InvalidRequest("points must be a whole number, 0 or more", field="points")
    if min_level_rank is not None and not 1 <= min_level_rank <= 1000:
        raise InvalidRequest("level ranks start at 1", field="min_level_rank")
    activity = Activity(
        code=code,
        title_zh_hans=clean["zh-Hans"],
        title_zh_hant=clean["zh-Hant"],
        title_en=clean["en"],
        place=place,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        min_level_rank=min_level_rank,
        points=points,
        created_at=clock.now(),
    )
    db.session.add(activity)
    db.session.flush()
    return activity


def get_activity_or_none(code: str) -> Activity | None:
    code = code.strip().upper()
    if not CODE_PATTERN.match(code):
        return None
    return db.session.scalar(select(Activity).where(Activity.code == code))


def get_activity(code: str) -> Activity:
    activity = get_activity_or_none(code)
    if activity is None:
        raise NotFound(f"no activity {code[:20]!r}", activity=code[:20])
    return activity


def _locked(code: str) -> Activity:
    """The activity, its row locked until the caller's transaction ends."""
    activity = get_activity(code)
    db.session.execute(select(Activity.id).where(Activity.id == activity.id).with_for_update())
    db.session.refresh(activity)
    return activity


def list_activities() -> list[Activity]:
    """Every activity, the latest to start first."""
    return list(db.session.scalars(select(Activity).order_by(Activity.starts_at.desc())))


def open_activities(now: dt.datetime | None = None) -> list[Activity]:
    """Activities still taking sign-ups (not started), soonest first."""
    moment = now or clock.now()
    return list(
        db.session.scalars(
            select(Activity).where(Activity.starts_at > moment).order_by(Activity.starts_at)
        )
    )


def signup_of(activity: Activity, member_id: int) -> ActivitySignup | None:
    return db.session.scalar(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity.id, ActivitySignup.member_id == member_id
        )
    )


def _count(activity: Activity, status: str) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(ActivitySignup)
            .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status == status)
        )
        or 0
    )


def waiting_position(signup: ActivitySignup) -> int:
    """1 for the first on the waiting list."""
    earlier = db.session.scalar(
        select(func.count())
        .select_from(ActivitySignup)
        .where(
            ActivitySignup.activity_id == signup.activity_id,
            ActivitySignup.status == "waiting",
            (ActivitySignup.queued_at < signup.queued_at)
            | and_(ActivitySignup.queued_at == signup.queued_at, ActivitySignup.id < signup.id),
        )
    )
    return int(earlier or 0) + 1


def _new_code(activity: Activity) -> str:
    """Six digits no other sign-up of the activity has."""
    taken = set(
        db.session.scalars(
            select(ActivitySignup.checkin_code).where(ActivitySignup.activity_id == activity.id)
        )
    )
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        if code not in taken:
            return code


def sign_up(member: Member, code: str, *, channel: str) -> ActivitySignup:
    """A confirmed place, or a place on the waiting list when the activity is full.

    Signing up after cancelling takes a new place at the end of the queue.
    """
    activity = _locked(code)
    now = clock.now()
    if now >= activity.starts_at:
        raise SignupsClosed("the activity has started", activity=activity.code)
    rank = member.level.rank if member.level is not None else 0
    if activity.min_level_rank is not None and rank < activity.min_level_rank:
        raise NotEligible("level too low", reason="level", min_level_rank=activity.min_level_rank)
    signup = signup_of(activity, member.id)
    if signup is not None and signup.status != "cancelled":
        raise AlreadySignedUp(
            "already signed up", status=signup.status, checkin_code=signup.checkin_code
        )
    status = "confirmed" if _count(activity, "confirmed") < activity.capacity else "waiting"
    if signup is None:
        signup = ActivitySignup(
            activity_id=activity.id,
            member_id=member.id,
            checkin_code=_new_code(activity),
            signed_up_at=now,
        )
        db.session.add(signup)
    signup.status, signup.channel, signup.queued_at = status, channel, now
    signup.cancelled_at = None
    db.session.flush()
    return signup


@dataclass(frozen=True)
class Cancelled:
    signup: ActivitySignup
    #: The waiting sign-up confirmed in the freed place, if any.
    promoted: ActivitySignup | None


def cancel_signup(member: Member, code: str) -> Cancelled:
    activity = _locked(code)
    signup = signup_of(activity, member.id)
    if signup is None or signup.status == "cancelled":
        raise NotSignedUp("not signed up", activity=activity.code)
    if clock.now() >= activity.starts_at:
        raise SignupsClosed("the activity has started", activity=activity.code)
    was = signup.status
    signup.status, signup.cancelled_at = "cancelled", clock.now()
    db.session.flush()
    promoted = _promote(activity) if was == "confirmed" else None
    return Cancelled(signup, promoted)


def _promote(activity: Activity) -> ActivitySignup | None:
    """Confirm the earliest waiting sign-up if a place is free, and tell the member."""
    if _count(activity, "confirmed") >= activity.capacity:
        return None
    first = db.session.scalar(
        select(ActivitySignup)
        .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status == "waiting")
        .order_by(ActivitySignup.queued_at, ActivitySignup.id)
        .limit(1)
    )
    if first is None:
        return None
    first.status = "confirmed"
    db.session.flush()
    member = first.member
    with in_language(member.language):
        body = gettext(
            "Good news: a place freed up and you are now confirmed for “%(title)s” "
            "(%(when)s, %(place)s). Your check-in code is %(code)s.",
            title=activity.title_in(member.language),
            when=when_text(activity),
            place=activity.place,
            code=first.checkin_code,
        )
    _notify(member, body, f"activity:promoted:{first.id}:{first.queued_at.isoformat()}")
    return first


def confirmation_text(activity: Activity, signup: ActivitySignup, language: str) -> str:
    """What a member is told on signing up (the caller is in ``language``)."""
    title = activity.title_in(language)
    if signup.status == "waiting":
        return gettext(
            "“%(title)s” is full: you are number %(position)s on the waiting list. We will "
            "tell you if a place frees up.",
            title=title,
            position=waiting_position(signup),
        )
    return gettext(
        "You are signed up for “%(title)s” (%(when)s, %(place)s). Your check-in code is "
        "%(code)s: show it at the door.",
        title=title,
        when=when_text(activity),
        place=activity.place,
        code=signup.checkin_code,
    )


def when_text(activity: Activity) -> str:
    """``2027-01-31 14:00`` in the programme's time zone."""
    return clock.to_local(activity.starts_at).strftime("%Y-%m-%d %H:%M")


def sign_up_at_counter(member: Member, code: str) -> ActivitySignup:
    """A sign-up at the counter: the member is sent what a keyword sign-up would answer."""
    signup = sign_up(member, code, channel="counter")
    with in_language(member.language):
        body = confirmation_text(signup.activity, signup, member.language)
    _notify(member, body, f"activity:signup:{signup.id}:{signup.queued_at.isoformat()}")
    return signup


# --- check-in and points -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    signup: ActivitySignup
    #: Points given for attending by this check-in (0 when none, or already checked in).
    points: int
    already: bool


def check_in(
    code: str, *, member: Member | None = None, checkin_code: str | None = None
) -> CheckIn:
    """Check a confirmed member in, by the member or by their check-in code; once."""
    activity = _locked(code)
    if checkin_code is not None:
        signup = db.session.scalar(
            select(ActivitySignup).where(
                ActivitySignup.activity_id == activity.id,
                ActivitySignup.checkin_code == checkin_code.strip(),
            )
        )
    elif member is not None:
        signup = signup_of(activity, member.id)
    else:
        raise InvalidRequest("give the member or the check-in code", field="member")
    if signup is None:
        raise NotSignedUp("no such sign-up for this activity", activity=activity.code)
    if signup.checked_in_at is not None:
        return CheckIn(signup, 0, already=True)
    if signup.status != "confirmed":
        raise CheckinRefused("not a confirmed place", reason=signup.status)
    now = clock.now()
    if now < activity.starts_at - CHECKIN_OPENS_BEFORE:
        raise CheckinRefused("check-in has not opened", reason="too_early")
    if now > activity.ends_at:
        raise CheckinRefused("the activity has ended", reason="ended")
    signup.checked_in_at = now
    points = _attendance_points(activity, signup) if activity.points else 0
    db.session.flush()
    return CheckIn(signup, points, already=False)


def _attendance_points(activity: Activity, signup: ActivitySignup) -> int:
    """One journal posting per member and activity, to the member's primary active card."""
    from app.cards.services import member_cards
    from app.ledger import journal
    from app.ledger.rules.engine import points_expiry

    card = next((c for c in member_cards(signup.member) if c.state == "active"), None)
    if card is None:
        return 0
    posting = journal.post(
        "gift",
        f"activity:{activity.id}:member:{signup.member_id}",
        [
            journal.Entry(
                "points", activity.points, card_id=card.id, expires_on=points_expiry(clock.now())
            ),
            journal.Entry("points", -activity.points, system="issued"),
        ],
        request={"activity": activity.id, "member": signup.member_id},
        reason="activity_attendance",
        actor="activities",
        card_id=card.id,
        member_id=signup.member_id,
        details={"activity": activity.code},
    )
    signup.points_transaction_id = posting.id
    return activity.points


# --- ratings ---------------------------------------------------------------------------------


def request_ratings(now: dt.datetime | None = None) -> int:
    """Ask every member who checked in to an activity that has ended for a rating, once."""
    moment = now or clock.now()
    rows = db.session.scalars(
        select(ActivitySignup)
        .join(Activity, Activity.id == ActivitySignup.activity_id)
        .where(
            Activity.ends_at <= moment,
            Activity.ends_at > moment - RATING_REQUEST_WITHIN,
            ActivitySignup.checked_in_at.is_not(None),
            ActivitySignup.rating_requested_at.is_(None),
        )
        .order_by(ActivitySignup.id)
    ).all()
    for signup in rows:
        member = signup.member
        with in_language(member.language):
            body = gettext(
                "Thank you for coming to “%(title)s”! How was it? Reply with a score from 1 "
                "to 5 and, if you like, a comment, e.g. 5 Lovely afternoon.",
                title=signup.activity.title_in(member.language),
            )
        signup.rating_requested_at = moment
        _notify(member, body, f"activity:rating:{signup.id}")
    db.session.flush()
    return len(rows)


def pending_rating(member_id: int, now: dt.datetime | None = None) -> ActivitySignup | None:
    """The sign-up whose rating request the member has not answered yet (the latest)."""
    moment = now or clock.now()
    return db.session.scalar(
        select(ActivitySignup)
        .where(
            ActivitySignup.member_id == member_id,
            ActivitySignup.rating_requested_at.is_not(None),
            ActivitySignup.rating_requested_at > moment - RATING_WINDOW,
            ActivitySignup.rating.is_(None),
        )
        .order_by(ActivitySignup.rating_requested_at.desc(), ActivitySignup.id.desc())
        .limit(1)
    )


def parse_rating(text: str) -> tuple[int, str] | None:
    """(score, comment) from "5 很好"; None when the text is no rating."""
    found = RATING_TEXT.match(text)
    if found is None:
        return None
    return int(found[1]), found[2].strip()[:MAX_COMMENT_CHARS]


def rate(signup: ActivitySignup, score: int, comment: str) -> ActivitySignup:
    if not 1 <= score <= 5:
        raise InvalidRequest("a rating is 1 to 5", field="rating")
    signup.rating, signup.comment = score, (comment[:MAX_COMMENT_CHARS] or None)
    signup.rated_at = clock.now()
    db.session.flush()
    return signup


# --- statistics for the panel ---------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    confirmed: int
    waiting: int
    cancelled: int
    attended: int
    rated: int
    #: The average rating in tenths (43 is 4.3), None before the first rating.
    average_tenths: int | None
    #: score -> how many gave it, 1 to 5.
    ratings: dict[int, int]

    @property
    def average_text(self) -> str:
        if self.average_tenths is None:
            return "–"
        return f"{self.average_tenths // 10}.{self.average_tenths % 10}"


def statistics(activity: Activity) -> Statistics:
    by_status = dict(
        db.session.execute(
            select(ActivitySignup.status, func.count())
            .where(ActivitySignup.activity_id == activity.id)
            .group_by(ActivitySignup.status)
        ).all()
    )
    attended = db.session.scalar(
        select(func.count()).where(
            ActivitySignup.activity_id == activity.id, ActivitySignup.checked_in_at.is_not(None)
        )
    )
    ratings: dict[int, int] = {
        int(score or 0): int(n)
        for score, n in db.session.execute(
            select(ActivitySignup.rating, func.count())
            .where(ActivitySignup.activity_id == activity.id, ActivitySignup.rating.is_not(None))
            .group_by(ActivitySignup.rating)
        ).all()
    }
    rated = sum(ratings.values())
    total = sum(score * n for score, n in ratings.items())
    # Integer arithmetic, rounded half up: (total * 10 + rated // 2) // rated tenths.
    average = (total * 10 + rated // 2) // rated if rated else None
    return Statistics(
        confirmed=int(by_status.get("confirmed", 0)),
        waiting=int(by_status.get("waiting", 0)),
        cancelled=int(by_status.get("cancelled", 0)),
        attended=int(attended or 0),
        rated=rated,
        average_tenths=average,
        ratings={score: int(ratings.get(score, 0)) for score in range(1, 6)},
    )


def activity_signups(activity: Activity) -> list[ActivitySignup]:
    """Every sign-up: confirmed, then the waiting list in order, then cancelled."""
    order = {"confirmed": 0, "waiting": 1, "cancelled": 2}
    rows = db.session.scalars(
        select(ActivitySignup)
        .where(ActivitySignup.activity_id == activity.id)
        .order_by(ActivitySignup.queued_at, ActivitySignup.id)
    ).all()
    return sorted(rows, key=lambda s: order[s.status])


# --- messages ---------------------------------------------------------------------------------


class _Outbox(Protocol):
    def enqueue(self, **message: Any) -> int | None: ...


def _outbox() -> _Outbox:
    """The outbox's services, handed over by ``app.messaging.init_app`` (campaigns may not
    import messaging: messaging runs the bot, whose commands call campaigns)."""
    return cast(_Outbox, current_app.extensions["laoyou.outbox"])


def _notify(member: Member, body: str, key: str) -> None:
    """One message on each channel the member gets alerts on; ``key`` makes it once."""
    from app.members.wechat import alert_addresses

    for channel, address in alert_addresses(member):
        _outbox().enqueue(
            address=address,
            body=body,
            kind="alert",
            language=member.language,
            member=member,
            channel=channel,
            dedupe_key=key if channel == "sms" else f"{key}:{channel}",
        )


# --- win-back --------------------------------------------------------------------------------


def send_winback(as_of: dt.date, run_key: str, *, idle_days: int | None = None) -> dict[str, int]:
    """Queue one win-back message (marketing) to each member idle for ``idle_days``.

    Idle: joined at least ``idle_days`` before ``as_of`` and no transaction of their own
    since. A member who was sent one within the last ``idle_days`` is left out, so a member
    gets at most one per period however often the job runs. Members who opted out of SMS
    are skipped here; the dispatcher checks opt-outs and quiet hours again at send time.
    Members are read in batches of ``WINBACK_BATCH`` by id.
    """
    from app.ledger.idle import made_transaction_since

    days = idle_days or int(current_app.config["WINBACK_IDLE_DAYS"])
    start_of_day = dt.datetime.combine(as_of, dt.time(), clock.zone())
    cutoff = start_of_day - dt.timedelta(days=days)
    recently_sent = (
        select(WinbackMessage.id)
        .where(
            WinbackMessage.member_id == Member.id,
            WinbackMessage.sent_on > as_of - dt.timedelta(days=days),
        )
        .exists()
    )
    query = select(Member).where(
        Member.joined_at < cutoff,
        ~made_transaction_since(Member.id, cutoff),
        ~recently_sent,
    )
    counts = {"sent": 0, "opted_out": 0, "idle_days": days}
    after = 0
    written: list[WinbackMessage] = []
    while True:
        batch = db.session.scalars(
            query.where(Member.id > after).order_by(Member.id).limit(WINBACK_BATCH)
        ).all()
        if not batch:
            break
        for member in batch:
            after = member.id
            if member.sms_opt_out:
                counts["opted_out"] += 1
                continue
            with in_language(member.language):
                body = gettext(
                    "We miss you, %(name)s! It has been a while since your last visit. Come "
                    "and see what is new at %(store)s.",
                    name=member.name or gettext("dear member"),
                    store=member.home_store.name,
                )
            _outbox().enqueue(
                address=member.phone,
                body=body,
                kind="marketing",
                language=member.language,
                member=member,
                dedupe_key=f"winback:{member.id}:{as_of.isoformat()}",
            )
            sent = WinbackMessage(member_id=member.id, sent_on=as_of, run_key=run_key)
            db.session.add(sent)
            written.append(sent)
            counts["sent"] += 1
        db.session.flush()
        # Bounded memory over a million members: what this batch loaded leaves the session.
        for done in (*batch, *written):
            db.session.expunge(done)
        written.clear()
    return counts


def member_summary(signup: ActivitySignup) -> dict[str, Any]:
    """What the panel lists per sign-up: the phone masked."""
    from app.phone import mask_phone

    return {
        "member_id": signup.member_id,
        "name": signup.member.name or "",
        "phone": mask_phone(signup.member.phone),
        "status": signup.status,
        "channel": signup.channel,
        "checked_in_at": signup.checked_in_at,
        "rating": signup.rating,
        "comment": signup.comment or "",
        "signed_up_at": signup.signed_up_at,
    }
