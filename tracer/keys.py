"""The typed key of every quantity, and the one parser and printer of canonical names.

A *quantity* is one number of a worked solution. Its key says what it is: its
``kind`` (``x`` an input, ``y`` a target, ``z`` a pre-activation, ``a`` an activation,
``W`` a weight, ``b`` a bias, ``loss`` a loss or one output's loss term), its ``layer``,
its ``index`` (unit; unit and input for a weight), its ``sample``, whether it is a
parameter ``after`` the update, and the training ``step`` it belongs to.

A *partial* is ``∂of/∂wrt`` of two sample-free quantities; the sample and the step
are the partial's own. Canonical names (SPEC.md §2, README "Names"):

======================  ==========================================================
``x[1]``, ``y[2]``       an input, a target
``z2[1]``, ``a2[1]``     pre-activation and activation of unit 1 of layer 2
``W2[1,2]``              weight of layer 2 from unit (or input) 2 to unit 1
``x[1,2,3]``, ``a1[2,1,1]``  an image's channel 1, row 2, column 3; a feature map's (filter, row, column)
``W1[2,1,3,3]``          a convolution kernel's weight: filter 2, channel 1, row 3, column 3
``x[t,i]``, ``a1[t,j]``  a sequence's input i at time step t; a recurrent layer's state (``a1[0,j]``: the initial one)
``y[t,k]``, ``loss[t,k]``  with ``outputs: sequence``: a target and a loss term of time step t
``U1[j,k]``              a recurrent layer's weight from state unit k (one step before) to unit j
``b2[1]``, ``b2``        a unit's bias; a bias shared by the layer
``loss``, ``loss[1]``    the total loss; one output's term
``…#2``                  of sample 2
``…'``                   a parameter after the update
``…@2``, ``…@end``       of training step 2; of the forward pass with the final parameters
``loss_after``           the total loss with the final parameters (``loss@end``)
``dloss/dW2[1,1]``       a partial; ``dloss/dW1[1,1]#2`` of sample 2's loss
``m(W2[1,1])@2``         an optimizer's state of a parameter after step 2 (``v``, ``G``, ``s``, ``m``,
                         ``v``; Adam's corrected ``m_hat``, ``v_hat``); ``…@0`` the zero it starts at
``beta1``, ``eta``       an optimizer's hyperparameter; ``t@2`` the step number Adam's correction reads
``penalty``              ``loss.regularization``'s term of the loss, (λ/2)·Σ w² + λ₁·Σ |w|;
                         ``dpenalty/dW2[1,1]`` its term of a weight's gradient; ``l2``, ``l1`` the λs
``grad_norm@2``          ``training.clip``: the L2 norm of every trained parameter's gradient of step 2
                         (``grad_norm_sq@2`` its square, the sum of the gradients' squares);
``clip_coef@2``          max_norm/(grad_norm + 1e−6); ``clipped(W2[1,1])@2`` a gradient after clipping
                         (what the optimizer reads); ``max_norm``, ``clip_value`` the thresholds
======================  ==========================================================

The kinds are open: each letter above (and the optimizer states) is a :class:`QuantityKind`
registered at import by :func:`register_kind`, which a new kind of layer calls for its own
(``c2[1]``, ``dloss/dc2[1]``, ``c2[1]'``); the printer and the parser read the table, and a key's
role (parameter, computed, leaf, state) says whether it is trained.

This module is the only place where names are built or taken apart: everything
inside the program passes keys. A key prints as its canonical name and hashes as it,
but it equals only a key: ``parameters["W1[1,2]"]`` finds nothing, ``parameters[W(1, 1, 2)]``
(or ``parameters[parse("W1[1,2]")]``) the value. A name a user typed is parsed once, at the
boundary, by :func:`parse`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Literal, Union

#: the kinds of an optimizer's per-parameter state (SPEC.md §9); ``name`` holds the parameter's kind
STATE_KINDS = ("v", "G", "s", "m", "m_hat", "v_hat")
#: an optimizer's hyperparameters and the step number (kind "hyper", by ``name``)
HYPER_NAMES = ("eta", "beta", "alpha", "beta1", "beta2", "eps", "weight_decay", "t", "l2", "l1", "max_norm", "clip_value",
               # training.schedule: the rate of an update (``lr@3``), the scheduler steps before it, MultiStepLR's
               # decays so far, and the schedule's constants
               "lr", "n_sched", "k_decays", "gamma", "step_size", "T_max", "eta_min", "start_factor", "end_factor",
               "total_iters", "warmup", "warmup_factor")
#: marks a state's ``name`` as a graph problem's leaf (``v(x)``) rather than a parameter's kind (no name has it)
_NODE_STATE = ":"
#: the step of the forward pass with the final parameters (``@end``)
END = "end"
Step = Union[int, Literal["end"]]


class NameError_(ValueError):
    """A name that does not parse; the message says what was expected."""


Role = Literal["parameter", "computed", "leaf", "state"]


@dataclass(frozen=True, slots=True)
class QuantityKind:
    """A kind of quantity that has a canonical name, as :func:`register_kind` adds it.

    ``letter`` starts the name; a ``layered`` kind's name continues with the layer (``z2[1]``,
    ``W2[1,1]``, ``b2``), another's does not (``x[1]``, ``loss``); ``index_rank`` says how many
    indices a name may take (``b2`` none, ``b2[1]`` one). ``role``: a ``parameter`` is trained (it has
    a value after the update, ``W2[1,1]'``, and optimizer states), a ``leaf`` is given (an input, a
    target), a ``computed`` value follows from them, a ``state`` is an optimizer's state of a
    parameter, named ``m(W2[1,1])``. A ``sample_free`` quantity belongs to no sample (``penalty``)."""

    letter: str
    role: Role
    index_rank: tuple[int, ...] = (1,)
    layered: bool = True
    sample_free: bool = False


#: the kinds whose names :func:`parse` reads and the printer writes, by letter
_KINDS: dict[str, QuantityKind] = {}
#: the names no registered kind may take: the kinds printed by their own rule, and the hyperparameters
_RESERVED = frozenset({"zero", "node", "hyper", "loss_after", *HYPER_NAMES})
_LETTER = re.compile(r"^[A-Za-z][A-Za-z_]*$")


class _Named:
    """A key prints as its canonical name and hashes as it, but equals and orders only with keys.

    ``W(1, 1, 1) == "W1[1,1]"`` is False and ``{"W1[1,1]": 1}.get(W(1, 1, 1))`` finds nothing: a
    name that travels where a key should fails where it is used, instead of matching by accident
    (a name is parsed once, at the boundary, by :func:`parse`). Two quantities of different kinds
    that print alike are different keys too: a graph's leaf ``eta`` (``node("eta")``) is not the
    learning rate ``hyper("eta")``."""

    __slots__ = ()

    def __str__(self) -> str:
        return self._text  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._text!r})"  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Named):
            return NotImplemented  # a name is not a key: == is False, and a dict keyed by keys finds no name
        return self._text == other._text and getattr(self, "kind", None) == getattr(other, "kind", None)  # type: ignore[attr-defined]

    # ordered by the canonical name, among keys only (a key and a name do not sort together)
    def __lt__(self, other: object) -> bool:
        return self._text < other._text if isinstance(other, _Named) else NotImplemented  # type: ignore[attr-defined]

    def __le__(self, other: object) -> bool:
        return self._text <= other._text if isinstance(other, _Named) else NotImplemented  # type: ignore[attr-defined]

    def __gt__(self, other: object) -> bool:
        return self._text > other._text if isinstance(other, _Named) else NotImplemented  # type: ignore[attr-defined]

    def __ge__(self, other: object) -> bool:
        return self._text >= other._text if isinstance(other, _Named) else NotImplemented  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Quantity(_Named):
    kind: str
    layer: int | None = None
    index: tuple[int, ...] = ()
    sample: int | None = None
    after: bool = False
    step: Step = 1
    name: str = ""  # a graph problem's node (kind "node"): its name as the file writes it
    _text: str = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = _quantity_text(self)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_hash", hash(text))

    @property
    def is_parameter(self) -> bool:
        kind = _KINDS.get(self.kind)
        return kind is not None and kind.role == "parameter"

    @property
    def is_total_loss(self) -> bool:
        return self.kind == "loss" and not self.index and self.sample is None

    @property
    def is_state(self) -> bool:
        """An optimizer's state of a parameter (``m(W2[1,1])@2``)."""
        kind = _KINDS.get(self.kind)
        return kind is not None and kind.role == "state"

    def state(self, kind: str, step: Step) -> "Quantity":
        """This parameter's optimizer state ``kind`` after step ``step`` (0: before the first); a
        graph problem's trained leaf has one too (``v(x)@1``)."""
        if self.kind == "node":
            return Quantity(kind, None, (), step=step, name=_NODE_STATE + self.name)
        assert self.is_parameter, self
        return Quantity(kind, self.layer, self.index, step=step, name=self.kind)

    @property
    def parameter(self) -> "Quantity":
        """The parameter an optimizer state belongs to."""
        assert self.is_state, self
        if self.name.startswith(_NODE_STATE):
            return node(self.name[len(_NODE_STATE):])
        return Quantity(self.name, self.layer, self.index)

    def without_sample(self) -> "Quantity":
        return self if self.sample is None else replace(self, sample=None)

    def of_sample(self, sample: int | None) -> "Quantity":
        return self if self.sample == sample else replace(self, sample=sample)

    def at_step(self, step: Step) -> "Quantity":
        return self if self.step == step else replace(self, step=step)

    def updated(self) -> "Quantity":
        """The parameter after the update (``W2[1,1]'``)."""
        return replace(self, after=True)

    def plain(self) -> "Quantity":
        """The quantity itself: no sample, not after the update, of the first step."""
        return Quantity(self.kind, self.layer, self.index, name=self.name)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Partial(_Named):
    of: Quantity
    wrt: Quantity
    sample: int | None = None
    step: Step = 1
    #: the local derivative of ``of``'s own equation, its other arguments held fixed — written
    #: apart only where it differs from the gradient ∂of/∂wrt (a graph's output that uses a
    #: node which other nodes use too: ``df/dx|local``)
    local: bool = False
    _text: str = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = f"d{self.of}/d{self.wrt}{'|local' if self.local else ''}{_suffix(self.sample, self.step)}"
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_hash", hash(text))

    def without_sample(self) -> "Partial":
        return self if self.sample is None else replace(self, sample=None)

    def of_sample(self, sample: int | None) -> "Partial":
        return self if self.sample == sample else replace(self, sample=sample)

    def at_step(self, step: Step) -> "Partial":
        return self if self.step == step else replace(self, step=step)


