"""The JSON of ``tracer ask`` (SPEC.md §5): a quantity, its value, and the steps it needs,
each with its printed symbolic form."""

from __future__ import annotations

from typing import Any

from tracer import keys
from tracer.core.solution import Solution, Step, dependencies, refs_of
from tracer.export.as_json import json_number
from tracer.render.step_printer import Printer


def step_json(step: Step, numbers: dict[keys.Key, int]) -> dict[str, Any]:
    text = Printer("text", digits=17)
    return {
        "id": str(step.id),
        "quantity": str(step.target),
        "kind": step.kind,
        "symbolic": text.symbolic(step),
        "value": json_number(step.value),
        "uses": [str(r) for r in refs_of(step.form)],
    }


def ask_json(solution: Solution, quantity: str, value: float, step: Step | None) -> dict[str, Any]:
    steps = dependencies(solution, step) if step is not None else []
    numbers = {s.id: k for k, s in enumerate(steps, 1)}
    return {"quantity": quantity, "value": json_number(value), "steps": [step_json(s, numbers) for s in steps]}
