"""Judge claimed numbers (a handout's, a student's) against a solution, to each claim's
own rounding, and name the earliest wrong step a wrong claim depends on.

A CLAIMS file is a YAML mapping *name → number*; names are canonical (``dloss/dW1[1,1]``,
``W2[1,1]'``, ``loss#2``), a theme's (``dE_total/dw5``, ``w5+``), a quantity of the forward
pass with the updated parameters (``a2[1]@end``, ``loss#3@end``), or a product of names
(``dloss/dz2[2] * dz2[2]/da1[1]``, a text's partial product). The number is read as
*written* (``0.2910`` claims four decimals, though YAML reads it as the float 0.291):
a claim is right when the true value, rounded to the claim's last digit, is the claim.

For a wrong claim the report walks the steps it depends on. A wrong claim upstream
(with no right claim in between) is the earlier culprit; the earliest one is named.
Where the culprit is the step itself, its form is evaluated again from the text's
own numbers to say what went wrong: an update started from another value, numbers
rounded too early, a truncation, a known mistake (:mod:`tracer.mistakes`), a slip.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from pathlib import Path

import yaml

from tracer.core.derive import solve
from tracer.core.keys import NameError_
from tracer.core.solution import LookupError_, Solution, Step, Update, dependencies, refs_of, substituted
from tracer.render.printing import fmt
from tracer.spec import SpecError
from tracer.teach.mistakes import MistakenSolutions
from tracer.teach.replay import Inputs, evaluate, inputs_of, key_of, replay

_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


# ---------------------------------------------------------------------------
# Reading a CLAIMS file, keeping each number's text
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    name: str
    text: str  # the number as written
    line: int = 0

    @property
    def number(self) -> Decimal:
        return Decimal(self.text)


@dataclass(frozen=True)
class ClaimSet:
    claims: list[Claim]
    training: dict  # overrides of the problem's training (steps, order, learning_rate) for these claims


def load_claims(path: str | Path) -> list[Claim]:
    return load_claim_set(path).claims


def load_claim_set(path: str | Path) -> ClaimSet:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(source, "", f"cannot be read ({err.__class__.__name__})") from None
    return parse_claim_set(text, source)


def parse_claims(text: str, source: str = "<claims>") -> list[Claim]:
    return parse_claim_set(text, source).claims


def _training_overrides(node, source: str) -> dict:
    """``training: {steps: 10000, order: sequential}``: claims about another run of the problem."""
    if not isinstance(node, yaml.MappingNode):
        raise SpecError(source, "training", "a mapping expected (steps, order, learning_rate)")
    out: dict = {}
    for key_node, value_node in node.value:
        key = key_node.value
        raw = value_node.value if isinstance(value_node, yaml.ScalarNode) else None
        where = f"training.{key}"
        if key == "steps":
            if raw is None or not re.fullmatch(r"\d+", raw.strip()):
                raise SpecError(source, where, f"a whole number (0 or more) expected, got {raw!r}")
            out["steps"] = int(raw)
        elif key == "order":
            if raw not in ("simultaneous", "sequential"):
                raise SpecError(source, where, f"one of 'simultaneous', 'sequential' expected, got {raw!r}")
            out["order"] = raw
        elif key == "learning_rate":
            if raw is None or not _NUMBER.match(raw.strip()) or float(raw) <= 0:
                raise SpecError(source, where, f"a positive number expected, got {raw!r}")
            out["learning_rate"] = float(raw)
        else:
            raise SpecError(source, where, "unknown key; expected steps, order or learning_rate")
    return out


def parse_claim_set(text: str, source: str = "<claims>") -> ClaimSet:
    """A mapping name → number; the numbers' text is kept (``0.2910`` claims 4 decimals).
    An optional ``training:`` mapping says the claims are about another run (steps, order)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(source, "", f"YAML syntax error: {where}{getattr(err, 'problem', None) or 'not valid YAML'}") from None
    if root is None:
        raise SpecError(source, "", "a mapping of quantity names to claimed numbers expected, got an empty file")
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(source, "", "a mapping of quantity names to claimed numbers expected (e.g. dloss/dW1[1,1]: 0.000438568)")
    claims: list[Claim] = []
    training: dict = {}
    seen: set[str] = set()
    for key_node, value_node in root.value:
        if not isinstance(key_node, yaml.ScalarNode) or not key_node.value.strip():
            raise SpecError(source, f"line {key_node.start_mark.line + 1}", "a quantity name expected as the key")
        name = key_node.value.strip()
        if name == "training":
            training = _training_overrides(value_node, source)
            continue
        if name in seen:
            raise SpecError(source, name, "claimed twice")
        seen.add(name)
        if not isinstance(value_node, yaml.ScalarNode):
            raise SpecError(source, name, 'a number expected (e.g. 0.291 or "0.2910"), got a list or mapping')
        raw = value_node.value.strip().replace("−", "-")
        if value_node.tag.endswith(":bool") or value_node.tag.endswith(":null") or not _NUMBER.match(raw):
            raise SpecError(source, name, f'a number expected (e.g. 0.291 or "0.2910"), got {value_node.value!r}')
        claims.append(Claim(name, raw.lstrip("+"), key_node.start_mark.line + 1))
    if not claims:
        raise SpecError(source, "", "no claims (a mapping of quantity names to numbers expected)")
    return ClaimSet(claims, training)


