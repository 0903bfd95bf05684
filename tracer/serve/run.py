"""Running ``tracer serve``: the socket bound first (a port in use is one line, exit 2), then
uvicorn in this process, or in ``--workers`` processes that share the socket (each makes the
quiz's marking and reads the database; the schema is migrated and the links written once,
here, before they start).

The log goes to stderr, one line per request (:class:`tracer.serve.guard.AccessLog`, the
links' tokens left out) and one line per error; uvicorn's own access log is off, since it
would write each link whole.
"""

from __future__ import annotations

import errno
import os
import socket

import uvicorn

from tracer.serve.app import Server, Settings, create_app

#: where a worker process finds its settings (the parent's, as JSON: no secret in them)
SETTINGS_VARIABLE = "TRACER_SERVE_SETTINGS"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "tracer.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


class PortRefused(Exception):
    """The address cannot be listened on; ``str(err)`` is one line."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        why = "in use by another program" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        raise PortRefused(f"--host {host} --port {port}: cannot listen there ({why})") from None
    sock.set_inheritable(True)
    return sock


def worker_app():
    """A worker's application (uvicorn's factory): the quiz made again from the parent's settings."""
    settings = Settings.from_json(os.environ[SETTINGS_VARIABLE])
    server = Server(settings, write_links=False)
    server.warm()
    return create_app(server)


def serve(server: Server, sock: socket.socket, workers: int = 1) -> None:
    common = dict(log_config=LOGGING, access_log=False, server_header=False, date_header=True, timeout_graceful_shutdown=5)
    if workers <= 1:
        config = uvicorn.Config(create_app(server), **common)
        uvicorn.Server(config).run(sockets=[sock])
        return
    os.environ[SETTINGS_VARIABLE] = server.settings.to_json()
    server.store.close()  # the workers open their own connections
    # the workers share the bound socket, passed by its descriptor (uvicorn's --fd)
    uvicorn.run("tracer.serve.run:worker_app", factory=True, workers=workers, fd=sock.fileno(), **common)
