"""Mark claimed numbers (a handout's, a student's) as a teacher does: each claim against the
truth AND against the claimant's own earlier claimed numbers, so that only the step where a
slip happens is ``wrong`` (SPEC.md §10).

A claim is a name (canonical, a theme's, ``…@end``), an expression of names
(:mod:`tracer.teach.claim_expression`), or an entry of a claimed vector or matrix
(:mod:`tracer.teach.claims`). Its verdict:

``right``    the true value at the claim's digits (either rounding of an exact tie, decided
             in exact decimal arithmetic) — or, with a note, the step's form evaluated from
             the claimant's own numbers above it when those are all ``right`` or ``habit``
             (the text computed right from its own printed, rounded or truncated, inputs);
``habit``    the true value (or that value from the claimant's right inputs) truncated
             instead of rounded: accepted, with a note;
``carried``  wrong, but what the step's form gives from the claimant's own numbers, one of
             which is ``wrong`` or ``carried``: ``culprit`` is the earliest ``wrong`` claim it
             follows from;
``wrong``    the slip is in this step: ``reason`` says what the claimant's inputs give and,
             where :mod:`tracer.teach.diagnosis` can tell, which mistake it is;
``digits``   (with a sheet's digits: ``tracer grade``) accepted as any of the above, but written
             with fewer significant digits than the sheet asks (``min_digits`` at least; trailing
             zeros left off are no missing digits): partial credit;
``invalid``  the entry cannot be judged (not a number, not a quantity): reported on its line.

A claim with fewer significant digits than ``min_digits`` is ``wrong`` unless it is the exact
value (0.05 is 0.05).

With an ``allowance`` (``tracer grade``: the tolerance of a hand calculation carrying the
sheet's digits, :mod:`tracer.teach.rounding`) a claim within it of the true value is ``right``,
and one within it of the value its own earlier numbers give follows from them (``carried``
when one of those is wrong): the student's rounding of the numbers they did not hand in is
allowed for in both. So a culprit is always a claim marked ``wrong``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Callable

from tracer import keys, notation
from tracer.keys import Key, NameError_, Partial
from tracer.core.solution import Chain, LookupError_, Solution, Step, dependencies, refs_of, substituted
from tracer.numbers import DEFAULT_DIGITS, fmt
from tracer.spec import GraphProblem
from tracer.teach import claim_expression
from tracer.teach.claim_expression import ExpressionError
from tracer.teach.claims import Claim, ClaimSet, load_claim_set, load_claims, parse_claim_set, parse_claims
from tracer.teach.diagnosis import Diagnoser, WrongStep, digit_slip
from tracer.teach.replay import Inputs, evaluate, exact_value, inputs_of, key_of, replay
from tracer.teach.digits import (
    as_claim,
    digits_text,
    follows,
    is_right,
    is_truncation,
    near_boundary,
    rounded_like,
    shown,
    significant_digits,
    truncated_like,
)

__all__ = ["Claim", "ClaimSet", "Checker", "Verdict", "check", "is_right", "load_claim_set", "load_claims", "parse_claim_set",
           "parse_claims", "report_json", "report_text", "summary"]

VERDICTS = ("right", "habit", "carried", "wrong", "invalid", "digits")
#: the tolerance of a hand calculation: (the claim's name, the significant digits carried) → ± how much, or None
Allowance = Callable[[str, int], "Decimal | None"]
#: the default demand on a claim's significant digits (an exact value is always enough)
MIN_DIGITS = 2
#: names of the learning rate in an expression claim (``-eta*dloss/dW2[1,1]``)
RATE_NAMES = ("eta", "η", "learning_rate", "lr")
_LOOKUP_ERRORS = (NameError_, LookupError_, KeyError, IndexError)


@dataclass
class Verdict:
    claim: Claim
    canonical: str = ""
    truth: float = math.nan
    verdict: str = "right"
    steps: list[Key] = field(default_factory=list)  # the step the claim is about (none: a given number, an expression)
    culprit: str | None = None  # carried: the earliest wrong claim it follows from
    reason: str = ""  # carried, wrong, invalid: why
    note: str = ""  # right, habit: how it was accepted when it is not simply the true value rounded
    expression: claim_expression.Node | None = None

    @property
    def right(self) -> bool:
        return self.verdict in ("right", "habit")

    @property
    def rounded_truth(self) -> str:
        return as_claim(self.truth, self.claim.text) if self.claim.text and math.isfinite(self.truth) else ""


@dataclass(frozen=True)
class _Own:
    """The step's value from the claimant's numbers, and the claims it used."""

    value: float
    used: tuple[Verdict, ...]
    how: str  # "claimed", "rounded" (its inputs rounded), "forward" (the forward pass rounded)
    exact: Decimal | None = None


class Checker:
    def __init__(self, solution: Solution, claims: list[Claim], source: str = "<claims>", explain: bool = True,
                 min_digits: int = MIN_DIGITS, diagnoser: Diagnoser | None = None,
                 allowance: Allowance | None = None, sheet_digits: int | None = None):
        self.solution = solution
        self.allowance = allowance
        self.sheet_digits = sheet_digits
        self.source = source
        self.explain = explain
        self.min_digits = min_digits
        self.order = {s.id: k for k, s in enumerate(solution.all_steps())}
        # the solution's diagnoses (its mistaken worlds, its other runs): shared by every claimant of one
        # solution when the caller keeps one (tracer grade: one per variant), made here otherwise
        self.diagnoser = diagnoser if diagnoser is not None else Diagnoser(solution)
        self.verdicts: list[Verdict] = [self._resolved(c) for c in claims]
        self.by_step: dict[Key, Verdict] = {}  # a claim about one step, by the step's key
        for v in self.verdicts:
            if v.verdict != "invalid" and len(v.steps) == 1 and v.expression is None:
                self.by_step.setdefault(v.steps[0], v)
        for v in sorted((v for v in self.verdicts if v.verdict != "invalid"), key=self._position):
            self._judge(v)

    # -- resolving names ----------------------------------------------------------------
    def _position(self, v: Verdict) -> tuple:
        if v.expression is not None:
            return (2, 0)
        return (1, self.order.get(v.steps[0], 0)) if v.steps else (0, 0)

    def _name_value(self, name: str) -> tuple[float, Step | None, str]:
        """value, step (None for a given number), canonical name."""
        body = name.strip()
        if body in RATE_NAMES:
            rates = set(self.solution.problem.rate_vector) if hasattr(self.solution.problem, "rate_vector") else set()
            if len(rates) == 1:
                return rates.pop(), None, "eta"
        number = self.solution.value(body)
        try:
            step = self.solution.step(body)
        except _LOOKUP_ERRORS:
            target, _ = self.solution.resolve(body)
            return number, None, str(target)
        return number, step, str(step.id)

    def _scan(self, text: str, start: int) -> int | None:
        """Where the longest name at ``start`` ends: canonical, a graph's, a theme's, or the rate's."""
        problem = self.solution.problem
        found = keys.scan(text, start, nodes=problem.names) if isinstance(problem, GraphProblem) else notation.scan_name(text, start, problem)
        ends = [start + len(rate) for rate in RATE_NAMES if text.startswith(rate, start)] + ([found[1]] if found else [])
        return max(ends, default=None)

    def _is_name(self, text: str) -> bool:
        try:
            self._name_value(text)
        except _LOOKUP_ERRORS + (ValueError,):
            return False
        return True

    def _resolved(self, claim: Claim) -> Verdict:
        if claim.invalid:
            return Verdict(claim, verdict="invalid", reason=claim.error)
        try:
            truth, step, canonical = self._name_value(claim.name)
            return Verdict(claim, canonical, truth, steps=[step.id] if step is not None else [])
        except _LOOKUP_ERRORS + (ValueError,) as err:
            problem = f"not a quantity of this problem ({err})"
        try:
            tree = claim_expression.parse(claim.name, self._scan, self._is_name)
        except ExpressionError as err:
            plain = not any(c in claim.name for c in "*×·^()") and " " not in claim.name.strip()
            return Verdict(claim, verdict="invalid", reason=problem if plain else f"not an expression of quantity names ({err})")
        try:
            truth = claim_expression.evaluate(tree, lambda n: self._name_value(n)[0])
        except (ZeroDivisionError, OverflowError, ValueError):
            return Verdict(claim, verdict="invalid", reason="the expression has no value (a division by zero)")
        canonical = claim_expression.printed(tree, lambda n: self._name_value(n)[2])
        steps = [s.id for n in claim_expression.names(tree) if (s := self._name_value(n)[1]) is not None]
        return Verdict(claim, canonical, truth, steps=steps, expression=tree)

    # -- judging -------------------------------------------------------------------------
    def _exact_truth(self, v: Verdict) -> Decimal | None:
        if len(v.steps) == 1 and v.expression is None and near_boundary(v.truth, v.claim.text):
            return exact_value(self.solution, self.solution.index[v.steps[0]])
        if not v.steps and v.expression is None:
            return Decimal(repr(float(v.truth)))  # a given number, as the problem file writes it
        return None

    def _tolerance(self, v: Verdict, digits: int) -> Decimal | None:
        """The hand calculation's allowance for this claim at ``digits`` significant digits (None: none)."""
        return self.allowance(v.claim.name, digits) if self.allowance is not None else None

    @staticmethod
    def _within(value: float, v: Verdict, tolerance: Decimal | None) -> bool:
        return tolerance is not None and math.isfinite(value) and abs(v.claim.number - Decimal(value)) <= tolerance

    def _zeros_left_off(self, v: Verdict, sheet: int) -> bool:
        """Is a short claim an answer the sheet accepts with its trailing zeros left off (``-0.0214``
        for −0.02140, within the tolerance of −0.0213935; ``0.3`` for 0.3000)? Then no digit is
        missing: the benefit of the doubt, it is judged as written in full."""
        number = v.claim.number
        if number == 0:
            return False
        full = format(number.quantize(Decimal(1).scaleb(number.adjusted() - sheet + 1)), "f")
        return follows(v.truth, full) or self._within(v.truth, v, self._tolerance(v, sheet))

    def _judge(self, v: Verdict) -> None:
        text = v.claim.text
        exact = self._exact_truth(v)
        is_exact = (exact == v.claim.number) if exact is not None else math.isclose(v.truth, float(text), rel_tol=1e-12, abs_tol=1e-15)
        digits = significant_digits(text)
        sheet = self.sheet_digits
        if not is_exact and digits < self.min_digits and follows(v.truth, text, exact):  # too coarse to tell
            v.verdict = "wrong"
            v.reason = f"it gives only {digits} significant digit{'s' if digits != 1 else ''}, {self.min_digits} asked"
            return
        short = sheet is not None and self.min_digits <= digits < sheet and not is_exact and not self._zeros_left_off(v, sheet)
        # the allowance of a hand calculation carrying the claim's digits: the sheet's, or the claim's own when it has fewer
        tolerance = self._tolerance(v, digits if short else sheet) if sheet is not None else None
        if is_right(v.truth, text, exact):
            v.verdict = "right"
        elif is_truncation(v.truth, text, exact):
            v.verdict = "habit"
            v.note = f"the true value truncated instead of rounded ({shown(as_claim(v.truth, text))})"
        elif self._within(v.truth, v, tolerance):
            v.verdict = "right"
            v.note = f"within the hand-rounding tolerance ±{_decimal(tolerance)} of {shown(as_claim(v.truth, text))}"
        else:
            for own in self._own_values(v):
                if follows(own.value, text, own.exact) or self._within(own.value, v, tolerance):
                    self._follows(v, own)
                    break
            else:
                v.verdict = "wrong"
                if self.explain:
                    v.reason = self._reason(v)
        if short and v.verdict in ("right", "habit"):
            v.verdict = "digits"
            early = f"; a hand calculation carrying {digits} gives it within ±{_decimal(tolerance)}" if tolerance is not None and v.note.startswith("within") else ""
            v.reason = (f"it gives {digits} significant digit{'s' if digits != 1 else ''}, the sheet asks {sheet} "
                        f"({shown(as_claim(v.truth, _unit_text(v.truth, sheet)))}){early}")

    def _follows(self, v: Verdict, own: _Own) -> None:
        text = v.claim.text
        bad = [u for u in own.used if u.verdict in ("wrong", "carried")]
        how = {"claimed": "", "rounded": f", its other inputs rounded to {digits_text(text)}",
               "forward": f", the forward pass rounded to {digits_text(text)}"}[own.how]
        if own.how != "claimed" and not own.used:
            how = how.replace(", its other inputs", "its inputs").replace(", the forward", "the forward")
        used = ", ".join(f"{u.claim.name} = {u.claim.text}" + (" (truncated)" if u.verdict == "habit" else "") for u in own.used)
        source = (f"the claimed {used}{how}" if used else how.lstrip(", ")) + f" ({_plain(own.value)})"
        if bad:
            root = min((self._root(u) for u in bad), key=self._rank)
            v.verdict = "carried"
            v.culprit = root.claim.name
            v.reason = (f"it follows from {source}; the error is carried forward from {root.claim.name} = {root.claim.text}, "
                        f"which is wrong (true {shown(root.rounded_truth) if root.rounded_truth else ''})")
            return
        truncated = not is_right(own.value, text, own.exact) and is_truncation(own.value, text, own.exact)
        v.verdict = "habit" if truncated else "right"
        v.note = f"it follows from {source}{', truncated' if truncated else ''}; the true value is {shown(as_claim(v.truth, text))}"

    def _rank(self, v: Verdict) -> int:
        return self.order.get(v.steps[0], 0) if v.steps else -1

    def _root(self, v: Verdict, depth: int = 0) -> Verdict:
        if v.verdict == "carried" and v.culprit and depth < 50:
            found = next((u for u in self.verdicts if u.claim.name == v.culprit), None)
            if found is not None and found is not v:
                return self._root(found, depth + 1)
        return v

    # -- the claimant's own numbers ------------------------------------------------------
    def _claimed(self, exclude: Verdict) -> dict[Key, float]:
        return {sid: float(v.claim.number) for sid, v in self.by_step.items() if v is not exclude}

    def _nearest_claims(self, verdict: Verdict) -> list[Verdict]:
        """The claims nearest above a step (no other claim in between), in the solution's order."""
        found: dict[Key, Verdict] = {}
        stack = list(verdict.steps)
        seen: set[Key] = set()
        while stack:
            sid = stack.pop()
            for ref in refs_of(self.solution.index[sid].form):
                if ref in seen or ref not in self.solution.index:
                    continue
                seen.add(ref)
                other = self.by_step.get(ref)
                if other is not None and other is not verdict:
                    found[ref] = other
                    continue
                stack.append(ref)
        return sorted(found.values(), key=self._rank)

    def _own_values(self, v: Verdict):
        """The claim's value from the claimant's numbers, the ways a text computes it."""
        if v.expression is not None:
            yield from self._own_expression(v)
            return
        if len(v.steps) != 1:
            return
        step = self.solution.index[v.steps[0]]
        ancestors = {s.id for s in dependencies(self.solution, step)} - {step.id}
        claimed = {k: x for k, x in self._claimed(v).items() if k in ancestors}
        nearest = tuple(self._nearest_claims(v))
        if claimed:
            value = self._replayed(step, claimed)
            if value is not None:
                exact = None
                if near_boundary(value, v.claim.text):
                    exact = exact_value(self.solution, step, {k: self.by_step[k].claim.number for k in claimed})
                yield _Own(value, nearest, "claimed", exact)
        yield from self._through_claimed_prefix(v, step)
        if Decimal(v.claim.text).as_tuple().exponent >= 0 or significant_digits(v.claim.text) < 2:
            return
        rounded = {k: rounded_like(self._input_value(step, k), v.claim.text) for k in inputs_of(step) if k not in claimed}
        merged = Inputs({**{k: x for k, x in claimed.items()}, **{k: float(x) for k, x in rounded.items()}})
        used_inputs = tuple(u for u in nearest if u.steps[0] in set(inputs_of(step)))
        try:
            value = evaluate(step, merged)
        except (ValueError, ZeroDivisionError, OverflowError):
            value = None
        if value is not None:
            yield _Own(value, used_inputs, "rounded", self._exact_own(step, value, v, claimed, rounded))
        forward = [s for s in dependencies(self.solution, step) if s.id != step.id and s.kind in ("forward", "activation")]
        changed = {s.id: rounded_like(s.value, v.claim.text) for s in forward if s.id not in claimed}
        if changed:
            value = self._replayed(step, {**{k: float(x) for k, x in changed.items()}, **claimed})
            if value is not None:
                yield _Own(value, nearest, "forward", self._exact_own(step, value, v, claimed, changed))

    def _exact_own(self, step: Step, value: float, v: Verdict, claimed: dict, rounded: dict) -> Decimal | None:
        """The step's value from the claimant's numbers and these rounded decimals in exact decimal
        arithmetic, when the float is within noise of where the claim's digits are decided
        (an exact 0.3925 from rounded inputs is no truncation of 0.39249999999999996)."""
        if not near_boundary(value, v.claim.text):
            return None
        return exact_value(self.solution, step, {**rounded, **{k: self.by_step[k].claim.number for k in claimed}})

    def _replayed(self, step: Step, changed: dict[str, float]) -> float | None:
        try:
            return replay(self.solution, changed).get(step.id, step.value)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None

    def _through_claimed_prefix(self, v: Verdict, step: Step):
        """A chain written out in full (∂E/∂w5 = ∂E/∂out · ∂out/∂net · ∂net/∂w5) computed, as texts
        do, from a claimed error term ∂E/∂net that stands for its first factors."""
        form, key = step.form, step.key
        if not isinstance(form, Chain) or not isinstance(key, Partial):
            return
        claimed = self._claimed(v)
        inputs = Inputs(claimed)
        for k in range(len(form.factors) - 2, -1, -1):
            wrt = form.factors[k].target
            if not isinstance(wrt, Partial):
                continue
            term = self.by_step.get(replace(key, wrt=wrt.wrt))
            if term is None or term is v:
                continue
            rest = [f for f in form.factors[k + 1:]]
            used = (term,) + tuple(self.by_step[f.ref] for f in rest if f.ref is not None and f.ref in self.by_step)
            yield _Own(float(term.claim.number) * math.prod(inputs(f) for f in rest), used, "claimed")
            return

    def _own_expression(self, v: Verdict):
        used: list[Verdict] = []

        def value(name: str) -> float:
            number, step, _ = self._name_value(name)
            if step is not None and step.id in self.by_step:
                used.append(self.by_step[step.id])
                return float(self.by_step[step.id].claim.number)
            return number

        try:
            own = claim_expression.evaluate(v.expression, value)  # type: ignore[arg-type]
        except (ZeroDivisionError, OverflowError, ValueError):
            return
        if used:
            yield _Own(own, tuple({id(u): u for u in used}.values()), "claimed")  # each claim once, in order

    def _input_value(self, step: Step, key: str) -> float:
        if key in self.solution.index:
            return self.solution.index[key].value
        for factor in _substituted(step):
            if str(factor[0]) == str(key):
                return factor[1]
        return 0.0

    # -- a wrong claim's reason -----------------------------------------------------------
    def _reason(self, v: Verdict) -> str:
        text = v.claim.text
        if v.expression is not None or not v.steps:
            if not v.steps and v.expression is None:
                return f"a given number of the problem: it is {_plain(v.truth)}"
            own = next(iter(self._own_values(v)), None)
            slip = digit_slip(own.value if own else v.truth, text)
            if own is None and claim_expression.is_product_of_names(v.expression):  # type: ignore[arg-type]
                return slip or f"the product of its factors is {_plain(v.truth)}"
            value = own.value if own else v.truth
            return slip or f"the expression's value is {_plain(value)}" + (" from the claimed numbers" if own else "")
        step = self.solution.index[v.steps[0]]
        ancestors = {s.id for s in dependencies(self.solution, step)} - {step.id}
        claimed = {k: x for k, x in self._claimed(v).items() if k in ancestors}
        try:  # the claimant's world: every step above recomputed from their numbers
            world = replay(self.solution, claimed) if claimed else {}
        except (ValueError, ZeroDivisionError, OverflowError):
            world = claimed
        inputs = Inputs({k: x for k, x in world.items() if k != step.id})
        try:
            own = evaluate(step, inputs)
        except (ValueError, ZeroDivisionError, OverflowError):
            own = v.truth
        sheet, digits = self.sheet_digits, significant_digits(text)
        tolerance = self._tolerance(v, digits if self.min_digits <= digits < sheet else sheet) if sheet is not None else None
        diagnosis = self.diagnoser.diagnose(WrongStep(step, text, inputs, own, tolerance), v.claim.name)
        should = f"its inputs give {_plain(own)} ({shown(as_claim(own, text))} to the claim's {digits_text(text)})"
        return f"{diagnosis}; {should}" if diagnosis else f"the slip is in this step: {should}"

    # -- the report ------------------------------------------------------------------------
    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts if v.verdict == verdict)

    @property
    def wrong(self) -> list[Verdict]:
        """The claims that are not accepted (carried, wrong, invalid)."""
        return [v for v in self.verdicts if not v.right]

    @property
    def judged(self) -> int:
        return len(self.verdicts) - self.count("invalid")


