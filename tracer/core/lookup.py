"""Find a quantity of a solution by name (canonical, or a theme's: ``dE_total/dw5``, ``w5+``).

Used by ``tracer ask``, ``tracer check`` and the tests. Nothing is computed here:
every value comes from a step of the solution or from the numbers of a training
step that the NumPy engine carried (long runs).
"""

from __future__ import annotations

from dataclasses import replace

from tracer.core import keys as names
from tracer.core.keys import NameError_, Partial, Quantity
from tracer.core.solution import Form, Solution, Step


class LookupError_(KeyError):
    """A name that parses but names nothing in this solution; ``str()`` says why."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def resolve(solution: Solution, text: str) -> tuple[Quantity | Partial, int | None]:
    """Parse a canonical or theme name into (target, training step)."""
    body, step = names.split_step(text)
    if step == names.END:  # (tracer check reads @end names itself; the redesigned lookup will too)
        raise NameError_(f"{text!r}: a training step number (1, 2, …) expected after '@'")
    try:
        target = names.parse(body)
    except NameError_ as canonical_error:
        from tracer.notation import parse_theme_name

        target = parse_theme_name(body, solution.problem)  # type: ignore[arg-type]
        if target is None:
            raise canonical_error from None
    return _normalise(solution, target), step


def _normalise(solution: Solution, target):
    many = solution.samples > 1

    def fix(q: Quantity) -> Quantity:
        if q.sample is not None:
            if not 1 <= q.sample <= solution.samples:
                raise LookupError_(f"{q}: there are {solution.samples} sample(s)")
            if not many:
                return replace(q, sample=None)
        return q

    if isinstance(target, Partial):
        sample = target.sample
        if sample is not None:
            if not 1 <= sample <= solution.samples:
                raise LookupError_(f"{target}: there are {solution.samples} sample(s)")
            if not many:
                sample = None
        return Partial(fix(target.of), fix(target.wrt), sample)
    return fix(target)


def find_step(solution: Solution, text: str) -> Step:
    target, number = resolve(solution, text)
    return _step_for(solution, target, number, text)


def _id_candidates(target, number: int | None) -> list[str]:
    base = str(target)
    ids = [base]
    if isinstance(target, Partial) and target.sample is not None:
        ids.append(str(Partial(target.of, target.wrt, None)))  # sample-free local derivatives (∂z/∂a = W)
    if number is not None and number > 1:
        ids = [f"{i}@{number}" for i in ids]
    return ids


def _step_for(solution: Solution, target, number: int | None, text: str) -> Step:
    if isinstance(target, Quantity) and target.base == "loss_after":
        return solution.index["loss_after"]
    if number is not None and not 1 <= number <= max(1, len(solution.steps)):
        raise LookupError_(f"{text}: there are {len(solution.steps)} training step(s)")
    for candidate in _id_candidates(target, number):
        if candidate in solution.index:
            return solution.index[candidate]
    if isinstance(target, Quantity) and target.after and solution.steps:
        last = number or len(solution.steps)
        after_id = str(target) if last == 1 else f"{target}@{last}"
        if after_id not in solution.index:
            raise LookupError_(f"{text}: this parameter is not trained (it keeps its value)")
    if solution.samples > 1 and _needs_sample(target):
        raise LookupError_(f"{text}: there are {solution.samples} samples; name one, e.g. {_with_sample(target)}")
    if number is not None and number <= len(solution.steps) and not solution.steps[number - 1].derived:
        raise LookupError_(f"{text}: training step {number} was computed by the NumPy engine only (no derivation)")
    raise LookupError_(f"{text}: no such quantity in this solution")


def _needs_sample(target) -> bool:
    if isinstance(target, Partial):
        return target.sample is None and not (target.of.base == "loss" and not target.of.index and target.wrt.is_parameter)
    return target.sample is None and target.base in ("z", "a", "x", "y") or (target.base == "loss" and bool(target.index))


def _with_sample(target) -> str:
    if isinstance(target, Partial):
        return str(Partial(target.of, target.wrt, 1)).replace("dloss/", "dloss#1/", 1) if target.of.base == "loss" else str(Partial(target.of, target.wrt, 1))
    return str(replace(target, sample=1))


def value(solution: Solution, text: str) -> float:
    target, number = resolve(solution, text)
    # given numbers and long runs first: these have no step of their own
    if isinstance(target, Quantity):
        if target.base in ("x", "y"):
            if target.sample is None and solution.samples > 1:
                raise LookupError_(f"{text}: there are {solution.samples} samples; name one, e.g. {_with_sample(target)}")
            sample = solution.problem.data[(target.sample or 1) - 1]  # type: ignore[attr-defined]
            vector = sample.x if target.base == "x" else sample.y
            k = target.index[0]
            if not 1 <= k <= len(vector):
                raise LookupError_(f"{text}: index out of range (1 to {len(vector)})")
            return vector[k - 1]
        if target.is_parameter:
            key = str(replace(target, after=False, sample=None))
            if target.after:
                params = solution.steps[number - 1].params_after if number else solution.final.parameters()  # type: ignore[attr-defined]  # (a long run keeps only its first steps)
            else:
                params = solution.steps[(number or 1) - 1].params_before if solution.steps else solution.problem.parameters()  # type: ignore[attr-defined]
            if key not in params:
                raise LookupError_(f"{text}: no such parameter (parameters: {', '.join(list(params)[:6])}, …)")
            return params[key]
        if target.base == "loss" and not target.index and target.sample is None and number is not None:
            return solution.steps[number - 1].loss
    if (
        isinstance(target, Partial)
        and target.of == Quantity("loss")
        and target.wrt.is_parameter
        and target.sample is None
        and number is not None
        and not solution.steps[number - 1].derived
    ):
        return solution.steps[number - 1].gradients[str(target.wrt)]
    return _step_for(solution, target, number, text).value


def dependencies(solution: Solution, step: Step) -> list[Step]:
    """The steps a step needs (itself last), in the order a reader meets them."""
    order = {s.id: k for k, s in enumerate(solution.all_steps())}
    seen: dict[str, Step] = {}
    stack = [step]
    while stack:
        current = stack.pop()
        if current.id in seen:
            continue
        seen[current.id] = current
        for ref in refs_of(current.form):
            if ref in solution.index and ref not in seen:
                stack.append(solution.index[ref])
    return sorted(seen.values(), key=lambda s: order.get(s.id, 0))


def refs_of(form: Form) -> list[str]:
    """The ids of the steps whose values a form substitutes."""
    from tracer.core.solution import substituted

    return [f.ref for f in substituted(form) if f.ref]
