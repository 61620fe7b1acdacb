"""A fake Google Sheets API v4 over real HTTP, for the tests (see server.FakeSheets)."""

from tests.sheets_fake.model import ApiError
from tests.sheets_fake.schema import check_body, check_query, validate_body
from tests.sheets_fake.server import DEFAULT_EMAIL, FakeAdapter, FakeSheets, Recorded

__all__ = [
    "DEFAULT_EMAIL",
    "ApiError",
    "FakeAdapter",
    "FakeSheets",
    "Recorded",
    "check_body",
    "check_query",
    "validate_body",
]