Key = Union[Quantity, Partial]


# ---------------------------------------------------------------------------
# The printer
# ---------------------------------------------------------------------------


def _suffix(sample: int | None, step: Step) -> str:
    text = f"#{sample}" if sample is not None else ""
    if step == END:
        text += "@end"
    elif step != 1:
        text += f"@{step}"
    return text


def _quantity_text(q: Quantity) -> str:
    kind = q.kind
    registered = _KINDS.get(kind)
    if registered is not None and registered.role == "state":
        owner = q.name[len(_NODE_STATE):] if q.name.startswith(_NODE_STATE) else _quantity_text(Quantity(q.name, q.layer, q.index))
        body = f"{kind}({owner})"
        return body + (f"@{q.step}" if q.step != 1 else "")  # @0: the zero a state starts at
    if registered is not None:
        body = kind + (str(q.layer) if registered.layered else "") + (f"[{','.join(map(str, q.index))}]" if q.index else "")
    elif kind == "zero":
        body = "0"  # the zero a convolution's padding reads
    elif kind == "loss_after":
        return "loss_after"
    elif kind in ("node", "hyper"):
        body = q.name
    else:
        raise ValueError(f"no canonical name for a quantity of kind {kind!r}")
    if q.after:
        # W2[1,1]' (and W2[1,1]'@2): the mark belongs to the parameter, the step to the key
        return body + ("#" + str(q.sample) if q.sample is not None else "") + "'" + _suffix(None, q.step)
    return body + _suffix(q.sample, q.step)