# ---------------------------------------------------------------------------
# Judging one number to its own rounding
# ---------------------------------------------------------------------------


def rounded_like(truth: float, text: str, rounding=ROUND_HALF_EVEN) -> Decimal:
    """The true value rounded to the last digit of ``text``."""
    exponent = Decimal(text).as_tuple().exponent
    with localcontext(Context(prec=80)):
        return Decimal(truth).quantize(Decimal(1).scaleb(exponent), rounding=rounding)


def is_right(truth: float, text: str) -> bool:
    """Right when the truth rounds to the claim at the claim's last digit (either way at an exact tie)."""
    if not math.isfinite(truth):
        return False
    claimed = Decimal(text)
    return rounded_like(truth, text) == claimed or rounded_like(truth, text, ROUND_HALF_UP) == claimed


def _digits_text(text: str) -> str:
    exponent = Decimal(text).as_tuple().exponent
    if exponent >= 0:
        return "units"
    return f"{-exponent} decimal" + ("s" if exponent != -1 else "")


def _as_claim(value: float, text: str) -> str:
    """A number written to the claim's last digit."""
    rounded = rounded_like(value, text)
    out = format(rounded, "f") if abs(rounded.adjusted()) < 12 else str(rounded)
    return "0" if out in ("-0", "-0." + "0" * (len(out) - 3)) and rounded == 0 else out


# ---------------------------------------------------------------------------
# Checking a claims file against a solution
# ---------------------------------------------------------------------------


@dataclass
class Verdict:
    claim: Claim
    canonical: str
    truth: float
    right: bool
    steps: list[str] = field(default_factory=list)  # ids of the steps the claim is about (one, or the factors of a product)
    culprit: str | None = None  # name of the earliest wrong claim it depends on (None: this step itself)
    reason: str = ""

    @property
    def rounded_truth(self) -> str:
        return _as_claim(self.truth, self.claim.text)


