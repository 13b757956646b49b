"""``laoyou station``: the counter program on the counter PC.

It builds no central app and opens no central database: the ``laoyou`` group adds this
command directly (as it does ``run``), so a counter PC needs only the API key. The page
and the local API are served on 127.0.0.1 alone.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import click
from werkzeug.serving import make_server

from app.store_station.counter.client import CentralClient
from app.store_station.counter.devices import DeviceOptions, Devices
from app.store_station.counter.queue import OfflineQueue
from app.store_station.counter.station import DEFAULT_IDLE_S, Station, create_station_app

LOCALHOST = "127.0.0.1"


@click.command("station")
@click.option("--server", required=True, help="The central Laoyou service, e.g. https://host")
@click.option(
    "--key",
    required=True,
    envvar="LAOYOU_STATION_KEY",
    help="The store's API key (or LAOYOU_STATION_KEY, kept out of the process list).",
)
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--printer", default=None, help="tcp://HOST:PORT, usb:VID:PID, serial:DEVICE or file:PATH"
)
@click.option("--paper", default="80", show_default=True, type=click.Choice(["58", "80"]))
@click.option("--reader", default="pcsc", show_default=True, type=click.Choice(["pcsc", "none"]))
@click.option("--serial", "serial_port", default=None, help="Magnetic-stripe / barcode reader port")
@click.option("--caller-id", default=None, help="Caller-ID unit port")
@click.option("--display", default=None, help="Customer display port")
@click.option(
    "--queue",
    "queue_path",
    default="station-queue.sqlite3",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The offline queue's SQLite file",
)
@click.option("--name", default="counter-1", show_default=True, help="This counter's name")
@click.option(
    "--idle-minutes",
    default=DEFAULT_IDLE_S // 60,
    show_default=True,
    type=click.IntRange(1, 24 * 60),
    help="Sign the staff out after this long without use",
)
@click.option("--offline-card-limit", default=3, show_default=True, type=click.IntRange(0, 1000))
@click.option("--offline-shift-limit", default=50, show_default=True, type=click.IntRange(0, 10**5))
@click.option("--join-url", default="", help="What a stranger's receipt QR opens: how to join")
@click.option(
    "--language",
    default="zh-Hans",
    show_default=True,
    type=click.Choice(["zh-Hans", "zh-Hant", "en"]),
)
def station_command(
    server: str,
    key: str,
    port: int,
    printer: str | None,
    paper: str,
    reader: str,
    serial_port: str | None,
    caller_id: str | None,
    display: str | None,
    queue_path: Path,
    name: str,
    idle_minutes: int,
    offline_card_limit: int,
    offline_shift_limit: int,
    join_url: str,
    language: str,
) -> None:
    """Serve the counter page on http://127.0.0.1:PORT/ for this store's staff."""
    try:
        options = DeviceOptions(
            printer=printer,
            paper=int(paper),
            reader=reader,
            serial=serial_port,
            caller_id=caller_id,
            display=display,
            receipts=queue_path.with_suffix(".receipts.json"),
        ).check()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    station = Station(
        CentralClient(server, key, station=name),
        OfflineQueue(queue_path, per_card=offline_card_limit, per_shift=offline_shift_limit),
        Devices(options),
        name=name,
        idle_s=idle_minutes * 60,
        join_url=join_url,
    )
    flask_app = create_station_app(station, language=language)
    httpd = make_server(LOCALHOST, port, flask_app, threaded=True)

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    station.start()
    click.echo(f"laoyou station: http://{LOCALHOST}:{port}/ (pid {os.getpid()})")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        station.stop()
        station.queue.close()