# ---------------------------------------------------------------------------
# Constructors: the quantities of a layered network
# ---------------------------------------------------------------------------


def x(i: int, sample: int | None = None) -> Quantity:
    return Quantity("x", None, (i,), sample)


def y(k: int, sample: int | None = None) -> Quantity:
    return Quantity("y", None, (k,), sample)


def z(l: int, j: int, sample: int | None = None) -> Quantity:
    return Quantity("z", l, (j,), sample)


def a(l: int, j: int, sample: int | None = None) -> Quantity:
    """The activation of unit j of layer l; layer 0 is the input."""
    return x(j, sample) if l == 0 else Quantity("a", l, (j,), sample)


def W(l: int, j: int, i: int) -> Quantity:
    return Quantity("W", l, (j, i))


def b(l: int, j: int | None = None) -> Quantity:
    """The bias of unit j of layer l, or (``j`` None) the one bias the layer shares."""
    return Quantity("b", l, () if j is None else (j,))


def loss_term(k: int, sample: int | None = None) -> Quantity:
    return Quantity("loss", None, (k,), sample)


def loss(sample: int | None = None) -> Quantity:
    return Quantity("loss", None, (), sample)


def hyper(name: str, step: Step = 1) -> Quantity:
    """An optimizer's hyperparameter (``beta1``, ``eta``), or ``t`` (of step ``step``)."""
    assert name in HYPER_NAMES, name
    return Quantity("hyper", step=step, name=name)


