"""What every request to ``tracer serve`` passes through (pure ASGI middleware, outermost first):

* :class:`AccessLog` — one log line per request, the link's token replaced by ``…``
  (a token in a log is a key left in a door);
* :class:`SecurityHeaders` — Content-Security-Policy (scripts only from the server and the
  page's own known inline script, no frames, forms only to the server), nosniff, no
  referrer (a link's token never leaves in a Referer), no caching of a student's page,
  HSTS when served over HTTPS;
* :class:`Errors` — an exception becomes a short page with a reference, and one line in
  the log: never a stack trace in the browser (nor a multi-line one in the log);
* :class:`SizeLimit` — a request body over the limit (16 KiB: an answer is a few bytes)
  is refused with 413 before it is read, a path over 2,000 characters with 414.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import traceback
from typing import Callable

from tracer.spec.errors import one_line

#: a link's token in any text: 32 URL-safe characters standing alone
_TOKEN_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
MAX_BODY = 16 * 1024
MAX_PATH = 2000

access_log = logging.getLogger("tracer.serve.access")
error_log = logging.getLogger("tracer.serve.error")


def redact(text: str) -> str:
    """``text`` without any link token (``/s/…/answer``)."""
    return _TOKEN_IN_TEXT.sub("…", text)


class _Refused(Exception):
    def __init__(self, status: int):
        self.status = status


async def _send_page(send, status: int, body: bytes, content_type: bytes = b"text/html; charset=utf-8") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SizeLimit:
    def __init__(self, app, page: Callable[[int, str], str], max_body: int = MAX_BODY):
        self.app = app
        self.page = page
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("raw_path") or scope["path"].encode()) > MAX_PATH:
            return await _send_page(send, 414, self.page(414, "The address is too long").encode())
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            if declared is not None and int(declared) > self.max_body:
                return await _send_page(send, 413, self.page(413, "The request is too large").encode())
        except ValueError:
            return await _send_page(send, 400, self.page(400, "A malformed request").encode())
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _Refused(413)
            return message

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _Refused as refused:
            if not started:
                await _send_page(send, refused.status, self.page(refused.status, "The request is too large").encode())


class Errors:
    """The last net: any exception is one log line (with a reference) and a short page."""

    def __init__(self, app, page: Callable[[int, str], str]):
        self.app = app
        self.page = page

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as err:  # noqa: BLE001 — the one place every error of a request ends
            reference = secrets.token_hex(4)
            if not err.__dict__.get("tracer_logged"):  # the application's handler logged it already
                error_log.error("%s", error_line(reference, err, scope))
            if not started:
                body = self.page(500, f"Something went wrong on the server (reference {reference}); your earlier answers are kept")
                await _send_page(send, 500, body.encode())


def error_line(reference: str, err: BaseException, scope) -> str:
    """``error 1a2b3c4d: ZeroDivisionError: division by zero at tracer/serve/app.py:120 in answer (POST /s/…/answer)``"""
    frames = traceback.extract_tb(err.__traceback__)
    where = ""
    if frames:
        frame = frames[-1]
        tail = "/".join(frame.filename.replace("\\", "/").split("/")[-3:])
        where = f" at {tail}:{frame.lineno} in {frame.name}"
    request = f" ({scope.get('method', '')} {scope.get('path', '')})"
    return redact(one_line(f"error {reference}: {type(err).__name__}: {err}{where}{request}", 600))


class SecurityHeaders:
    def __init__(self, app, script_hashes: list[str], https: bool):
        self.app = app
        scripts = " ".join(["'self'"] + [f"'{h}'" for h in script_hashes])
        policy = ("default-src 'none'; "
                  f"script-src {scripts}; "
                  "style-src 'self' 'unsafe-inline'; "  # the page's style sheet and the figures' style attributes
                  "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ]
        if https:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += self.headers
                headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class AccessLog:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 0

        async def watched_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            client = (scope.get("client") or ("-", 0))[0]
            access_log.info('%s "%s %s" %s %.1f ms', client, scope.get("method", ""), redact(scope.get("path", "")), status or "-",
                            (time.perf_counter() - started) * 1000)
