"""A receipt (小票) as data, and its text laid out for 58 mm or 80 mm paper.

The station fills a ``Receipt`` from what the central service answered; ``layout`` turns
it into the lines a printer prints (``printer`` adds the ESC/POS commands, the QR code,
the cut and the drawer kick). The labels are gettext texts in the station's language.

Widths are counted as the printer counts them in its Chinese (GB18030) mode: an ASCII
character takes one column, every other character two (a CJK glyph, and also ``×``,
``￥`` or ``·``, which GB18030 encodes in two bytes). Control characters never reach the
paper: a member's name with an ESC in it would otherwise be a printer command.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.i18n import gettext
from app.limits import MAX_AMOUNT_FEN
from app.money import yuan

#: Columns of the normal font: 58 mm paper (384 dots) and 80 mm paper (576 dots), 12 dots each.
COLUMNS = {58: 32, 80: 48}
KINDS = ("checkout", "recharge", "refund", "end_of_day")
#: Longest text a field may hold (the QR payload, a URL, and the footer have their own).
MAX_TEXT = {"qr_payload": 1000, "footer": 500}
MAX_ITEMS = 200


def _checked(record: Any) -> None:
    """Whole numbers where a number goes (never a float, never a bool), within bounds, and
    text of a sane length: a receipt is built from what the station was sent, and a bad
    one is a ``ValueError`` (the station's 4xx), not a strange paper."""
    for spec in dataclasses.fields(record):
        value = getattr(record, spec.name)
        if spec.type in ("int", "int | None"):
            if value is None and spec.type == "int | None":
                continue
            if type(value) is not int or not -MAX_AMOUNT_FEN <= value <= MAX_AMOUNT_FEN:
                raise ValueError(f"{spec.name} must be a whole number, not {value!r}")
        elif spec.type == "str" and (
            not isinstance(value, str) or len(value) > MAX_TEXT.get(spec.name, 200)
        ):
            limit = MAX_TEXT.get(spec.name, 200)
            raise ValueError(f"{spec.name} must be text of at most {limit} characters")


@dataclass(frozen=True)
class Item:
    name: str
    amount_fen: int  #: the line's total (quantity × unit price)
    quantity: int = 1
    category: str = ""

    def __post_init__(self) -> None:
        _checked(self)
        if self.quantity < 1:
            raise ValueError(f"quantity must be at least 1, not {self.quantity}")


@dataclass(frozen=True)
class Payment:
    method: str  #: "stored_value", "cash", "visits", "points", "card", …
    amount_fen: int  #: for "visits": 0, for "points": the fen the points paid
    points: int = 0  #: points spent (method "points")
    visits: int = 0  #: visits used (method "visits")

    def __post_init__(self) -> None:
        _checked(self)


@dataclass(frozen=True)
class DaySummary:
    """The end-of-day figures of a store (or of one staff member when ``staff`` is set)."""

    sales_fen: int = 0
    sales_count: int = 0
    recharges_fen: int = 0
    refunds_fen: int = 0
    new_members: int = 0
    points_issued: int = 0
    points_redeemed: int = 0
    cash_expected_fen: int = 0

    def __post_init__(self) -> None:
        _checked(self)


@dataclass(frozen=True)
class Receipt:
    kind: str  #: one of KINDS
    store: str
    staff: str
    time: str  #: as printed, local time: "2026-12-07 10:30"
    number: str = ""  #: the station's transaction id (also the idempotency key)
    member_phone_masked: str = ""  #: already masked by the service ("138****8000")
    member_name: str = ""
    level: str = ""
    items: tuple[Item, ...] = ()
    amount_fen: int = 0  #: before the discount
    discount_fen: int = 0
    payments: tuple[Payment, ...] = ()
    stored_value_after_fen: int | None = None  #: paid + bonus
    bonus_after_fen: int | None = None  #: of which bonus (赠送)
    points_earned: int = 0
    points_after: int | None = None
    visits_after: int | None = None
    recharge_bonus_fen: int = 0
    #: The cash the member handed over: the receipt prints it and the change.
    cash_tendered_fen: int | None = None
    summary: DaySummary | None = None  #: kind "end_of_day"
    qr_payload: str = ""  #: the WeChat scene QR URL to bind, or a join invitation
    qr_caption: str = ""
    footer: str = ""

    def __post_init__(self) -> None:
        _checked(self)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if len(self.items) > MAX_ITEMS or len(self.payments) > 20:
            raise ValueError(f"a receipt holds at most {MAX_ITEMS} items and 20 payments")
        if not all(isinstance(i, Item) for i in self.items) or not all(
            isinstance(p, Payment) for p in self.payments
        ):
            raise ValueError("items are Item and payments Payment")

    @property
    def paid_fen(self) -> int:
        return self.amount_fen - self.discount_fen

    @property
    def change_fen(self) -> int | None:
        """The change to give: the cash tendered less the cash part of the payments."""
        if self.cash_tendered_fen is None:
            return None
        return self.cash_tendered_fen - sum(
            p.amount_fen for p in self.payments if p.method == "cash"
        )

    @property
    def pays_cash(self) -> bool:
        """Whether the drawer should open: some of it was paid in cash."""
        return any(p.method == "cash" and p.amount_fen > 0 for p in self.payments)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        """The inverse of ``to_dict`` (the reprint archive keeps receipts as JSON)."""
        data = dict(data)
        data["items"] = tuple(Item(**i) for i in data.get("items", ()))
        data["payments"] = tuple(Payment(**p) for p in data.get("payments", ()))
        if data.get("summary") is not None:
            data["summary"] = DaySummary(**data["summary"])
        return cls(**data)


@dataclass(frozen=True)
class PrintLine:
    text: str
    align: str = "left"  #: "left" or "center"
    bold: bool = False


@dataclass
class Layout:
    columns: int
    lines: list[PrintLine] = field(default_factory=list)


def clean(text: str) -> str:
    """Printable text only: control characters (ESC, NUL, newlines) become spaces."""
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


def width(text: str) -> int:
    """Printer columns: 1 for ASCII, 2 for anything GB18030 encodes in more than a byte."""
    return sum(1 if ord(c) < 0x80 else 2 for c in text)


def cut_to(text: str, columns: int) -> str:
    """``text`` shortened to at most ``columns`` printer columns (never half a CJK glyph)."""
    out, used = [], 0
    for c in text:
        used += width(c)
        if used > columns:
            break
        out.append(c)
    return "".join(out)


def wrap(text: str, columns: int) -> list[str]:
    """``text`` broken into lines of at most ``columns`` (by glyph; Chinese has no spaces)."""
    lines: list[str] = []
    current: list[str] = []
    used = 0
    for c in text:
        w = width(c)
        if used + w > columns:
            lines.append("".join(current))
            current, used = [], 0
        current.append(c)
        used += w
    if current or not lines:
        lines.append("".join(current))
    return lines


def pair(label: str, value: str, columns: int) -> list[str]:
    """``label`` on the left, ``value`` flush right; a label too long wraps above it."""
    label, value = clean(label), clean(value)
    room = columns - width(value) - 1
    if width(label) <= room:
        return [label + " " * (columns - width(label) - width(value)) + value]
    head = wrap(label, columns)
    last = head.pop()
    return [*head, *pair(last, value, columns)] if width(last) <= room else [*head, last, value]


def _method(method: str) -> str:
    names = {
        "stored_value": gettext("Stored value"),
        "cash": gettext("Cash"),
        "visits": gettext("Count card"),
        "points": gettext("Points"),
        "card": gettext("Bank card"),
    }
    return names.get(method, method)


def _title(kind: str) -> str:
    return {
        "checkout": gettext("Sales receipt"),
        "recharge": gettext("Recharge receipt"),
        "refund": gettext("Refund receipt"),
        "end_of_day": gettext("End-of-day summary"),
    }[kind]


def layout(receipt: Receipt, paper: int = 80, *, reprint: bool = False) -> Layout:
    """The receipt's lines for ``paper`` mm (58 or 80), in the current language."""
    if receipt.kind not in KINDS:
        raise ValueError(f"unknown receipt kind {receipt.kind!r}")
    if paper not in COLUMNS:
        raise ValueError(f"paper must be 58 or 80 mm, not {paper!r}")
    cols = COLUMNS[paper]
    out = Layout(cols)
    rule = PrintLine("-" * cols)

    def add(*texts: str, align: str = "left", bold: bool = False) -> None:
        out.lines.extend(PrintLine(t, align, bold) for t in texts)

    def kv(label: str, value: str, bold: bool = False) -> None:
        add(*pair(label, value, cols), bold=bold)

    for part in wrap(clean(receipt.store), cols):
        add(part, align="center", bold=True)
    add(_title(receipt.kind), align="center")
    if reprint:
        add(gettext("** REPRINT **"), align="center", bold=True)
    out.lines.append(rule)
    if receipt.number:
        kv(gettext("No."), receipt.number)
    kv(gettext("Time"), receipt.time)
    kv(gettext("Staff"), receipt.staff)
    if receipt.member_phone_masked or receipt.member_name:
        member = " ".join(filter(None, (receipt.member_name, receipt.member_phone_masked)))
        kv(gettext("Member"), member)
    if receipt.level:
        kv(gettext("Level"), receipt.level)
    out.lines.append(rule)

    if receipt.kind == "end_of_day":
        _summary(receipt.summary or DaySummary(), kv)
    else:
        for item in receipt.items:
            name = clean(item.name) + (f" x{item.quantity}" if item.quantity != 1 else "")
            kv(name, yuan(item.amount_fen))
        if receipt.items:
            out.lines.append(rule)
        if receipt.kind == "recharge":
            kv(gettext("Recharge"), yuan(receipt.amount_fen), bold=True)
            if receipt.recharge_bonus_fen:
                kv(gettext("Bonus"), yuan(receipt.recharge_bonus_fen))
        elif receipt.kind == "refund":
            kv(gettext("Refund"), yuan(receipt.amount_fen), bold=True)
        else:
            kv(gettext("Amount"), yuan(receipt.amount_fen))
            if receipt.discount_fen:
                kv(gettext("Discount"), "-" + yuan(receipt.discount_fen))
            kv(gettext("To pay"), yuan(receipt.paid_fen), bold=True)
        for p in receipt.payments:
            if p.method == "visits":
                kv(_method(p.method), gettext("%(n)s visit(s)", n=p.visits))
            elif p.method == "points":
                kv(_method(p.method), f"{p.points} = {yuan(p.amount_fen)}")
            else:
                kv(_method(p.method), yuan(p.amount_fen))
        change = receipt.change_fen
        if receipt.cash_tendered_fen is not None and change is not None and change >= 0:
            kv(gettext("Cash tendered"), yuan(receipt.cash_tendered_fen))
            kv(gettext("Change"), yuan(change), bold=True)
        _balances(receipt, out, kv, rule)

    if receipt.footer:
        add(*wrap(clean(receipt.footer), cols), align="center")
    if receipt.qr_caption:
        add(*wrap(clean(receipt.qr_caption), cols), align="center")
    return out


def _balances(receipt: Receipt, out: Layout, kv: Any, rule: PrintLine) -> None:
    shown = [
        receipt.points_earned,
        receipt.points_after is not None,
        receipt.stored_value_after_fen is not None,
        receipt.visits_after is not None,
    ]
    if not any(shown):
        return
    out.lines.append(rule)
    if receipt.points_earned:
        kv(gettext("Points earned"), f"{receipt.points_earned:+d}")
    if receipt.points_after is not None:
        kv(gettext("Points balance"), str(receipt.points_after))
    if receipt.stored_value_after_fen is not None:
        kv(gettext("Stored value balance"), yuan(receipt.stored_value_after_fen))
        if receipt.bonus_after_fen:
            kv(gettext("of which bonus"), yuan(receipt.bonus_after_fen))
    if receipt.visits_after is not None:
        kv(gettext("Visits left"), str(receipt.visits_after))


def _summary(s: DaySummary, kv: Any) -> None:
    kv(gettext("Sales (%(n)s)", n=s.sales_count), yuan(s.sales_fen))
    kv(gettext("Recharges"), yuan(s.recharges_fen))
    kv(gettext("Refunds"), yuan(s.refunds_fen))
    kv(gettext("New members"), str(s.new_members))
    kv(gettext("Points issued"), str(s.points_issued))
    kv(gettext("Points redeemed"), str(s.points_redeemed))
    kv(gettext("Cash expected in the drawer"), yuan(s.cash_expected_fen), bold=True)


def text(laid_out: Layout) -> str:
    """The receipt as plain text (centred lines padded), for logs, tests and the page."""
    rows = []
    for line in laid_out.lines:
        body = cut_to(line.text, laid_out.columns)
        if line.align == "center":
            body = " " * ((laid_out.columns - width(body)) // 2) + body
        rows.append(body.rstrip())
    return "\n".join(rows) + "\n"


#: Noto Sans CJK (Debian's fonts-noto-cjk) draws Chinese and Latin alike.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def render_png(laid_out: Layout, path: Path, qr_payload: str = "", font: Path = CJK_FONT) -> Path:
    """A picture of the receipt (12 dots a column, as the printer's font), to look at.

    A preview for people and tests, not what the printer gets (that is ESC/POS bytes).
    """
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    cell, row = 12, 26
    margin = 12
    face = ImageFont.truetype(str(font), 22)
    bold = (
        ImageFont.truetype(str(font.with_name("NotoSansCJK-Bold.ttc")), 22)
        if (font.with_name("NotoSansCJK-Bold.ttc").exists())
        else face
    )
    qr_image = None
    if qr_payload:
        qr_image = qrcode.make(qr_payload, box_size=4, border=2).get_image().convert("RGB")
    size_w = laid_out.columns * cell + 2 * margin
    size_h = len(laid_out.lines) * row + 2 * margin + (qr_image.height + row if qr_image else 0)
    image = Image.new("RGB", (size_w, size_h), "white")
    draw = ImageDraw.Draw(image)
    y = margin
    for line in laid_out.lines:
        body = cut_to(line.text, laid_out.columns)
        x_col = (laid_out.columns - width(body)) // 2 if line.align == "center" else 0
        # Each glyph in its own cell(s), so the picture keeps the printer's columns.
        for c in body:
            draw.text((margin + x_col * cell, y), c, fill="black", font=bold if line.bold else face)
            x_col += width(c)
        y += row
    if qr_image is not None:
        image.paste(qr_image, ((size_w - qr_image.width) // 2, y + row // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