def node(name: str) -> Quantity:
    """A node of a graph problem, by the name its file gives it."""
    return Quantity("node", name=name)


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------


def register_kind(kind: QuantityKind) -> None:
    """Add a kind of quantity: from now on its names print and parse (``c2[1]``, ``dloss/dc2[1]``,
    ``c2[1]'`` for a parameter). The built-in kinds are registered so, below."""
    if not _LETTER.match(kind.letter) or kind.letter in _RESERVED:
        raise ValueError(f"{kind.letter!r}: a kind's letter is letters and _ (not {', '.join(sorted(_RESERVED))})")
    if kind.letter in _KINDS:
        raise ValueError(f"{kind.letter!r}: a kind of this letter is registered already ({_KINDS[kind.letter]})")
    if kind.role not in ("parameter", "computed", "leaf", "state"):
        raise ValueError(f"{kind.letter!r}: role parameter, computed, leaf or state expected, got {kind.role!r}")
    _KINDS[kind.letter] = kind
    _compile()


def unregister_kind(letter: str) -> None:
    """Remove a kind :func:`register_kind` added (a built-in kind stays)."""
    if letter in _BUILT_IN_LETTERS:
        raise ValueError(f"{letter!r} is a built-in kind")
    del _KINDS[letter]
    _compile()


def _compile() -> None:
    """The parser's regular expressions, from the registered kinds (the longest letter tried first)."""
    global _QUANTITY, _STATE, _AT_ZERO, _SCAN
    letters = sorted((k.letter for k in _KINDS.values() if k.role != "state"), key=lambda t: (-len(t), t))
    states = sorted((k.letter for k in _KINDS.values() if k.role == "state"), key=lambda t: (-len(t), t))
    _QUANTITY = re.compile(
        rf"^(?P<letter>{'|'.join(map(re.escape, letters))})(?P<layer>\d+)?(?:\[(?P<index>\d+(?:,\s*\d+)*)\])?"
        r"(?:\#(?P<sample>\d+))?(?P<after>')?$")
    _STATE = re.compile(rf"^(?P<state>{'|'.join(map(re.escape, states))})\((?P<param>[^()#']*)\)$")
    _AT_ZERO = re.compile(rf"^(?:{'|'.join(map(re.escape, states))})\(")
    # the shape of a name :func:`scan` tries (loss_after before loss; no spaces: a space ends a name)
    one = (rf"(?:loss_after|(?:{'|'.join(map(re.escape, letters))})\d*(?:\[\d+(?:,\d+)*\])?"
           rf"|(?:{'|'.join(map(re.escape, states))})\([^()\s]*\))(?:\#\d+)?'?")
    _SCAN = re.compile(rf"(?:d{one}/d{one}|{one})(?:@(?:\d+|end))?")