class Checker:
    def __init__(self, solution: Solution, claims: list[Claim], source: str = "<claims>", explain: bool = True):
        self.solution = solution
        self.claims = claims
        self.source = source
        self.order = {s.id: k for k, s in enumerate(solution.all_steps())}
        self.verdicts: list[Verdict] = [self._judge(c) for c in claims]
        self.by_step: dict[str, Verdict] = {}
        for v in self.verdicts:
            if len(v.steps) == 1:
                self.by_step.setdefault(v.steps[0], v)
        self._mistaken = None
        for v in self.verdicts:
            if not v.right and explain:
                self._explain(v)

    # -- resolving ------------------------------------------------------------------
    def _resolve(self, name: str) -> tuple[float, Step | None, str]:
        """value, step (None for a given number), canonical name."""
        body = name.strip()
        number = self.solution.value(body)
        try:
            step = self.solution.step(body)
        except (NameError_, LookupError_):
            target, _ = self.solution.resolve(body)
            return number, None, str(target)
        return number, step, str(step.id)

    def _judge(self, claim: Claim) -> Verdict:
        factors = [f.strip() for f in claim.name.split("*")]
        try:
            resolved = [self._resolve(f) for f in factors]
        except (NameError_, LookupError_) as err:
            raise SpecError(self.source, claim.name, f"not a quantity of this problem ({err})") from None
        truth = math.prod(r[0] for r in resolved)
        canonical = " * ".join(r[2] for r in resolved)
        steps = [r[1].id for r in resolved if r[1] is not None]
        return Verdict(claim, canonical, truth, is_right(truth, claim.text), steps)

    # -- explaining a wrong claim -----------------------------------------------------
    def _nearest_claims(self, verdict: Verdict) -> dict[str, Verdict]:
        """The claims nearest above a claim, by step id: a claim (right or wrong) stands for
        everything above it, so the walk up the references stops at each one."""
        found: dict[str, Verdict] = {}
        stack = list(verdict.steps)
        seen: set[str] = set()
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
        return found

    def _wrong_ancestors(self, verdict: Verdict) -> list[Verdict]:
        wrong = [v for v in self._nearest_claims(verdict).values() if not v.right]
        return sorted(wrong, key=lambda v: self.order.get(v.steps[0], 0))

    def _root(self, verdict: Verdict, depth: int = 0) -> Verdict:
        upstream = self._wrong_ancestors(verdict)
        if not upstream or depth > 50:
            return verdict
        return self._root(upstream[0], depth + 1)

    def _explain(self, verdict: Verdict) -> None:
        upstream = self._wrong_ancestors(verdict)
        if upstream:
            root = self._root(upstream[0])
            if root is not upstream[0]:
                self._explain_here(root)
            else:
                self._explain_here(upstream[0])
            verdict.culprit = root.claim.name
            own = self._printed_inputs_reason(verdict)
            if not own and len(verdict.steps) == 1:
                recomputed = self._from_printed(verdict)
                if recomputed is not None:
                    own = f"this step is wrong itself too: from the text's own printed inputs it would be {_plain(recomputed)}"
            verdict.reason = (
                f"it depends on {root.claim.name} = {root.claim.text}, which is wrong (true {root.rounded_truth})"
                + (f"; {own}" if own else "")
            )
            return
        self._explain_here(verdict)

    def _explain_here(self, verdict: Verdict) -> None:
        if verdict.reason:
            return
        verdict.reason = self._diagnose(verdict)

    def _claimed_inputs(self, exclude: Verdict) -> dict[str, float]:
        return {v.steps[0]: float(v.claim.number) for v in self.verdicts if len(v.steps) == 1 and v is not exclude}

    def _from_printed(self, verdict: Verdict) -> float | None:
        """The step evaluated from the text's own printed numbers of everything above it."""
        step = self.solution.index[verdict.steps[0]]
        ancestors = {s.id for s in dependencies(self.solution, step)} - {step.id}
        changed = {k: v for k, v in self._claimed_inputs(verdict).items() if k in ancestors}
        if not changed:
            return None
        return replay(self.solution, changed).get(step.id, step.value)

    def _frontier(self, verdict: Verdict) -> list[str]:
        """The nearest claims above a claim (no other claim in between)."""
        return sorted(v.claim.name for v in self._nearest_claims(verdict).values())

    def _printed_inputs_reason(self, verdict: Verdict) -> str:
        """Does the step, evaluated from the text's own printed numbers, give the claim?"""
        if len(verdict.steps) != 1:
            return ""
        recomputed = self._from_printed(verdict)
        if recomputed is not None and is_right(recomputed, verdict.claim.text):
            used = ", ".join(self._frontier(verdict))
            return f"it follows from the text's own printed values of {used} ({_plain(recomputed)})"
        return ""

    def _diagnose(self, verdict: Verdict) -> str:
        claim = verdict.claim
        unit = Decimal(1).scaleb(claim.number.as_tuple().exponent)
        off_by_one = abs(rounded_like(verdict.truth, claim.text) - claim.number) == unit
        if len(verdict.steps) != 1:
            return "it is off by one unit in the last digit" if off_by_one else f"the product of its factors is {_plain(verdict.truth)}"
        step = self.solution.index[verdict.steps[0]]
        if step.id not in self.solution.index or verdict.canonical != step.id:
            return "a given number of the problem differs"
        claimed_inputs = self._claimed_inputs(verdict)
        inputs = Inputs({k: v for k, v in claimed_inputs.items() if k in set(inputs_of(step))})
        if isinstance(step.form, Update):
            form = step.form
            start = float(claim.number) + form.rate * inputs(form.gradient)
            old = inputs(form.parameter)
            param = str(form.parameter.target)
            if not is_right(old, _as_claim(start, claim.text)):
                same = [n for n, v in self.solution.problem.parameters().items() if n != param and is_right(v, _as_claim(start, claim.text))]  # type: ignore[attr-defined]
                also = f" (the value of {same[0]})" if same else ""
                return f"the update starts from {_as_claim(start, claim.text)}{also}, but {param} was {_plain(old)}"
            if is_right(old + form.rate * inputs(form.gradient), claim.text):
                return "the update adds the gradient instead of subtracting it"
        reason = self._printed_inputs_reason(verdict)
        if reason:
            return reason + ": rounded too early"
        exponent = claim.number.as_tuple().exponent
        rounded_inputs = Inputs({k: float(rounded_like(self._input_value(step, k), claim.text)) for k in inputs_of(step)})
        if exponent < 0 and is_right(evaluate(step, rounded_inputs), claim.text):
            return f"it follows from its inputs rounded to {_digits_text(claim.text)} ({_plain(evaluate(step, rounded_inputs))}): rounded too early"
        if exponent < 0:
            ancestors = [s for s in dependencies(self.solution, step) if s.id != step.id and s.kind in ("forward", "activation")]
            changed = {s.id: float(rounded_like(s.value, claim.text)) for s in ancestors}
            if changed:
                recomputed = replay(self.solution, changed).get(step.id, step.value)
                if is_right(recomputed, claim.text):
                    return (
                        f"it follows from the forward pass rounded to {_digits_text(claim.text)} "
                        f"({_plain(recomputed)}): rounded too early"
                    )
        with localcontext(Context(prec=80)):
            truncated = Decimal(verdict.truth).quantize(Decimal(1).scaleb(exponent), rounding="ROUND_DOWN")
        if truncated == claim.number:
            return "it is the true value truncated instead of rounded"
        mistake = self._matching_mistake(verdict)
        if mistake:
            return mistake
        if off_by_one:
            return "it is off by one unit in the last digit"
        recomputed = evaluate(step, inputs)
        return f"the slip is in this step: its inputs give {_plain(recomputed)}"

    def _input_value(self, step: Step, key: str) -> float:
        if key in self.solution.index:
            return self.solution.index[key].value
        for factor_key, value in _given_values(step):
            if factor_key == key:
                return value
        return 0.0

    def _matching_mistake(self, verdict: Verdict) -> str:
        try:
            if self._mistaken is None:
                self._mistaken = MistakenSolutions(self.solution)
            name = verdict.claim.name
            if "*" in name:
                return ""
            for other, label in self._alternative_runs():
                try:
                    found = Checker(other, [Claim(name, verdict.claim.text)], explain=False).verdicts[0]
                except Exception:  # the quantity is not in that run (a step it does not have)
                    continue
                if found.right:
                    return f"it is the value of {label}"
            if name.endswith("@end"):
                return ""
            for wrong in self._mistaken.wrong_values(name):
                if is_right(wrong.value, verdict.claim.text):
                    return f"it matches the mistake that {wrong.mistake.explanation}"
        except Exception:  # a diagnosis is a courtesy; never let it hide the verdict
            return ""
        return ""

    def _alternative_runs(self):
        """The same problem trained another way (the other update order; one step short), lazily."""
        problem = self.solution.problem
        training = problem.training  # type: ignore[attr-defined]
        other = "sequential" if training.order == "simultaneous" else "simultaneous"
        plain = training.optimizer.plain and len(set(problem.rate_vector)) == 1  # sequential order is plain gradient descent only
        orders = (training.order, other) if plain else (training.order,)
        runs = [(dict(order=other), f"the {other} update order (training.order: {other})")] if plain else []
        if training.steps > 1:
            for order in orders:
                runs.append((dict(order=order, steps=training.steps - 1), f"{training.steps - 1} training steps in {order} order, one step short"))
        cache = self.__dict__.setdefault("_runs", {})
        for change, label in runs:
            key = tuple(sorted(change.items()))
            if key not in cache:
                changed = dataclasses.replace(problem, training=dataclasses.replace(training, **change))  # type: ignore[attr-defined]
                try:
                    cache[key] = solve(changed, derived_steps=min(3, changed.training.steps), verify=False)
                except (ValueError, ZeroDivisionError, OverflowError):
                    cache[key] = None
            if cache[key] is not None:
                yield cache[key], label

    # -- the report -----------------------------------------------------------------
    @property
    def wrong(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.right]


