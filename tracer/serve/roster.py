"""The class list (``--roster students.csv``) and the links written for the instructor.

A roster is a CSV with a header: ``id`` (required: what ``marks.csv`` calls the student),
``name`` and ``variant`` (optional). A student without a variant is given one in turn,
1, 2, …, the quiz's count, 1, … in the roster's order. ``links.csv`` has one row per
student (id, name, variant, link); the instructor's link goes to ``instructor-link.txt``
beside it. Both files are readable by their owner only, and the same at every start (with the
same base URL).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from tracer.bounds import MAX_TEXT
from tracer.files import FileRefused, read_text, write_atomically
from tracer.spec import SpecError
from tracer.spec.errors import unprintable

#: a student's id and name: at most this many characters (the database's columns)
MAX_ID = 200


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    variant: int


def read_roster(path: str | Path, variants: int) -> list[Student]:
    source = str(path)
    try:
        text = read_text(path, MAX_TEXT, encoding="utf-8-sig")
    except FileRefused as err:
        raise SpecError(source, "", str(err)) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SpecError(source, "", "empty: a header row id[, name][, variant] expected") from None
    except csv.Error as err:
        raise SpecError(source, "line 1", f"not CSV ({err})") from None
    if "id" not in header:
        raise SpecError(source, "header", f"a column id expected, got {', '.join(header) or 'none'}")
    col = {name: header.index(name) for name in ("id", "name", "variant") if name in header}
    students: list[Student] = []
    seen: set[str] = set()
    try:
        rows = list(enumerate(reader, start=2))
    except csv.Error as err:
        raise SpecError(source, "", f"not CSV ({err})") from None
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        student = cells[col["id"]].strip()
        name = cells[col["name"]].strip() if "name" in col else ""
        for field, value in (("id", student), ("name", name)):
            bad = unprintable(value)
            if bad is not None or len(value) > MAX_ID:
                raise SpecError(source, f"line {line}: {field}", f"one line of printable text of at most {MAX_ID} characters expected")
        if not student:
            raise SpecError(source, f"line {line}: id", "a student id expected, got nothing")
        if student in seen:
            raise SpecError(source, f"line {line}: id", f"{student!r} is listed twice")
        seen.add(student)
        given = cells[col["variant"]].strip() if "variant" in col else ""
        if given:
            try:
                variant = int(given)
            except ValueError:
                raise SpecError(source, f"line {line}: variant", f"a variant number expected, got {given!r}") from None
            if not 1 <= variant <= variants:
                raise SpecError(source, f"line {line}: variant", f"a variant from 1 to {variants} expected, got {variant}")
        else:
            variant = len(students) % variants + 1
        students.append(Student(student, name, variant))
    if not students:
        raise SpecError(source, "", "no student listed (one row per student under the header id[, name][, variant])")
    return students


def links_csv(rows: list[tuple[Student, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "variant", "link"])
    for student, link in rows:
        writer.writerow([student.id, student.name, student.variant, link])
    return out.getvalue()


def write_private(path: str | Path, text: str) -> Path:
    """``text`` written whole (tracer.files), readable and writable by its owner only."""
    path = Path(path)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # the mode write_atomically then keeps
    written = write_atomically(path, text)
    os.chmod(written, 0o600)
    return written