_LOSS_AFTER = re.compile(r"^loss_after(?:\#(?P<sample>\d+))?$")


def _not_a_name(text: str) -> NameError_:
    return NameError_(
        f"{text!r} is not a quantity name (expected e.g. x[1], z2[1], a2[1]#2, W2[1,2], b2[1], b2, loss, loss_after, W2[1,1]')"
    )


def parse_quantity(text: str) -> Quantity:
    """A quantity's canonical name (without ``@step``) as its key."""
    text = text.strip()
    final = _LOSS_AFTER.match(text)
    if final:  # the total loss with the final parameters (of one sample: loss_after#2)
        return Quantity("loss_after", sample=int(final["sample"])) if final["sample"] else LOSS_AFTER
    m = _STATE.match(text)
    if m:
        owner = _QUANTITY.match(m["param"])
        if owner is None or owner["sample"] or owner["after"]:
            raise _not_a_name(text)
        owner_key = parse_quantity(m["param"])
        if not owner_key.is_parameter:
            raise _not_a_name(text)
        return owner_key.state(m["state"], 1)
    m = _QUANTITY.match(text)
    if m is None:
        if _STATE.match(text.partition("#")[0].removesuffix("'")):
            raise NameError_(f"{text!r}: an optimizer state belongs to no sample and has no value after (')")
        raise _not_a_name(text)
    kind = _KINDS[m["letter"]]
    if (m["layer"] is None) == kind.layered:
        raise _not_a_name(text)
    index = tuple(int(part) for part in m["index"].split(",")) if m["index"] else ()
    if len(index) not in kind.index_rank:
        if not index:
            raise _not_a_name(text)
        counts = [str(n) for n in kind.index_rank]
        wanted = " or ".join(counts) if len(counts) < 3 else f"{', '.join(counts[:-1])} or {counts[-1]}"
        raise NameError_(f"{text!r}: {kind.letter} takes {wanted} indices, got {len(index)}")
    sample = int(m["sample"]) if m["sample"] else None
    if sample is not None and kind.sample_free:
        raise NameError_(f"{text!r}: {kind.letter} belongs to no sample")
    q = Quantity(kind.letter, int(m["layer"]) if kind.layered else None, index, sample)
    if m["after"]:
        if kind.role != "parameter":
            shown = ", ".join(f"{k.letter}…" for k in _KINDS.values() if k.role == "parameter")
            raise NameError_(f"{text!r}: only parameters ({shown}) have a value after the update (')")
        q = replace(q, after=True)
    return q


