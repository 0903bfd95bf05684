"""A PostgreSQL cluster of the tests' own: initdb and pg_ctl (Debian's package, scripts/install-postgres.sh)
in a temporary folder, listening on a Unix socket in that folder only (no TCP port, nothing shared with
the machine), stopped and removed at the end. Run as root (CI), the server runs as the user
``postgres`` (PostgreSQL refuses root) through runuser. Also used by benchmarks/serve.py.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian keeps them in /usr/lib/postgresql/VERSION/bin, off PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


class Cluster:
    def __init__(self, fsync: bool = False):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL's initdb is not installed (scripts/install-postgres.sh)")
        self.root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="tracer-pg-"))
        self.data = self.dir / "data"
        self.port = 5432
        self.fsync = fsync
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self.root:
            command = ["runuser", "-u", "postgres", "--"] + command
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "Cluster":
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "tracer", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C")
        options = f"-k {self.dir} -p {self.port} -c listen_addresses='' -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start", check=False)
        if done.returncode != 0:
            log = (self.dir / "log").read_text(errors="replace") if (self.dir / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log[-500:]}")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://tracer@/{database}?host={self.dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=str(self.dir), port=self.port, user="tracer", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
