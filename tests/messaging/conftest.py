from sms.support import fake_twilio  # noqa: F401
