"""Receipts to an ESC/POS network printer played by a TCP listener: the bytes asserted."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
from pathlib import Path

import pytest
from flask import Flask

from app.i18n import in_language
from app.store_station.counter.printer import (
    PrinterError,
    PrinterOffline,
    ReceiptArchive,
    ReceiptPrinter,
    parse_printer_url,
    receipt_bytes,
)
from app.store_station.counter.receipt import (
    DaySummary,
    Item,
    Payment,
    Receipt,
    layout,
    render_png,
    text,
    width,
)
from tests.store_station.conftest import ARTEFACTS, Listener, listen

INIT = b"\x1b@"
CHINESE = b"\x1c&"
QR = b"\x1d(k"
CUT = b"\x1dV"
DRAWER = b"\x1bp\x00"  # ESC p, pin 2 (m = 0)
KICK = DRAWER + b"\x32\x32"  # pulse on 100 ms, off 100 ms
BIND_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH47joAAAAAAAAAASxodHRw"


def checkout(**changes: object) -> Receipt:
    base = Receipt(
        kind="checkout",
        store="老友咖啡 人民广场店",
        staff="王小明",
        time="2026-12-07 10:30",
        number="SH01-20261207-0042",
        member_phone_masked="138****8000",
        member_name="张三",
        level="金卡",
        items=(Item("拿铁咖啡", 6000, 2, "饮品"), Item("提拉米苏蛋糕（大份）", 2800)),
        amount_fen=8800,
        discount_fen=880,
        payments=(Payment("stored_value", 5000), Payment("cash", 2920)),
        stored_value_after_fen=12080,
        bonus_after_fen=2000,
        points_earned=79,
        points_after=1313,
        qr_payload=BIND_URL,
        qr_caption="微信扫码，绑定会员卡",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def lines_of(data: bytes) -> list[str]:
    """The printed text lines: the bytes between the commands, decoded from GB18030."""
    body = data.split(QR)[0]
    body = re.sub(rb"\x1b[@]|\x1c&|\x1bp\x00..|\x1b[!aEG-]\x00?[\x00\x01]?", b"", body)
    return [raw.decode("gb18030") for raw in body.split(b"\n")]


def test_a_checkout_prints_gb18030_a_qr_the_drawer_kick_and_a_cut(
    printer_port: Listener, station_app: Flask
) -> None:
    printer = ReceiptPrinter(f"tcp://127.0.0.1:{printer_port.port}", paper=80)
    with station_app.app_context(), in_language("zh-Hans"):
        sent = printer.print_receipt(checkout())
    data = printer_port.wait()
    assert data == sent
    assert data.startswith(INIT + CHINESE)
    assert "老友咖啡 人民广场店".encode("gb18030") in data
    assert "提拉米苏蛋糕（大份）".encode("gb18030") in data
    assert "张三 138****8000".encode("gb18030") in data
    assert "实付".encode("gb18030") in data and b"79.20" in data
    assert "储值余额".encode("gb18030") in data and b"120.80" in data
    assert KICK in data  # paid partly in cash: the drawer opens
    # The QR code, printed by the printer itself: GS ( k … with the bind URL as its data.
    assert QR in data and BIND_URL.encode() in data.split(QR, 4)[4]
    assert data.endswith(CUT + b"\x00")  # GS V 0: the full cut, last
    assert data.index(CUT) > data.index(QR)


@pytest.mark.parametrize(("paper", "columns"), [(58, 32), (80, 48)])
def test_the_lines_fit_the_paper_counting_chinese_double(paper: int, columns: int) -> None:
    laid_out = layout(checkout(), paper)
    assert laid_out.columns == columns
    assert all(width(line.text) <= columns for line in laid_out.lines)
    rule = "-" * columns
    assert any(line.text == rule for line in laid_out.lines)
    # A label and its amount span the paper exactly: 2 columns a Chinese character.
    paid = next(line.text for line in laid_out.lines if line.text.startswith("To pay"))
    assert width(paid) == columns and paid.endswith("79.20")
    assert width("实付") == 4 and width("￥") == 2 and width("×") == 2


def test_58_and_80_mm_receipts_differ_in_width_on_the_wire(station_app: Flask) -> None:
    with station_app.app_context(), in_language("zh-Hans"):
        narrow = lines_of(receipt_bytes(checkout(), 58))
        wide = lines_of(receipt_bytes(checkout(), 80))
    assert "-" * 32 in narrow and "-" * 48 not in narrow
    assert "-" * 48 in wide
    to_pay = [line for line in narrow if line.startswith("实付")]
    assert to_pay == ["实付" + " " * (32 - 4 - 5) + "79.20"]


def test_no_drawer_kick_without_cash_and_no_qr_without_a_payload(station_app: Flask) -> None:
    receipt = checkout(payments=(Payment("stored_value", 7920),), qr_payload="", qr_caption="")
    with station_app.app_context():
        data = receipt_bytes(receipt, 80)
    assert DRAWER not in data and QR not in data and CUT in data


def test_control_characters_from_a_name_never_reach_the_printer(station_app: Flask) -> None:
    with station_app.app_context():
        data = receipt_bytes(checkout(member_name="\x1bp\x00\x19\xfa张\x1dV三"), 80)
    assert data.count(DRAWER) == 1  # the real kick (cash was paid), not the name's
    assert data.count(CUT) == 1
    assert "张 V三".encode("gb18030") in data  # the ESC and GS gone, the letters printed


def test_an_offline_printer_raises_and_the_receipt_is_reprinted_when_it_is_back(
    tmp_path: Path, station_app: Flask
) -> None:
    with socket.socket() as probe:  # a port with no printer on it (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    archive = ReceiptArchive(keep=3, path=tmp_path / "receipts.jsonl")
    printer = ReceiptPrinter(f"tcp://127.0.0.1:{port}", 80, archive, timeout_s=1)
    with station_app.app_context(), in_language("en"):
        with pytest.raises(PrinterOffline) as failed:
            printer.print_receipt(checkout())
        assert failed.value.number == "SH01-20261207-0042"
        status = printer.status()
        assert (status.state, status.code) == ("missing", "printer.unreachable")
        assert "reprint" in status.advice
    assert [r.number for r in archive.unprinted()] == ["SH01-20261207-0042"]

    listener, server = listen(port)  # switched on again
    try:
        with station_app.app_context(), in_language("zh-Hans"):
            printer.reprint()
            first = listener.wait(1)
            printer.reprint()
            second = listener.wait(2)
    finally:
        server.close()
    # The first copy is the receipt that never printed: as the original, drawer and all.
    assert "重印".encode("gb18030") not in first and DRAWER in first
    # The second is a reprint: marked, and the drawer stays shut.
    assert "重印".encode("gb18030") in second and DRAWER not in second
    assert archive.unprinted() == []
    # The archive is a file: a restarted station can still reprint.
    again = ReceiptArchive(path=tmp_path / "receipts.jsonl").last()
    assert again is not None and again[1] == checkout() and again[2] is True
    assert json.loads((tmp_path / "receipts.jsonl").read_text().splitlines()[-1])["printed"]


def test_the_archive_keeps_only_the_last_receipts(tmp_path: Path) -> None:
    archive = ReceiptArchive(keep=2, path=tmp_path / "r.jsonl")
    for n in range(5):
        archive.add(checkout(number=f"N{n}"))
    reopened = ReceiptArchive(keep=2, path=tmp_path / "r.jsonl")
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 2
    last = reopened.last()
    assert last is not None and last[1].number == "N4"


def test_nothing_to_reprint_says_so(tmp_path: Path) -> None:
    with pytest.raises(PrinterError, match="no receipt to reprint"):
        ReceiptPrinter(f"file:{tmp_path / 'out.bin'}").reprint()


def test_a_file_printer_appends_each_receipt(tmp_path: Path, station_app: Flask) -> None:
    out = tmp_path / "lp0"
    printer = ReceiptPrinter(f"file:{out}", paper=58)
    with station_app.app_context():
        first = printer.print_receipt(checkout())
        second = printer.print_receipt(checkout(kind="refund", payments=()))
    assert out.read_bytes() == first + second
    assert printer.status().state == "ok"


@pytest.mark.parametrize(
    ("url", "scheme", "target", "port"),
    [
        ("tcp://192.168.1.50", "tcp", "192.168.1.50", 9100),
        ("tcp://printer.local:9101", "tcp", "printer.local", 9101),
        ("serial:/dev/ttyUSB1", "serial", "/dev/ttyUSB1", 9100),
        ("file:/dev/usb/lp0", "file", "/dev/usb/lp0", 9100),
    ],
)
def test_printer_urls(url: str, scheme: str, target: str, port: int) -> None:
    parsed = parse_printer_url(url)
    assert (parsed.scheme, parsed.target, parsed.port) == (scheme, target, port)


def test_usb_printer_url() -> None:
    parsed = parse_printer_url("usb:0416:5011")
    assert (parsed.vendor_id, parsed.product_id, str(parsed)) == (0x0416, 0x5011, "usb:0416:5011")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "lpt1",
        "tcp://",
        "tcp://host:0",
        "tcp://host:70000",
        "tcp://a b",
        "usb:0416",
        "usb:xyz:1",
        "serial:",
        "file:",
        "file:/tmp/\x00x",
        "http://printer",
    ],
)
def test_bad_printer_urls_are_refused_with_the_forms_that_work(url: str) -> None:
    with pytest.raises(ValueError, match="--printer"):
        parse_printer_url(url)


def test_recharge_refund_and_end_of_day_receipts(tmp_path: Path, station_app: Flask) -> None:
    recharge = Receipt(
        "recharge",
        "老友咖啡",
        "王小明",
        "2026-12-07 11:00",
        amount_fen=50000,
        recharge_bonus_fen=5000,
        payments=(Payment("cash", 50000),),
        stored_value_after_fen=67080,
        bonus_after_fen=7000,
    )
    day = Receipt(
        "end_of_day",
        "老友咖啡",
        "王小明",
        "2026-12-07 22:00",
        summary=DaySummary(
            sales_fen=1234500,
            sales_count=87,
            recharges_fen=300000,
            refunds_fen=4500,
            new_members=6,
            points_issued=12345,
            points_redeemed=800,
            cash_expected_fen=456700,
        ),
    )
    archive = ReceiptArchive(path=tmp_path / "r.jsonl")
    archive.add(day)
    archive.add(recharge)
    assert ReceiptArchive(path=tmp_path / "r.jsonl").unprinted() == [day, recharge]
    with station_app.app_context(), in_language("zh-Hant"):
        recharge_text = text(layout(recharge, 58))
        day_text = text(layout(day, 80))
    assert recharge_text.splitlines()[1].strip() == "儲值小票"
    assert [line for line in recharge_text.splitlines() if line.startswith(("儲值 ", "贈送"))] == [
        "儲值" + " " * 22 + "500.00",
        "贈送" + " " * 23 + "50.00",
    ]
    assert "錢箱應有現金" in day_text and "4567.00" in day_text
    refund = checkout(kind="refund", payments=(Payment("stored_value", 7920),), items=())
    with station_app.app_context(), in_language("zh-Hans"):
        refund_lines = text(layout(refund, 58)).splitlines()
    assert refund_lines[1].strip() == "退款小票"
    assert "退款" + " " * 23 + "88.00" in refund_lines
    assert "銷售（87 筆）" in day_text and "12345.00" in day_text


def test_a_receipt_rendered_to_a_picture(station_app: Flask) -> None:
    """tests/store_station/artefacts/receipt-80mm.png: look at it."""
    with station_app.app_context(), in_language("zh-Hans"):
        laid_out = layout(checkout(), 80)
    path = render_png(laid_out, ARTEFACTS / "receipt-80mm.png", BIND_URL)
    from PIL import Image

    with Image.open(path) as image:
        assert image.width == 48 * 12 + 24
        assert image.height > len(laid_out.lines) * 26


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_fen": 12.5},  # a float on a money path
        {"discount_fen": True},
        {"amount_fen": 10**12},  # absurd
        {"kind": "gift"},
        {"store": "店" * 201},
        {"qr_payload": "x" * 1001},
        {"member_name": None},
        {"items": ({"name": "x", "amount_fen": 1},)},  # not an Item
    ],
)
def test_a_bad_receipt_is_refused_before_anything_prints(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        checkout(**changes)


def test_bad_items_and_payments_are_refused() -> None:
    with pytest.raises(ValueError, match="quantity"):
        Item("咖啡", 100, quantity=0)
    with pytest.raises(ValueError, match="amount_fen"):
        Payment("cash", 99.99)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="points_issued"):
        DaySummary(points_issued=1.5)  # type: ignore[arg-type]


def test_a_serial_printer_gets_the_same_bytes(tmp_path: Path, station_app: Flask) -> None:
    from tests.store_station.test_serial_devices import Pty

    pty = Pty(tmp_path / "ttyPrinter")
    try:
        printer = ReceiptPrinter(f"serial:{pty.link}", paper=58)
        with station_app.app_context():
            sent = printer.print_receipt(checkout())
        assert pty.read(len(sent)) == sent
        assert printer.status().state == "ok"
    finally:
        pty.close()


def test_the_status_probes_the_printer_at_most_every_few_seconds(printer_port: Listener) -> None:
    printer = ReceiptPrinter(f"tcp://127.0.0.1:{printer_port.port}", probe_every_s=60)
    assert [printer.status().state for _ in range(5)] == ["ok"] * 5
    time.sleep(0.3)  # the listener counts a connection once it accepted it
    assert printer_port.connections == 1
    printer.probe_every_s = 0
    printer.status()
    time.sleep(0.3)
    assert printer_port.connections == 2


def test_a_usb_printer_that_is_not_there(station_app: Flask) -> None:
    printer = ReceiptPrinter("usb:0416:5011")  # no such device on this machine
    with station_app.app_context(), in_language("en"):
        with pytest.raises(PrinterOffline, match="usb:0416:5011"):
            printer.print_receipt(checkout())
        status = printer.status()
    assert (status.state, status.code) == ("missing", "printer.unreachable")
    assert status.message == "The receipt printer at usb:0416:5011 does not answer."