def _substituted(step: Step):
    return [(key_of(f.ref, f.target), f.value) for f in substituted(step.form)]


def _decimal(value: Decimal | None) -> str:
    return format(value, "f") if value is not None else ""


def _unit_text(value: float, digits: int) -> str:
    """A number's text whose last digit is the ``digits``-th significant digit of ``value``."""
    if value == 0 or not math.isfinite(value):
        return "0"
    exponent = Decimal(value).adjusted() - digits + 1
    return format(Decimal(1).scaleb(exponent), "f") if exponent < 0 else "1"


def _plain(value: float, digits: int = DEFAULT_DIGITS) -> str:
    return fmt(value, digits).replace("−", "-")


def check(solution: Solution, claims: list[Claim], source: str = "<claims>", min_digits: int = MIN_DIGITS) -> Checker:
    return Checker(solution, claims, source, min_digits=min_digits)


def summary(checker: Checker) -> str:
    """``30 claims: 25 right, 2 habit, 2 carried, 1 wrong`` (and the invalid ones, when any)."""
    counts = ", ".join(f"{checker.count(k)} {k}" for k in VERDICTS[:4])
    extra = "".join(f", {checker.count(k)} {k}" for k in VERDICTS[4:] if checker.count(k))
    return f"{len(checker.verdicts)} claims: {counts}{extra}"


