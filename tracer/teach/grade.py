"""Mark a class's answers to a quiz the way a teacher marks: `tracer grade QUIZDIR ANSWERS.csv`.

A quiz directory (``tracer quiz … -o QUIZDIR``) has its ``answers.csv`` key: the problem
file, the seed, and per variant and question the quantity asked, the answer and the
tolerance a hand calculation with the sheet's digits needs (:mod:`tracer.teach.rounding`).
The set is made again from the file and the seed (the same file and seed give the same
variants; a key that does not match them is refused), and each student's answers are
judged as claims about their variant (:mod:`tracer.teach.check`):

* within the key's tolerance of the true value — ``right`` (a hand calculation's rounding);
* otherwise the checker's verdict on the student's own numbers: ``habit`` (the true value
  truncated), ``carried`` (wrong, but within the same tolerance of what the student's own
  earlier wrong answer gives: error carried forward, partial credit), ``wrong`` (the slip is
  in this step, with what it should be and, where it can tell, which mistake), ``invalid``
  (not a number) or blank;
* ``digits``: an answer that would be accepted but has fewer significant digits than the
  sheet asks (``0.11`` or ``0.12`` for 0.1245 at 4 digits; judged against a hand calculation
  carrying the answer's own digits), :attr:`Policy.digits` of the credit.

The tolerance is the checker's (:class:`tracer.teach.check.Checker` ``allowance``), so a
culprit named in a carried answer's feedback is always an answer marked ``wrong``.

The answers file has one row per student: ``id``, ``variant``, then one column per question,
headed ``q1``, ``q2``, … or by the quantity's name; a multiple-choice answer may be the
option's letter (a number may be written with a decimal comma, :func:`tracer.teach.digits.with_decimal_point`).
Marks: 1 for right and habit, :attr:`Policy.carried` (0.5) for carried, :attr:`Policy.digits`
(0.5) for too few digits, 0 otherwise. Nothing here formats a document beyond the plain feedback lines.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tracer import bounds
from tracer.bounds import MAX_TEXT
from tracer.core.derive import solve
from tracer.files import FileRefused, read_bytes, read_text
from tracer.spec import GraphProblem, SpecError, load
from tracer.teach.check import Checker, Claim
from tracer.teach.diagnosis import Diagnoser
from tracer.teach.digits import with_decimal_point
from tracer.teach.quiz import asked_step, generate, parse_spec
from tracer.teach.rounding import allowances

#: the verdicts a mark is given for, and how much of the question each is worth by default
CREDIT = {"right": 1.0, "habit": 1.0, "carried": 0.5, "digits": 0.5, "wrong": 0.0, "invalid": 0.0, "blank": 0.0}
#: the verdicts in the order a summary lists them
VERDICTS = ("right", "habit", "digits", "carried", "wrong", "invalid", "blank")


@dataclass(frozen=True)
class Policy:
    carried: float = 0.5  # partial credit for an error carried forward
    habit: float = 1.0  # a truncated (not rounded) answer
    digits: float = 0.5  # an answer accepted but for its digits: fewer significant digits than the sheet asks

    def credit(self, verdict: str) -> float:
        return {"carried": self.carried, "habit": self.habit, "digits": self.digits}.get(verdict, CREDIT[verdict])


@dataclass(frozen=True)
class KeyEntry:
    variant: int
    question: int
    quantity: str
    answer: str
    tolerance: Decimal
    value: float
    options: dict[str, str]  # letter → the option's number as printed


@dataclass(frozen=True)
class QuizKey:
    file: str
    seed: int
    entries: dict[tuple[int, int], KeyEntry]

    @property
    def variants(self) -> int:
        return max(v for v, _ in self.entries)

    def questions(self, variant: int) -> list[KeyEntry]:
        return sorted((e for (v, _), e in self.entries.items() if v == variant), key=lambda e: e.question)


@dataclass
class Mark:
    question: int
    quantity: str
    given: str  # the student's answer as written ("" blank)
    verdict: str
    credit: float
    answer: str  # the key's
    reason: str = ""
    culprit: str | None = None


@dataclass
class StudentResult:
    student: str
    variant: int
    marks: list[Mark] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(m.credit for m in self.marks)

    @property
    def out_of(self) -> int:
        return len(self.marks)

    @property
    def first_wrong(self) -> Mark | None:
        """Where it went wrong: the earliest ``wrong`` answer (a carried one only follows from it)."""
        return next((m for m in self.marks if m.verdict == "wrong"), None)


def read_key(directory: str | Path) -> QuizKey:
    path = Path(directory) / "answers.csv"
    try:
        text = read_text(path, MAX_TEXT)
    except FileRefused as err:
        raise SpecError(str(path), "", f"{err}; make it with tracer quiz … --formats csv") from None
    needed = {"file", "seed", "variant", "question", "quantity", "answer", "tolerance", "value", "options"}
    try:
        rows = list(csv.DictReader(io.StringIO(_one_line_ending(text))))
    except csv.Error as err:
        raise SpecError(str(path), "", f"not a quiz answer key ({err})") from None
    if not rows or not needed <= set(rows[0]):
        raise SpecError(str(path), "", f"not a quiz answer key (expected the columns {', '.join(sorted(needed))})")
    entries = {}
    for line, row in enumerate(rows, start=2):
        try:
            options = dict(part.split("=", 1) for part in (row["options"] or "").split() if "=" in part)
            entry = KeyEntry(int(row["variant"]), int(row["question"]), row["quantity"], row["answer"],
                             Decimal(row["tolerance"]), float(row["value"]), options)
        except (ValueError, TypeError, InvalidOperation):
            raise SpecError(str(path), f"line {line}", "not a row of a quiz answer key (variant, question, tolerance and value are numbers); "
                                                       "make the key again with tracer quiz … --formats csv") from None
        entries[(entry.variant, entry.question)] = entry
    files, seeds = {r["file"] for r in rows}, {r["seed"] for r in rows}
    if len(files) != 1 or len(seeds) != 1:
        raise SpecError(str(path), "", "answers of one quiz set expected (one file and one seed)")
    seed = seeds.pop()
    if seed is None or not seed.strip().isdigit() or len(seed) > 19:
        raise SpecError(str(path), "seed", f"a whole number expected, got {seed!r}")
    return QuizKey(files.pop(), int(seed), entries)


def _one_line_ending(text: str) -> str:
    """Every line break as ``\\n``: a CSV saved on an old Mac ends its lines with ``\\r`` alone,
    on Windows with ``\\r\\n``; the csv module reads neither from a string as it stands."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _answers_text(path: str | Path) -> str:
    """An answers file's text: UTF-8 (with or without Excel's byte-order mark) or UTF-16 with its
    byte-order mark (Excel's "Unicode text"); anything else is refused, saying how to save it."""
    source = str(path)
    try:  # a FIFO or a device refused at once, not waited on
        data = read_bytes(path, MAX_TEXT)
    except FileRefused as err:
        raise SpecError(source, "", str(err)) from None
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise SpecError(source, "", f"not {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text (byte {err.start + 1}); "
                                    "save the answers as CSV UTF-8") from None


