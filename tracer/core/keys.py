"""Canonical names of SPEC.md §2, parsed into small values and printed back.

A *quantity* is one number of a solution: ``x[1]``, ``y[2]``, ``z2[1]``, ``a2[1]``,
``W2[1,2]``, ``b2[1]``, ``b2`` (shared), ``loss`` (total), ``loss[1]`` (one output's
term), ``loss_after``; a sample is ``#3``; a parameter after the update ends in ``'``;
a quantity of training step k (default: the first) ends in ``@k``.
A *partial* is ``d<quantity>/d<quantity>``: ``dloss/dW2[1,1]`` (total gradient),
``dloss#2/dW1[1,1]`` (sample 2's gradient), ``da2[1]/dz2[1]#2`` (a local derivative).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace


class NameError_(ValueError):
    """A quantity name that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class Quantity:
    base: str  # x y z a W b loss loss_after
    layer: int | None = None
    index: tuple[int, ...] = ()
    sample: int | None = None
    after: bool = False

    def __str__(self) -> str:
        return format_quantity(self)

    def without_sample(self) -> "Quantity":
        return replace(self, sample=None)

    @property
    def is_parameter(self) -> bool:
        return self.base in ("W", "b")


@dataclass(frozen=True)
class Partial:
    of: Quantity
    wrt: Quantity
    sample: int | None = None

    def __str__(self) -> str:
        text = f"d{format_quantity(self.of)}/d{format_quantity(self.wrt)}"
        return text + (f"#{self.sample}" if self.sample is not None else "")


_QUANTITY = re.compile(
    r"""^(?:
        (?P<io>[xy])\[(?P<io_i>\d+)\]
      | (?P<za>[za])(?P<za_l>\d+)\[(?P<za_j>\d+)\]
      | W(?P<w_l>\d+)\[(?P<w_j>\d+),\s*(?P<w_i>\d+)\]
      | b(?P<b_l>\d+)(?:\[(?P<b_j>\d+)\])?
      | (?P<loss_after>loss_after)
      | (?P<loss>loss)(?:\[(?P<loss_k>\d+)\])?
    )(?:\#(?P<sample>\d+))?(?P<after>')?$""",
    re.VERBOSE,
)


def parse_quantity(text: str) -> Quantity:
    m = _QUANTITY.match(text.strip())
    if not m:
        raise NameError_(
            f"{text!r} is not a quantity name (expected e.g. x[1], z2[1], a2[1]#2, W2[1,2], b2[1], b2, loss, loss_after, W2[1,1]')"
        )
    g = m.groupdict()
    sample = int(g["sample"]) if g["sample"] else None
    after = bool(g["after"])
    if g["io"]:
        q = Quantity(g["io"], None, (int(g["io_i"]),), sample)
    elif g["za"]:
        q = Quantity(g["za"], int(g["za_l"]), (int(g["za_j"]),), sample)
    elif g["w_l"]:
        q = Quantity("W", int(g["w_l"]), (int(g["w_j"]), int(g["w_i"])), sample)
    elif g["b_l"]:
        q = Quantity("b", int(g["b_l"]), (int(g["b_j"]),) if g["b_j"] else (), sample)
    elif g["loss_after"]:
        q = Quantity("loss_after", sample=sample)
    else:
        q = Quantity("loss", None, (int(g["loss_k"]),) if g["loss_k"] else (), sample)
    if after:
        if not q.is_parameter:
            raise NameError_(f"{text!r}: only parameters (W…, b…) have a value after the update (')")
        q = replace(q, after=True)
    return q


def parse(text: str) -> Quantity | Partial:
    """A quantity or a partial, with the sample moved onto the partial."""
    text = text.strip().replace(" ", "")
    if text.startswith("d") and "/d" in text and not text.startswith("dloss_after"):
        num, _, den = text[1:].partition("/d")
        of, wrt = parse_quantity(num), parse_quantity(den)
        samples = {s for s in (of.sample, wrt.sample) if s is not None}
        if len(samples) > 1:
            raise NameError_(f"{text!r}: two different samples in one partial")
        sample = samples.pop() if samples else None
        return Partial(of.without_sample(), wrt.without_sample(), sample)
    return parse_quantity(text)


def format_quantity(q: Quantity) -> str:
    if q.base in ("x", "y"):
        body = f"{q.base}[{q.index[0]}]"
    elif q.base in ("z", "a"):
        body = f"{q.base}{q.layer}[{q.index[0]}]"
    elif q.base == "W":
        body = f"W{q.layer}[{q.index[0]},{q.index[1]}]"
    elif q.base == "b":
        body = f"b{q.layer}" + (f"[{q.index[0]}]" if q.index else "")
    elif q.base == "loss":
        body = "loss" + (f"[{q.index[0]}]" if q.index else "")
    else:
        body = q.base
    if q.sample is not None:
        body += f"#{q.sample}"
    if q.after:
        body += "'"
    return body


def canonical(text: str) -> str:
    """The canonical spelling of a name (``dloss#2/dW1[1,1]`` → ``dloss/dW1[1,1]#2``)."""
    return str(parse(text))


def split_step(text: str) -> tuple[str, int | None]:
    """``name@3`` → (``name``, 3): a quantity of training step 3."""
    name, sep, step = text.strip().rpartition("@")
    if not sep:
        return text.strip(), None
    if not step.isdigit() or int(step) < 1:
        raise NameError_(f"{text!r}: a training step number (1, 2, …) expected after '@'")
    return name, int(step)
