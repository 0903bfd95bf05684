"""``tracer serve`` under a class: 300 students answering 10 questions each, at once, on SQLite and PostgreSQL.

    python3 benchmarks/serve.py                       # the table of the README / docs/serve.md
    python3 benchmarks/serve.py --students 60 --think 0 --databases sqlite

Everything runs on this machine, over the loopback interface only (127.0.0.1), and stops by
itself: a bounded number of requests, each with a timeout, the whole run under --deadline.

The quiz: Mazur's network, 30 variants, 10 open questions (the 8 weight gradients, w5⁺ and the
loss after). The server: ``python3 -m tracer serve`` with a roster of --students (their links from
links.csv), on an SQLite file or on a PostgreSQL cluster of the benchmark's own (initdb in a
temporary folder, fsync on, as in production), --workers processes. Each simulated student opens
their page (the CSRF token is on it), then enters their 10 answers in order, each marked at once
(the page's script posts it, Accept: application/json), waiting a random think time (exponential,
mean --think seconds; 0: as fast as the server answers) before each. Four in five answers are the
key's, the fifth is 10 % off (marked wrong, diagnosed; what follows from it may be carried).

Per database two runs:
- the load: answers/s over the run and the marking latency of an answer as the student's browser
  sees it (request sent to verdict received), p50/p95/p99;
- the kill: the same load, the server SIGKILLed when half the answers are acknowledged, started
  again; the students go on (an answer that got no reply is entered again). Lost: answers that
  were acknowledged (a verdict came back) but are not in submissions.csv after the restart.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pg_cluster  # noqa: E402  (tests/pg_cluster.py: a PostgreSQL of our own)
import serve_support  # noqa: E402  (tests/serve_support.py: the quiz, the server process)
from tracer.serve.marking import Marking  # noqa: E402
from tracer.serve.storage import sqlite_url  # noqa: E402

ASK = ["dloss/dW2[1,1]", "dloss/dW2[1,2]", "dloss/dW2[2,1]", "dloss/dW2[2,2]", "dloss/dW1[1,1]", "dloss/dW1[1,2]",
       "dloss/dW1[2,1]", "dloss/dW1[2,2]", "W2[1,1]'", "loss_after"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


class Class:
    """The students' answers, fixed by a seed: 4 in 5 the key's, the fifth 10 % off."""

    def __init__(self, marking: Marking, students: int, seed: int):
        rng = random.Random(seed)
        self.answers: dict[str, list[str]] = {}
        for k in range(students):
            variant = k % marking.variants + 1
            row = []
            for entry in marking.questions(variant):
                row.append(entry.answer if rng.random() < 0.8 else serve_support.four(entry.value * 1.1))
            self.answers[f"s{k:03d}"] = row


class Connection:
    """One student's keep-alive HTTP/1.1 connection, read and written by hand on asyncio's streams: a
    load generator's own cost per request is then a few dozen microseconds (httpx's is milliseconds,
    on the same two cores as the server). ``where()`` says the server's current port."""

    def __init__(self, where):
        self.where = where
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", accept: str = "text/html") -> tuple[int, bytes]:
        if self.writer is None:
            host, port = self.where()
            self.reader, self.writer = await asyncio.open_connection(host, port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as a browser
        head = (f"{method} {path} HTTP/1.1\r\nHost: {':'.join(map(str, self.where()))}\r\nAccept: {accept}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        try:
            self.writer.write(head.encode() + body)
            await self.writer.drain()
            status_line = await self.reader.readline()
            length = 0
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            payload = await self.reader.readexactly(length)
            return int(status_line.split()[1]), payload
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            self.close()
            raise ConnectionError("no reply") from None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def student(where, path: str, answers: list[str], think: float, rng: random.Random, record: dict, stop_at: float) -> None:
    """Open the page, then each answer after a think time; an answer without a reply (the server gone)
    is entered again until the server answers (or the run's deadline)."""
    connection = Connection(where)
    csrf = None
    while csrf is None and time.monotonic() < stop_at:
        try:
            status, page = await asyncio.wait_for(connection.request("GET", path), 60)
            marker = b'name="csrf" value="'
            csrf = page.split(marker, 1)[1].split(b'"', 1)[0].decode() if status == 200 else None
        except (ConnectionError, asyncio.TimeoutError):
            connection.close()
            await asyncio.sleep(0.5)
    for question, text in enumerate(answers, start=1):
        if think:
            await asyncio.sleep(rng.expovariate(1 / think))
        body = urlencode({"csrf": csrf, "question": question, "answer": text}).encode()
        while time.monotonic() < stop_at:
            sent = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(connection.request("POST", f"{path}/answer", body, "application/json"), 60)
            except (ConnectionError, asyncio.TimeoutError):
                connection.close()
                record["unanswered"] += 1
                await asyncio.sleep(0.5)  # the server is gone: enter it again when it is back
                continue
            if status == 200:
                record["latency"].append(time.perf_counter() - sent)
                record["acknowledged"].append((path, question, text))
                break
            record["errors"][status] = record["errors"].get(status, 0) + 1
            await asyncio.sleep(0.5)
    connection.close()


async def run_class(where, links: dict[str, str], klass: Class, think: float, seed: int, deadline: float,
                    kill_at_half=None) -> dict:
    """Every student at once; with ``kill_at_half``, that is run (in a thread) when half the answers are acknowledged."""
    record: dict = {"latency": [], "acknowledged": [], "errors": {}, "unanswered": 0}
    total = sum(len(a) for a in klass.answers.values())
    stop_at = time.monotonic() + deadline
    rng = random.Random(seed)
    tasks = [asyncio.create_task(student(where, httpx.URL(links[s]).path, klass.answers[s], think, random.Random(rng.random()),
                                         record, stop_at)) for s in klass.answers]
    started = time.perf_counter()
    if kill_at_half is not None:
        while len(record["acknowledged"]) < total // 2 and time.monotonic() < stop_at:
            await asyncio.sleep(0.01)
        record["acknowledged_at_kill"] = len(record["acknowledged"])
        await asyncio.get_running_loop().run_in_executor(None, kill_at_half)
    await asyncio.gather(*tasks)
    record["seconds"] = time.perf_counter() - started
    return record


def serve_once(quiz: Path, url: str, roster: Path, links: Path, workers: int) -> serve_support.ServerProcess:
    return serve_support.ServerProcess(quiz, url, roster, links, serve_support.free_port(), "--rate", "10000",
                                       "--workers", str(workers)).start()


def stored(server: serve_support.ServerProcess, links_file: Path) -> set[tuple[str, int, str]]:
    instructor = (links_file.parent / "instructor-link.txt").read_text().strip()
    instructor = server.base + httpx.URL(instructor).path
    text = httpx.get(f"{instructor}/submissions.csv", timeout=120).text
    paths = {row["id"]: httpx.URL(row["link"]).path for row in csv.DictReader(links_file.open(encoding="utf-8"))}
    return {(paths[r["id"]], int(r["question"]), r["answer"]) for r in csv.DictReader(io.StringIO(text))}


def measure(kind: str, quiz: Path, folder: Path, klass: Class, args, cluster) -> dict:
    roster = folder / "class.csv"
    roster.write_text("id\n" + "\n".join(klass.answers) + "\n", encoding="utf-8")
    results = {}
    for phase in args.phases.split(","):
        url = sqlite_url(folder / f"{phase}.sqlite3") if kind == "sqlite" else cluster.create_database(f"bench_{phase}_{os.getpid()}")
        links = folder / f"links-{phase}.csv"
        server = serve_once(quiz, url, roster, links, args.workers)
        urls = {row["id"]: row["link"] for row in csv.DictReader(links.open(encoding="utf-8"))}
        holder = {"server": server}

        def kill_and_restart() -> None:
            holder["server"].kill()
            holder["killed_at"] = time.perf_counter()
            holder["server"] = serve_once(quiz, url, roster, links, args.workers)
            holder["down"] = time.perf_counter() - holder["killed_at"]

        try:
            def where():  # the restarted server listens on another port: the students follow it there
                base = httpx.URL(holder["server"].base)
                return base.host, base.port

            record = asyncio.run(run_class(where, urls, klass, args.think, args.seed + (phase == "kill"), args.deadline,
                                           kill_and_restart if phase == "kill" else None))
            present = stored(holder["server"], links)
        finally:
            holder["server"].stop()
        record["lost"] = len([a for a in record["acknowledged"] if a not in present])
        record["down"] = holder.get("down")
        results[phase] = record
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--think", type=float, default=5.0, help="mean think time before each answer, seconds (0: none)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (tracer serve --workers)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=600, help="seconds at most per run")
    parser.add_argument("--phases", default="load,kill", help="load (the latency), kill (SIGKILL half-way): one or both")
    args = parser.parse_args()
    if not 1 <= args.students <= 2000:
        parser.error("--students: 1 to 2000")
    folder = Path(tempfile.mkdtemp(prefix="tracer-bench-serve-"))
    print(f"making the quiz (30 variants, 10 questions) in {folder} …", file=sys.stderr)
    quiz = serve_support.make_quiz(folder / "quiz", count=30, seed=1, ask=ASK)
    klass = Class(Marking(quiz), args.students, args.seed)
    cluster = None
    rows = []
    try:
        for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
            if kind == "postgresql" and cluster is None:
                cluster = pg_cluster.Cluster(fsync=True).start()
            print(f"{kind}: {args.students} students × 10 answers, think {args.think:g} s, {args.workers} worker(s) …", file=sys.stderr)
            (folder / kind).mkdir()
            rows.append((kind, measure(kind, quiz, folder / kind, klass, args, cluster)))
    finally:
        if cluster is not None:
            cluster.stop()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.students} students × 10 answers, think time {args.think:g} s (mean), {args.workers} server process(es), "
          f"{os.cpu_count()} cores; load average at the end {load} (1, 5, 15 min)")
    print(f"{'database':>10}  {'answers':>7}  {'answers/s':>9}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'errors':>6}  "
          f"{'acked at kill':>13}  {'acked in all':>12}  {'lost after SIGKILL':>18}  {'down s':>6}")
    for kind, found in rows:
        load, kill = found.get("load"), found.get("kill", {"lost": "-", "down": None})
        if load is None:
            print(f"{kind:>10}  {'':>7}  {'':>9}  {'':>7}  {'':>7}  {'':>7}  {'':>6}  {kill.get('acknowledged_at_kill', 0):>13}  "
                  f"{len(kill.get('acknowledged', [])):>12}  {kill['lost']:>18}  {kill['down'] or 0:>6.1f}")
            continue
        latency = [x * 1000 for x in load["latency"]]
        print(f"{kind:>10}  {len(load['acknowledged']):>7}  {len(load['acknowledged']) / load['seconds']:>9.1f}  "
              f"{statistics.median(latency):>7.1f}  {percentile(latency, 95):>7.1f}  {percentile(latency, 99):>7.1f}  "
              f"{sum(load['errors'].values()):>6}  {kill.get('acknowledged_at_kill', 0):>13}  {len(kill.get('acknowledged', [])):>12}  "
              f"{kill['lost']:>18}  {kill['down'] or 0:>6.1f}")


if __name__ == "__main__":
    main()
