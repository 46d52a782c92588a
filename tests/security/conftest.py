"""The dashboard's fixtures (signed-in browsers per role) for the security tests."""
from tests.dashboard.conftest import browser, login_as, make_user  # noqa: F401
