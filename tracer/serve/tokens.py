"""The secret links and the CSRF tokens of ``tracer serve``.

A link's token is its only credential (``/s/TOKEN`` a student's page, ``/i/TOKEN`` the
instructor's): 32 characters of URL-safe base64, 192 bits. A roster student's token and
the instructor's are derived from the quiz's secret (kept in the database) with HMAC-SHA256,
so that ``links.csv`` is the same file at every start; an open practice session's is drawn
at random. The database keeps only each token's SHA-256, by which a request is looked up:
a copy of the database gives no link.

A form carries a CSRF token bound to the page's own token (an HMAC of it), checked in
constant time; a form without a token of its own (starting open practice) carries the
value of a cookie set with the page (``SameSite=Strict``), the double-submit pattern.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

#: the characters of a token as it appears in a link
TOKEN_LENGTH = 32
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def derived(secret: bytes, purpose: str) -> str:
    """A token made from the quiz's secret for one purpose (``student:ID``, ``instructor``)."""
    return _b64(hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).digest())[:TOKEN_LENGTH]


def student_token(secret: bytes, student: str) -> str:
    return derived(secret, f"student:{student}")


def instructor_token(secret: bytes) -> str:
    return derived(secret, "instructor")


def random_token() -> str:
    return secrets.token_urlsafe(24)  # 24 bytes → 32 characters


def digest(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str) -> bool:
    return bool(TOKEN.match(token))


def csrf_for(secret: bytes, token: str) -> str:
    """The CSRF token of the forms of the page ``token`` opens."""
    return derived(secret, f"csrf:{token}")


def csrf_ok(secret: bytes, token: str, given: str | None) -> bool:
    return isinstance(given, str) and hmac.compare_digest(csrf_for(secret, token), given)


def same(a: str | None, b: str | None) -> bool:
    """Two secrets equal, compared in constant time (the double-submit cookie and its field)."""
    return isinstance(a, str) and isinstance(b, str) and bool(a) and hmac.compare_digest(a.encode(), b.encode())
