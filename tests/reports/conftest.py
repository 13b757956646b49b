"""The admin panel's staff fixtures, for the report pages."""

from tests.admin.conftest import make_staff, signed_in

__all__ = ["make_staff", "signed_in"]