#: the built-in kinds (SPEC.md §2), registered as any other: how many indices each name takes —
#: a unit (dense) or [channel, row, column] (an image, a feature map); a weight [unit, input] or a
#: kernel's [filter, channel, row, column]; a recurrent weight [unit, unit one step before]
_BUILT_IN = (
    QuantityKind("x", "leaf", (1, 2, 3), layered=False),
    QuantityKind("y", "leaf", (1, 2, 3), layered=False),
    QuantityKind("z", "computed", (1, 2, 3)),
    QuantityKind("a", "computed", (1, 2, 3)),
    QuantityKind("W", "parameter", (2, 4)),
    QuantityKind("U", "parameter", (2,)),
    QuantityKind("b", "parameter", (0, 1)),
    QuantityKind("loss", "computed", (0, 1, 2), layered=False),
    QuantityKind("penalty", "computed", (0,), layered=False, sample_free=True),
    *(QuantityKind(state, "state", (), layered=False) for state in STATE_KINDS),
    # training.clip (SPEC.md §9): the gradients' norm, torch's clip_coef, and a parameter's gradient after clipping
    QuantityKind("grad_norm", "computed", (0,), layered=False, sample_free=True),
    QuantityKind("grad_norm_sq", "computed", (0,), layered=False, sample_free=True),
    QuantityKind("clip_coef", "computed", (0,), layered=False, sample_free=True),
    QuantityKind("clipped", "state", (), layered=False),
)
_BUILT_IN_LETTERS = frozenset(kind.letter for kind in _BUILT_IN)
for _kind in _BUILT_IN:
    register_kind(_kind)

LOSS = Quantity("loss")
#: loss.regularization's term of the loss (SPEC.md §9)
PENALTY = Quantity("penalty")
#: training.clip's norm of the gradients and torch's clip_coef (SPEC.md §9)
GRAD_NORM = Quantity("grad_norm")
GRAD_NORM_SQ = Quantity("grad_norm_sq")  # ‖g‖², the sum of the squares the norm is the root of
CLIP_COEF = Quantity("clip_coef")
#: the total loss with the final parameters (``loss@end`` is read as this)
LOSS_AFTER = Quantity("loss_after")


def split_step(text: str) -> tuple[str, Step | None]:
    """``name@3`` → (``name``, 3); ``name@end`` → (``name``, ``"end"``); no ``@`` → (name, None)."""
    name, sep, step = text.strip().rpartition("@")
    if not sep:
        return text.strip(), None
    if step == END:
        return name, END
    if not step.isdigit() or (int(step) < 1 and not _AT_ZERO.match(name)):  # a state starts at @0
        raise NameError_(f"{text!r}: a training step number (1, 2, …) or 'end' expected after '@'")
    return name, int(step)


def parse(text: str, *, nodes: Collection[str] | None = None) -> Key:
    """A canonical name as its key: a quantity or a partial, with the sample moved onto the
    partial and the step (``@k``, ``@end``) onto the key. With ``nodes`` (a graph problem's
    names), a name typed for that graph: a node (``q``), a node after the update (``x'``), a
    partial (``df/dx``, also ``∂f/∂x``), each optionally of a training step; any other name
    is refused, saying which nodes there are."""
    if nodes is not None:
        return _parse_in_graph(text, nodes)
    body, step = split_step(text.strip().replace(" ", ""))
    if body.startswith("d") and "/d" in body and not body.startswith("dloss_after"):
        num, _, den = body[1:].partition("/d")
        of, wrt = parse_quantity(num), parse_quantity(den)
        if of.kind == "loss_after" or wrt.kind == "loss_after":
            raise NameError_(f"{text!r}: loss_after is not differentiated; write …@end for the final forward pass")
        samples = {s for s in (of.sample, wrt.sample) if s is not None}
        if len(samples) > 1:
            raise NameError_(f"{text!r}: two different samples in one partial")
        sample = samples.pop() if samples else None
        return Partial(of.without_sample(), wrt.without_sample(), sample, 1 if step is None else step)
    q = parse_quantity(body)
    if q.kind == "loss_after":
        if step is not None and step != END:
            raise NameError_(f"{text!r}: loss_after belongs to the final forward pass, not to a training step")
        return q
    if step == END and q.is_total_loss:
        return LOSS_AFTER
    return q if step is None else q.at_step(step)


