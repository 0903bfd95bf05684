"""``tracer serve``: argument parsing, exit codes, nothing else (the application is :mod:`tracer.serve`)."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from tracer.cli.common import on_error, refuse_overwriting_inputs
from tracer.files import FileRefused
from tracer.spec import SpecError

try:  # the optional extra: pip install 'backprop-tracer[serve]' (scripts/setup.sh installs it)
    from tracer.serve.app import Server, Settings
    from tracer.serve.run import PortRefused, bind, serve as run_server
    from tracer.serve.storage import StoreError, sqlite_url

    MISSING = ""
except ImportError as err:  # pragma: no cover - exercised only without the extra
    MISSING = err.name or str(err)


@click.command()
@click.argument("quizdir", type=click.Path(file_okay=False))
@click.option("--roster", type=click.Path(dir_okay=False), default=None,
              help="The class: a CSV with a column id (and name, variant); one secret link per student goes to links.csv. "
                   "Without it: open practice, each visitor a fresh variant.")
@click.option("--mode", type=click.Choice(["practice", "exam"]), default="practice", show_default=True,
              help="practice: each answer marked at once, hints, another variant; exam: one submission while the exam "
                   "is open, marks shown when released (needs --roster).")
@click.option("--db", default=None, help="sqlite:///FILE (default: QUIZDIR/serve.sqlite3) or postgresql://USER@HOST/DB "
                                         "(several server processes, --workers or machines).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--base-url", default=None, help="The address students use, for the links (behind a reverse proxy: "
                                               "https://quiz.example.edu). Default: http://HOST:PORT (with --host 0.0.0.0, "
                                               "this machine's name).")
@click.option("--links", type=click.Path(dir_okay=False), default=None,
              help="Where the students' links go (default: QUIZDIR/links.csv); the instructor's goes beside it, to instructor-link.txt.")
@click.option("--problem", "problem_file", type=click.Path(dir_okay=False), default=None,
              help="The quiz's problem file, when it is not where the key says (answers.csv's file column).")
@click.option("--carried", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Credit for an answer wrong only because of the student's own earlier wrong answer (as tracer grade).")
@click.option("--rate", type=click.IntRange(1, 10000), default=30, show_default=True, help="Answers per minute per student at most.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server processes (share the port).")
def serve(quizdir: str, roster: str | None, mode: str, db: str | None, host: str, port: int, base_url: str | None,
          links: str | None, problem_file: str | None, carried: float, rate: int, workers: int) -> None:
    """A quiz as web pages: each student works their own variant, each answer marked as
    `tracer grade` marks it (right, accepted, carried from which answer, wrong with the mistake).

    QUIZDIR is a folder `tracer quiz` made (its answers.csv is the key). The instructor's page
    (its link in instructor-link.txt) shows the class live, the mistakes per question, the
    marks.csv that `tracer grade` would write, each variant's worked solution, and in exam mode
    opens, closes and releases the exam. Every answer is stored with its time (SQLite in
    QUIZDIR, or PostgreSQL). docs/serve.md: running it for a class, HTTPS, PostgreSQL.

    \b
    Example:
      tracer quiz examples/mazur.yaml --count 30 --seed 1 -o hw3
      tracer serve hw3 --roster class.csv
    """
    if MISSING:
        on_error(f"serve: the web server's packages are not installed ({MISSING}); pip install 'backprop-tracer[serve]' "
                 "or run scripts/setup.sh", 3)
    if mode == "exam" and not roster:
        on_error("--mode exam: a roster is needed (--roster students.csv): an exam gives each student one link", 2)
    folder = Path(quizdir)
    if not (folder / "answers.csv").is_file():
        on_error(f"{quizdir}: no answers.csv (the quiz's key); make the quiz with tracer quiz FILE -o {quizdir}", 2)
    links_file = Path(links) if links else folder / "links.csv"
    refuse_overwriting_inputs([links_file, links_file.parent / "instructor-link.txt"],
                              [folder / "answers.csv", roster, problem_file])
    url = db or sqlite_url(folder / "serve.sqlite3")
    shown_host = socket.getfqdn() if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)  # a link to 0.0.0.0 leads nowhere
    settings = Settings(quizdir=str(folder), db=url, mode=mode, roster=roster, problem=problem_file,
                        base_url=(base_url or f"http://{shown_host}:{port}").rstrip("/"), links=links, rate=rate, carried=carried)
    try:
        sock = bind(host, port)
    except PortRefused as err:
        on_error(str(err), 2)
    try:
        server = Server(settings)
    except (SpecError, StoreError) as err:
        sock.close()
        on_error(str(err), 2)
    except FileRefused as err:
        sock.close()
        on_error(f"{links_file}: {err}", 2)
    where = f"the students' links in {links_file}, " if roster else f"open practice at {settings.base_url}/, "
    click.echo(f"tracer serve: {server.marking.key.file} (seed {server.marking.key.seed}, {server.marking.variants} variants), "
               f"{mode} mode; {where}the instructor's page at the link in {server.links_file}; database "
               f"{server.store.url.render_as_string(hide_password=True)}", err=True)
    if workers == 1:  # each worker warms its own
        server.warm()
    run_server(server, sock, workers)
