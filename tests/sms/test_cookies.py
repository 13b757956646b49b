"""Machine endpoints carry no cookie session; the browser pages keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request, session
from flask.testing import FlaskClient

from tests.sms.support import inbound_params, post_signed, twilio_settings


@pytest.fixture
def app_config() -> dict[str, Any]:
    return twilio_settings()


def test_the_webhook_opens_no_session_and_sets_no_cookie(client: FlaskClient) -> None:
    client.set_cookie("session", "not-even-a-valid-signature")
    response = post_signed(client, "/sms/twilio", inbound_params("+8613800138000", "HELP", "SMc1"))
    assert response.status_code == 200
    assert "<Message>" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers


def test_machine_paths_open_no_session_and_the_null_one_refuses_writes(app: Flask) -> None:
    for path in ("/api/v1/members", "/sms/twilio"):
        with app.test_request_context(path, method="POST"):
            assert app.session_interface.open_session(app, request) is None
    with app.test_request_context("/api/v1/members"), pytest.raises(RuntimeError):
        session["x"] = 1
    with app.test_request_context("/sms/simulator"):
        assert app.session_interface.open_session(app, request) is not None