@dataclass(frozen=True, slots=True)
class Block:
    """A whole family of quantities: a weight matrix ``W2``, a bias vector ``b1``, a layer's
    activations ``a2`` (``a2#2@end`` of sample 2 after training), a recurrent state at one time step
    ``a1[3,:]`` (``lead=(3,)``), or their gradients ``dloss/dW2`` (``of`` the quantity differentiated).
    :meth:`entry` is one of them; :meth:`keys` all of them for a shape. Printed as its name,
    parsed by :func:`parse_block`."""

    kind: str
    layer: int | None
    lead: tuple[int, ...] = ()
    sample: int | None = None
    step: Step = 1
    after: bool = False
    of: Quantity | None = None

    def entry(self, *index: int) -> Key:
        """The quantity at ``index`` after the lead (``W2.entry(1, 2)`` is ``W2[1,2]``; ``b2.entry()``
        the shared bias), or its partial when the block is a gradient."""
        q = Quantity(self.kind, self.layer, self.lead + index, after=self.after)
        if self.of is not None:
            return Partial(self.of, q, self.sample, self.step)
        q = q.of_sample(self.sample)
        return q if self.step == 1 else q.at_step(self.step)

    def keys(self, shape: tuple[int, ...]) -> list[Key]:
        """Every entry of a family of ``shape`` (rows first), 1-based as the names are."""
        return [self.entry(*index) for index in itertools.product(*(range(1, n + 1) for n in shape))]

    @property
    def is_parameters(self) -> bool:
        """A layer's parameters themselves (``W2``, ``b1``), as ``--only`` and a quiz's slots name them:
        not after the update, of no sample, step or gradient."""
        plain = Block(self.kind, self.layer)
        return self == plain and _KINDS[self.kind].role == "parameter"

    def __str__(self) -> str:
        lead = f"[{','.join(map(str, self.lead))},:]" if self.lead else ""
        body = self.kind + ("" if self.layer is None else str(self.layer)) + lead
        if self.after:
            body += ("" if self.sample is None else f"#{self.sample}") + "'" + _suffix(None, self.step)
        elif self.of is None:
            body += _suffix(self.sample, self.step)
        return body if self.of is None else f"d{self.of}/d{body}{_suffix(self.sample, self.step)}"


_BLOCK = re.compile(r"^(?P<letter>[A-Za-z_]+?)(?P<layer>\d+)?(?:\[(?P<lead>\d+(?:,\d+)*),:\])?(?:\#(?P<sample>\d+))?(?P<after>')?$")


def parse_block(text: str) -> Block | None:
    """A family's name as its :class:`Block` (``W2``, ``b1``, ``a2#2@end``, ``W2'``, ``a1[3,:]``,
    ``dloss/dW2``); None if ``text`` names no family (``W2[1,1]`` names one entry; ``b2`` is both a
    family and a shared bias's own name)."""
    try:
        body, step = split_step(text.strip().replace(" ", ""))
    except NameError_:
        return None
    of = None
    if body.startswith("d") and "/d" in body:
        num, _, body = body[1:].partition("/d")
        try:
            of = parse_quantity(num)
        except NameError_:
            return None
        if of.kind == "loss_after":
            return None
    m = _BLOCK.match(body)
    if m is None or m["letter"] not in _KINDS:
        return None
    kind = _KINDS[m["letter"]]
    lead = tuple(int(i) for i in m["lead"].split(",")) if m["lead"] else ()
    if kind.role == "state" or (m["layer"] is None) == kind.layered or not any(n > len(lead) for n in kind.index_rank):
        return None
    if m["after"] and kind.role != "parameter" or m["sample"] and kind.sample_free:
        return None
    sample = int(m["sample"]) if m["sample"] else None
    if of is not None:
        if of.sample is not None and sample is not None and of.sample != sample:
            return None
        sample = of.sample if sample is None else sample
        of = of.without_sample()
    return Block(kind.letter, int(m["layer"]) if kind.layered else None, lead, sample, 1 if step is None else step,
                 bool(m["after"]), of)