_MARK = {"right": "right", "habit": "habit", "carried": "CARRIED", "wrong": "WRONG", "invalid": "INVALID", "digits": "DIGITS"}


def report_text(checker: Checker, problem_file: str, claims_file: str) -> str:
    verdicts = checker.verdicts
    width = min(34, max(len(v.claim.name) for v in verdicts))
    lines = [f"{claims_file} against {problem_file}: {summary(checker)}"]
    for v in verdicts:
        mark = _MARK[v.verdict]
        if v.verdict == "invalid":
            lines.append(f"  {mark:<7}  {v.claim.name:<{width}}   line {v.claim.line}: {v.reason}")
            continue
        alias = f" [{v.canonical}]" if v.canonical != v.claim.name else ""
        line = f"  {mark:<7}  {v.claim.name:<{width}} = {v.claim.text:<14} true {_plain(v.truth, 10)}"
        if not v.right or v.note:
            line += f" ({shown(v.rounded_truth)} to the claim's {digits_text(v.claim.text)})"
        lines.append(line + alias)
        if v.verdict == "wrong":
            lines.append(f"           {v.claim.name} is wrong because {v.reason}")
        elif v.verdict == "carried":
            lines.append(f"           {v.claim.name} is carried: {v.reason}")
        elif v.verdict == "digits":
            lines.append(f"           {v.claim.name} has too few digits: {v.reason}")
        elif v.note:
            lines.append(f"           accepted: {v.note}")
    return "\n".join(lines) + "\n"


def report_json(checker: Checker) -> dict:
    return {
        "claims": len(checker.verdicts),
        **{k: checker.count(k) for k in VERDICTS if k != "digits" or checker.sheet_digits is not None},
        "summary": summary(checker),
        "verdicts": [
            {
                "name": v.claim.name,
                "line": v.claim.line,
                "verdict": v.verdict,
                "right": v.right,
                **({"canonical": v.canonical, "claimed": v.claim.text, "true": v.truth, "true_rounded": v.rounded_truth}
                   if v.verdict != "invalid" else {}),
                **({"culprit": v.culprit} if v.culprit else {}),
                **({"reason": v.reason} if v.reason else {}),
                **({"note": v.note} if v.note else {}),
            }
            for v in checker.verdicts
        ],
    }
