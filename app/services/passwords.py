"""Password policy and hashing (OWASP ASVS V2 basics), the one place either is decided.

Policy: at least 12 characters and at most 1024 (any characters, spaces and Unicode included; no
composition rules, which push people to ``Password1!``), not one of the 10,000 most common passwords
(a vendored list, ``app/data/common_passwords.txt``), also not with digits or symbols added at the
end, not one character repeated, and not containing the user's email address or the name before its
``@``. Every place a password is set calls ``check_password_policy``: adding a user (dashboard, CLI),
changing one's password, an operator's reset (CLI), the demo seed.

Hashing: Werkzeug's scrypt with pinned parameters, N=2**15 (32768), r=8, p=1 (about 32 MiB of memory
per hash), a 16-character random salt and a 64-byte key, stored as
``scrypt:32768:8:1$<salt>$<hex>``. A stored hash made with other parameters (or another method) is
replaced on the next successful sign-in, while the plain password is at hand (``needs_rehash``).
"""
from __future__ import annotations

import hashlib
import hmac
import string
from functools import lru_cache
from pathlib import Path

from flask import current_app
from werkzeug.security import generate_password_hash

from app.services.errors import Invalid

MIN_LENGTH = 12
# Long enough for any passphrase, short enough that hashing it is no denial of service.
MAX_LENGTH = 1024
HASH_METHOD = "scrypt:32768:8:1"
SALT_LENGTH = 16
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"
# The part of an email before the @ counts as "containing the email" only from this length on:
# "admin" or "bjorn.dahl" in a password is guessable; shorter parts ("kari", "demo", "ola") are
# everyday words, and refusing them would refuse good passphrases.
MIN_LOCAL_PART = 5


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.casefold() for line in lines if line and not line.startswith("#"))


def policy_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` may not be used by the user with ``email``, or None when it may."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Password must be at most {MAX_LENGTH} characters"
    folded = password.casefold()
    if len(set(folded)) == 1:
        return "Password must not be one character repeated"
    if _common(folded):
        return "Password is one of the most common passwords; choose another"
    email = (email or "").strip().casefold()
    local = email.partition("@")[0]
    if email and (email in folded or (len(local) >= MIN_LOCAL_PART and local in folded)):
        return "Password must not contain your email address or the name before its @"
    return None


def _common(folded: str) -> bool:
    """On the list as it is, or once the digits and symbols people add to meet a length are taken
    off the end ("password1234", "iloveyou2024!")."""
    common = common_passwords()
    stem = folded.rstrip(_PADDING)
    return folded in common or folded.strip() in common or (stem != folded and stem in common)


_PADDING = string.digits + string.punctuation + string.whitespace


def check_password_policy(password: str, email: str = "") -> None:
    """Raise ``Invalid`` (422, the message says which rule) unless ``password`` may be used."""
    if problem := policy_problem(password, email):
        raise Invalid(problem)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD, salt_length=SALT_LENGTH)


def needs_rehash(stored: str) -> bool:
    """Made with other parameters than today's: replace it at the next sign-in."""
    method, _, rest = (stored or "").partition("$")
    salt = rest.partition("$")[0]
    return method != HASH_METHOD or len(salt) != SALT_LENGTH


def session_token(stored_hash: str) -> str:
    """What a session carries to show it began under the user's current password. Keyed with
    SECRET_KEY: the session cookie is signed, not encrypted, so nothing in it may be checkable
    against the password offline."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"session:" + (stored_hash or "").encode(), hashlib.sha256).hexdigest()[:20]