def scan(text: str, start: int = 0, *, nodes: Collection[str] | None = None) -> tuple[Key, int] | None:
    """The longest name in ``text`` that starts at ``start``, as (its key, where it ends); None if
    no name starts there. With ``nodes``, a graph problem's names (as :func:`parse` reads them).
    A name ends where the grammar does: ``a2[1]/a2[2]`` scans ``a2[1]`` (a quotient's numerator),
    ``dloss/dW2[1,1]*2`` the partial ``dloss/dW2[1,1]``."""
    shape = (_SCAN_GRAPH if nodes is not None else _SCAN).match(text, start)
    if shape is None:
        return None
    for end in range(shape.end(), start, -1):  # the longest prefix of the shape that parses
        try:
            return parse(text[start:end], nodes=nodes), end
        except NameError_:
            continue
    return None


def canonical(text: str) -> str:
    """The canonical spelling of a name (``dloss#2/dW1[1,1]`` → ``dloss/dW1[1,1]#2``)."""
    return str(parse(text))


# ---------------------------------------------------------------------------
# The names of a graph problem: its nodes, as its file names them
# ---------------------------------------------------------------------------

#: a node's name (SPEC.md §7): Latin or Greek letters (the 24 of the alphabet, capital and small,
#: and ϑ ϕ ϖ ϵ ς: each has a LaTeX symbol, tracer.notation.graph), digits, _ — no accented or other
#: letter (pdflatex could not set it in math). The one definition: the spec reads a graph's names
#: with it, and :func:`parse` reads the names typed for a graph.
_GREEK = "\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9\u03d1\u03d5\u03d6\u03f5"
NODE_NAME = re.compile(rf"^[A-Za-z{_GREEK}][A-Za-z{_GREEK}0-9_]*$")
_NODE = rf"[A-Za-z{_GREEK}][A-Za-z{_GREEK}0-9_]*"
#: the shape of a graph's name :func:`scan` tries: a node (after the update: x'), a partial (df/dx, ∂f/∂x)
_SCAN_GRAPH = re.compile(rf"(?:[d∂]{_NODE}/[d∂]{_NODE}(?:\|local)?|{_NODE}'?)(?:@(?:\d+|end))?")


#: an optimizer's state of a graph's trained leaf, as typed: ``v(x)``, ``m_hat(w1)``
_GRAPH_STATE = re.compile(rf"^({'|'.join(sorted(STATE_KINDS, key=len, reverse=True))})\(({_NODE})\)$")


def _parse_in_graph(text: str, nodes: Collection[str]) -> Key:
    """A name typed for a graph problem as its key: a node (``q``), a node after the update
    (``x'``), a partial (``df/dx``, also ``∂f/∂x``), an optimizer's state (``v(x)``), each
    optionally of a training step (``@2``, ``@end``). ``nodes`` are the graph's names; any other name is refused, saying
    which there are."""
    body, step = split_step(text.strip().replace(" ", ""))
    body = body.replace("∂", "d")

    def node_named(name: str, whole: str) -> Quantity:
        if name not in nodes:
            shown = ", ".join(sorted(nodes)[:12]) + (", …" if len(nodes) > 12 else "")
            raise NameError_(f"{whole!r}: {name!r} is not a node of this graph (nodes: {shown})")
        return node(name)

    state = _GRAPH_STATE.match(body)
    if state:  # an optimizer's state of a trained leaf: v(x), m_hat(w)@2
        return node_named(state.group(2), text).state(state.group(1), 1 if step is None else step)
    if "/" in body:
        local = body.endswith("|local")
        num, _, den = body.removesuffix("|local").partition("/")
        if not (num.startswith("d") and den.startswith("d")) or not NODE_NAME.match(num[1:]) or not NODE_NAME.match(den[1:]):
            raise NameError_(f"{text!r} is not a partial of this graph (expected e.g. df/dx)")
        of, wrt = node_named(num[1:], text), node_named(den[1:], text)
        return Partial(of, wrt, None, 1 if step is None else step, local)
    after = body.endswith("'")
    name = body[:-1] if after else body
    if not NODE_NAME.match(name):
        raise NameError_(f"{text!r} is not a node name (expected e.g. q, w0, x', df/dx)")
    q = node_named(name, text)
    if after:
        q = replace(q, after=True)
    return q if step is None else q.at_step(step)