@dataclass(frozen=True)
class Row:
    student: str
    variant: int
    answers: dict[int, str]  # question number → the answer as written
    line: int


def read_answers(path: str | Path, key: QuizKey) -> list[Row]:
    """One row per student: ``id``, ``variant``, then ``q1``, ``q2``, … (or the quantities' names)."""
    source = str(path)
    text = _one_line_ending(_answers_text(path))
    if "\x00" in text:
        raise SpecError(source, "", "a NUL character: not a text file; save the answers as CSV UTF-8")
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")  # Excel writes ; where the decimal mark is a comma
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return _read_rows(reader, source, key, delimiter)
    except csv.Error as err:
        raise SpecError(source, f"line {reader.line_num}", f"not a row of a CSV file ({err})") from None


def _read_rows(reader, source: str, key: QuizKey, delimiter: str = ",") -> list[Row]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise SpecError(source, "", "empty: a header row id, variant, q1, q2, … expected") from None
    lowered = [h.lower() for h in header]
    if "id" not in lowered or "variant" not in lowered:
        raise SpecError(source, "header", f"columns id and variant expected, got {', '.join(header) or 'none'}")
    id_col, variant_col = lowered.index("id"), lowered.index("variant")
    names = {e.quantity: e.question for e in key.questions(1)}
    columns: dict[int, int] = {}
    for c, h in enumerate(header):
        if c in (id_col, variant_col) or not h:
            continue
        if h.lower().startswith("q") and h[1:].isdigit():
            columns[c] = int(h[1:])
        elif h in names:
            columns[c] = names[h]
        else:
            raise SpecError(source, f"header[{c}]", f"q1, q2, … or a quantity of the quiz expected, got {h!r}")
    rows = []
    for n, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if any(cell.strip() for cell in cells[len(header):]):  # a field split in two: never graded shifted
            comma = ('; a decimal comma in a comma-separated file must be quoted ("0,1105"), or the file saved with ; between fields'
                     if delimiter == "," else "")
            raise SpecError(source, f"line {n}", f"{len(cells)} fields, but the header has {len(header)}{comma}")
        cells = cells + [""] * (len(header) - len(cells))
        student = cells[id_col].strip()
        given = cells[variant_col].strip()
        if not given.isdigit() or len(given) > 9:
            raise SpecError(source, f"line {n}: variant", f"a variant number expected, got {given[:40]!r}")
        variant = int(given)
        if not 1 <= variant <= key.variants:
            raise SpecError(source, f"line {n}: variant", f"a variant from 1 to {key.variants} expected, got {variant}")
        answers = {q: cells[c].strip() for c, q in columns.items()}
        rows.append(Row(student or f"line {n}", variant, answers, n))
    return rows