def _plain(value: float, digits: int = 9) -> str:
    return fmt(value, digits).replace("−", "-")


def _given_values(step: Step):
    return [(key_of(f.ref, f.target), f.value) for f in substituted(step.form)]


def check(solution: Solution, claims: list[Claim], source: str = "<claims>") -> Checker:
    return Checker(solution, claims, source)


def report_text(checker: Checker, problem_file: str, claims_file: str) -> str:
    verdicts = checker.verdicts
    wrong = checker.wrong
    width = min(34, max(len(v.claim.name) for v in verdicts))
    lines = [f"{claims_file} against {problem_file}: {len(verdicts)} claims, {len(verdicts) - len(wrong)} right, {len(wrong)} wrong"]
    for v in verdicts:
        mark = "right" if v.right else "WRONG"
        alias = f" [{v.canonical}]" if v.canonical != v.claim.name else ""
        line = f"  {mark}  {v.claim.name:<{width}} = {v.claim.text:<14} true {_plain(v.truth, 10)}"
        if not v.right:
            line += f" ({v.rounded_truth} to the claim's {_digits_text(v.claim.text)})"
        lines.append(line + alias)
        if not v.right:
            lines.append(f"         {v.claim.name} is wrong because {v.reason}")
    return "\n".join(lines) + "\n"


def report_json(checker: Checker) -> dict:
    return {
        "claims": len(checker.verdicts),
        "wrong": len(checker.wrong),
        "verdicts": [
            {
                "name": v.claim.name,
                "canonical": v.canonical,
                "claimed": v.claim.text,
                "true": v.truth,
                "true_rounded": v.rounded_truth,
                "right": v.right,
                **({"culprit": v.culprit or v.claim.name, "reason": v.reason} if not v.right else {}),
            }
            for v in checker.verdicts
        ],
    }
