"""The entry for production WSGI servers: ``gunicorn 'app.wsgi:app'``.

After start-up the app's long-lived objects (models, mappers, compiled statements,
catalogues, the URL map) are moved out of the cyclic garbage collector's reach
(``gc.freeze``). Otherwise every full collection walks them all: measured on the SMS
webhook, one such pause took 80 ms, stalling every request in flight in that worker.
Objects made later are collected as usual.
"""

from __future__ import annotations

import gc

from app import create_app

app = create_app()
gc.freeze()