def _as_number(given: str, entry: KeyEntry) -> str:
    """The answer as a number's text: an option's letter becomes the option's number."""
    letter = given.strip().lower().strip("()")
    if entry.options and letter in entry.options:
        return entry.options[letter]
    return with_decimal_point(given.strip()).replace("−", "-")


def _claim(quantity: str, text: str, line: int) -> Claim:
    """A student's answer as a claim: a number within the bounds every claim is held to
    (:mod:`tracer.bounds`: 1e400 and 1e−400 are no answers a sheet asks for), else invalid."""
    number = bounds.claimed_number(text)
    if number is not None:
        return Claim(quantity, number, line)
    shown = text if len(text) <= 40 else text[:37] + "…"
    if bounds.NUMBER.match(text.replace("−", "-")):
        return Claim(quantity, "", line, f"{bounds.claimed_number_expected()}, got {shown!r}")
    return Claim(quantity, "", line, f"a number expected, got {shown!r}")


class Grader:
    """The quiz set made again from its key's file and seed, each variant solved once."""

    def __init__(self, directory: str | Path, problem_file: str | None = None, policy: Policy = Policy()):
        self.key = read_key(directory)
        self.policy = policy
        file = problem_file or self.key.file
        problem = load(file)
        if isinstance(problem, GraphProblem):
            raise SpecError(file, "", "tracer grade marks network quizzes (a graph quiz has no steps to carry errors through)")
        self.digits = parse_spec(problem).digits  # the sheet's significant digits
        self.variants = {v.number: v for v in generate(problem, self.key.variants, self.key.seed)}
        for (number, q), entry in self.key.entries.items():
            variant = self.variants.get(number)
            value = variant.questions[q - 1].value if variant is not None and q <= len(variant.questions) else math.nan
            if not math.isclose(value, entry.value, rel_tol=1e-12, abs_tol=1e-15):
                raise SpecError(str(Path(directory) / "answers.csv"), f"variant {number}, question {q}",
                                f"{entry.value!r} in the key, but {file} with seed {self.key.seed} gives {value!r}: not this quiz set")
        self._solutions: dict[int, object] = {}
        self._diagnosers: dict[int, Diagnoser] = {}
        self._allowances: dict[tuple[int, int], dict[str, Decimal]] = {}

    def solution(self, variant: int):
        if variant not in self._solutions:
            problem = self.variants[variant].problem
            self._solutions[variant] = solve(problem, derived_steps=min(3, max(1, problem.training.steps)), verify=False)  # type: ignore[union-attr]
        return self._solutions[variant]

    def diagnoser(self, variant: int) -> Diagnoser:
        """One per variant, shared by its students: a wrong answer's diagnosis makes the variant's
        mistaken worlds and other runs once for the class, not once per student (6× faster on a
        row of four wrong answers)."""
        if variant not in self._diagnosers:
            self._diagnosers[variant] = Diagnoser(self.solution(variant))
        return self._diagnosers[variant]

    def allowance(self, variant: int):
        """The tolerance of a hand calculation of this variant, by question and digits carried: the
        key's at the sheet's digits (or more), derived here (:func:`tracer.teach.rounding.allowances`,
        once per variant and digits) for an answer written with fewer."""
        entries = {e.quantity: e for e in self.key.questions(variant)}

        def tolerance(name: str, digits: int) -> Decimal | None:
            entry = entries.get(name)
            if entry is None:
                return None
            if digits >= self.digits:
                return entry.tolerance
            at = (variant, max(1, digits))
            if at not in self._allowances:
                solution = self.solution(variant)
                steps = {q: s for q in entries if (s := asked_step(solution, q)) is not None}
                try:
                    found = allowances(solution, list(steps.values()), at[1])
                except (ValueError, ZeroDivisionError, OverflowError):  # not computable at so few digits: no allowance
                    found = {}
                self._allowances[at] = {q: Decimal(repr(found[s.id].tolerance)) for q, s in steps.items() if s.id in found}
            return self._allowances[at].get(name)

        return tolerance

    def grade(self, row: Row) -> StudentResult:
        result = StudentResult(row.student, row.variant)
        entries = self.key.questions(row.variant)
        answered = [(e, _as_number(row.answers.get(e.question, ""), e)) for e in entries]
        claims = [_claim(e.quantity, text, row.line) for e, text in answered if text]
        checker = Checker(self.solution(row.variant), claims, diagnoser=self.diagnoser(row.variant),
                          allowance=self.allowance(row.variant), sheet_digits=self.digits) if claims else None
        verdicts = {v.claim.name: v for v in checker.verdicts} if checker is not None else {}
        for entry, text in answered:
            if not text:
                result.marks.append(Mark(entry.question, entry.quantity, "", "blank", 0.0, entry.answer, "no answer"))
                continue
            verdict = verdicts.get(entry.quantity)
            kind = verdict.verdict if verdict is not None else "invalid"
            reason = (verdict.reason or verdict.note) if verdict is not None else "not judged"
            culprit = verdict.culprit if verdict is not None and kind == "carried" else None
            result.marks.append(Mark(entry.question, entry.quantity, text, kind, self.policy.credit(kind), entry.answer, reason, culprit))
        return result


