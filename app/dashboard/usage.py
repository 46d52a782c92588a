"""(being written)"""
from app.dashboard import dashboard  # noqa: F401
