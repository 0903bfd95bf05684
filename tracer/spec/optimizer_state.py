"""An optimizer's starting state (``training.state``, ``tracer descend --state``), read and checked.

torch.optim starts every state at zero; a worked exercise often starts later: "the velocity is
v = 0.1", "Adam has taken 3 steps", or heavy-ball momentum from a current iterate θ_k and the
previous one θ_{k−1}. The file gives the state by the document's letters, per parameter:

=========  ============================  ==========================================
optimizer  states                        torch.optim's ``optimizer.state[p]`` entry
=========  ============================  ==========================================
momentum   ``v`` (or ``previous``)        ``momentum_buffer``
adagrad    ``G``                          ``sum``
rmsprop    ``s``                          ``square_avg``
adam(w)    ``m``, ``v``, ``step``         ``exp_avg``, ``exp_avg_sq``, ``step``
=========  ============================  ==========================================

``step`` is the number of steps already taken (torch's ``state['step']``): the first update of
the file reads t = step + 1 in Adam's bias correction. ``previous`` (momentum without Nesterov)
is the iterate θ_{k−1} before the given θ_k: the heavy-ball update
θ_{k+1} = θ_k − η·∇f(θ_k) + β·(θ_k − θ_{k−1}) is torch's v_{k+1} = β·v_k + g, θ_{k+1} = θ_k − η·v_{k+1}
with v_k = (θ_{k−1} − θ_k)/η, the velocity the previous update (at the same rate) left behind.

Here only the shape is checked — state names the optimizer uses, finite numbers, second moments
not negative, a whole step count; which names are parameters the caller says (``names``). A
parameter not given starts at zero (``previous``: at its current value, v = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

#: the states each optimizer reads, by the document's letters (``step``: the steps already taken)
STATE_FIELDS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("v", "previous"),
    "adagrad": ("G",),
    "rmsprop": ("s",),
    "adam": ("m", "v", "step"),
    "adamw": ("m", "v", "step"),
}
#: torch.optim's name of each state in ``optimizer.state[p]``, per optimizer
TORCH_NAMES: dict[str, dict[str, str]] = {
    "momentum": {"v": "momentum_buffer"},
    "adagrad": {"G": "sum"},
    "rmsprop": {"s": "square_avg"},
    "adam": {"m": "exp_avg", "v": "exp_avg_sq", "step": "step"},
    "adamw": {"m": "exp_avg", "v": "exp_avg_sq", "step": "step"},
}
#: the states that are sums or averages of squares: never negative
SQUARES: dict[str, tuple[str, ...]] = {"adagrad": ("G",), "rmsprop": ("s",), "adam": ("v",), "adamw": ("v",)}


@dataclass(frozen=True)
class OptimizerState:
    """The state an optimizer starts from: per state letter, the given parameters' values (by the
    file's names, in its order), and the steps already taken."""

    values: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    step: int = 0

    @property
    def given(self) -> bool:
        return bool(self.values) or self.step > 0

    def of(self, name: str) -> dict[str, float]:
        """The values given for state ``name``, by parameter name (empty: none given)."""
        return dict(dict(self.values).get(name, ()))

    @property
    def previous(self) -> dict[str, float]:
        """Heavy-ball momentum's previous iterate θ_{k−1}, by parameter name (empty: not given)."""
        return self.of("previous")

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: dict(per) for name, per in self.values}
        if self.step:
            out["step"] = self.step
        return out


class StateError(ValueError):
    """A starting state refused: ``field`` (``training.state.v.x``) and the message."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def read_state(raw: Any, optimizer: str, nesterov: bool, names: Sequence[str], where: str = "training.state",
               parameter: Callable[[str], str | None] = lambda name: name) -> OptimizerState:
    """``raw`` (the file's mapping) checked against the optimizer and the parameters ``names``.

    ``parameter`` turns a name as written into the parameter's own name (a network's ``W2[1, 1]``
    into ``W2[1,1]``), or None when it is none. Raises :class:`StateError` naming the field.
    """
    if raw is None:
        return OptimizerState()
    if not isinstance(raw, Mapping):
        raise StateError(where, f"a mapping of state names to values expected (e.g. {{v: {{{names[0] if names else 'x'}: 0.1}}}}), got {type(raw).__name__}")
    allowed = STATE_FIELDS.get(optimizer, ())
    if nesterov:
        allowed = tuple(n for n in allowed if n != "previous")
    values: list[tuple[str, tuple[tuple[str, float], ...]]] = []
    step = 0
    for name, given in raw.items():
        field = f"{where}.{name}"
        if name not in allowed:
            if not allowed:
                raise StateError(field, f"{optimizer} keeps no state (momentum, adagrad, rmsprop, adam and adamw do)")
            why = " (with nesterov the previous iterate does not give v: give v)" if name == "previous" and nesterov else ""
            raise StateError(field, f"{optimizer} has no state {name!r}{why}; expected one of {', '.join(allowed)}")
        if name == "step":
            if isinstance(given, bool) or not isinstance(given, int) or given < 0:
                raise StateError(field, f"a whole number of steps already taken (0, 1, 2, …) expected, got {given!r}")
            step = given
            continue
        if not isinstance(given, Mapping):
            raise StateError(field, f"a value per parameter expected (e.g. {{{names[0] if names else 'x'}: 0.1}}), got {given!r}")
        per: list[tuple[str, float]] = []
        seen: set[str] = set()
        for written, value in given.items():
            own = parameter(str(written))
            if own is None or own not in names:
                example = ", ".join(list(names)[:4])
                raise StateError(f"{field}.{written}", f"not a trained parameter (parameters: {example}{', …' if len(names) > 4 else ''})")
            if own in seen:
                raise StateError(f"{field}.{written}", "given twice")
            seen.add(own)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise StateError(f"{field}.{written}", f"a finite number expected, got {value!r}")
            if name in SQUARES.get(optimizer, ()) and value < 0:
                raise StateError(f"{field}.{written}", f"{name} is a sum of squares: a number ≥ 0 expected, got {value!r}")
            per.append((own, float(value)))
        values.append((name, tuple(per)))
    if "v" in raw and "previous" in raw:
        raise StateError(f"{where}.previous", "give v or the previous iterate, not both (v follows from it)")
    return OptimizerState(tuple(values), step)
