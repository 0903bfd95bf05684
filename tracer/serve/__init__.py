"""``tracer serve``: a class's quiz as web pages, each answer marked as ``tracer grade`` marks it.

One job per module:

* :mod:`tracer.serve.schema` — the tables (SQLAlchemy Core); their history is the Alembic
  migrations under ``migrations/``;
* :mod:`tracer.serve.storage` — the database: SQLite (WAL) or PostgreSQL, every submission
  appended with its time, never overwritten;
* :mod:`tracer.serve.tokens` — the students' and the instructor's secret links, CSRF tokens;
* :mod:`tracer.serve.roster` — the class list (``--roster students.csv``) and ``links.csv``;
* :mod:`tracer.serve.marking` — the one call into :mod:`tracer.teach.grade` (the marking of
  ``tracer grade``, not a copy of it) and the exports equal to its files;
* :mod:`tracer.serve.pages` — the pages, from the templates and style sheet of ``-f html``;
* :mod:`tracer.serve.guard` — what every request passes: size limit, security headers, a
  log line without tokens, one line (never a stack trace) for an error;
* :mod:`tracer.serve.app` — the routes (Starlette), run by uvicorn.

Nothing here computes or formats mathematics: the numbers and verdicts come from
``tracer.teach``, the equations from ``tracer.render``.
"""