def grade(directory: str | Path, answers: str | Path, problem_file: str | None = None, policy: Policy = Policy()) -> list[StudentResult]:
    grader = Grader(directory, problem_file, policy)
    return [grader.grade(row) for row in read_answers(answers, grader.key)]


# -- what grade writes -------------------------------------------------------------------


def marks_csv(results: list[StudentResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    questions = max((len(r.marks) for r in results), default=0)
    header = ["id", "variant"] + [f"q{k}" for k in range(1, questions + 1)] + [f"q{k} verdict" for k in range(1, questions + 1)] + ["total", "out_of"]
    writer.writerow(header)
    for r in results:
        writer.writerow([r.student, r.variant] + [_credit(m.credit) for m in r.marks] + [m.verdict for m in r.marks] + [_credit(r.total), r.out_of])
    return out.getvalue()


def _credit(value: float) -> str:
    return f"{value:g}"


def feedback_md(result: StudentResult, title: str = "") -> str:
    """One student's page: each answer with its verdict, and where it went wrong."""
    lines = [f"# {title or 'Quiz'}: feedback for {result.student}", "", f"Variant {result.variant}. Marks: {_credit(result.total)} of {result.out_of}.", ""]
    first = result.first_wrong
    if first is not None:
        lines += [f"**Where it went wrong:** question {first.question} (`{first.quantity}`): {first.reason}.", ""]
    lines += ["| # | quantity | your answer | verdict | mark | answer |", "| --- | --- | --- | --- | --- | --- |"]
    for m in result.marks:
        lines.append(f"| {m.question} | `{m.quantity}` | {m.given or '—'} | {m.verdict} | {_credit(m.credit)} | {m.answer} |")
    notes = [m for m in result.marks if m.verdict not in ("right", "blank") and m.reason]
    if notes:
        lines += [""] + [f"- Question {m.question}: {m.verdict} — {m.reason}." for m in notes]
    return "\n".join(lines) + "\n"
