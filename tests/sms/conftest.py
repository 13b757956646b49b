from tests.sms.support import fake_twilio  # noqa: F401
