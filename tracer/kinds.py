"""Which module answers a ``type:`` — the registry of layer kinds.

A network's layers are of kinds (dense, conv2d, maxpool2d, …); each kind is one object from its
module under ``tracer/layers/`` (the protocol: :mod:`tracer.layers.kind`). The reader of a problem
file (``tracer/spec``) asks this table for the kind of each ``network.layers`` entry and never
names a kind itself. The table sits at the bottom of the ranks so that ``tracer/spec`` may read it
without importing ``tracer/layers`` (which is above it): ``tracer/layers/__init__.py`` fills it
when imported, and ``tracer/__init__.py`` imports ``tracer.layers`` — every ``import tracer.x``
runs that first, so the table is full before a file is read.

A kind registered by a test (``with kinds.registered(Scale()):``) is gone again when the block ends.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tracer import keys

# annotations name the protocol as a string: no import of tracer.layers, not even under
# TYPE_CHECKING (tests/test_imports.py counts those imports too)

#: type name → kind, in registration order (one kind may answer several names: maxpool2d, avgpool2d)
_LAYERS: dict[str, "LayerKind"] = {}  # noqa: F821

#: problem form → its kind: "equations", the graph problem's (a `graph:` file is not a list of
#: layers, so its kind is not a layer kind: plan D7)
_FORMS: dict[str, object] = {}


class UnknownKind(LookupError):
    """A ``type:`` no registered kind answers; the message lists the names that are known."""

    def __init__(self, name: object):
        self.name = name
        super().__init__(f"unknown layer kind {name!r}: one of {', '.join(names())} expected")


def register(kind: "LayerKind") -> None:  # noqa: F821
    """Make ``kind`` answer each of its ``names``, and its quantities' names parse (:func:`keys.register_kind`)."""
    taken = [name for name in kind.names if name in _LAYERS]
    if taken:
        raise ValueError(f"layer kind {', '.join(taken)} is registered already")
    for quantity in getattr(kind, "quantities", ()):
        keys.register_kind(quantity)
    for name in kind.names:
        _LAYERS[name] = kind


def unregister(kind: "LayerKind") -> None:  # noqa: F821
    """Remove a kind :func:`register` added, with its quantities."""
    for name in kind.names:
        if _LAYERS.get(name) is kind:
            del _LAYERS[name]
    for quantity in getattr(kind, "quantities", ()):
        keys.unregister_kind(quantity.letter)


def register_form(name: str, kind: object) -> None:
    """Make ``kind`` build the problems of form ``name`` (``"equations"``: a ``graph:`` file)."""
    if name in _FORMS:
        raise ValueError(f"problem form {name} is registered already")
    _FORMS[name] = kind


def form(name: str) -> object:
    """The kind that builds the problems of form ``name``."""
    return _FORMS[name]


def layer(name: object) -> "LayerKind":  # noqa: F821
    """The kind that reads a ``type: name`` entry; :class:`UnknownKind` if none does."""
    try:
        return _LAYERS[name]  # type: ignore[index]
    except (KeyError, TypeError):  # TypeError: a type: that YAML read as a list or a mapping
        raise UnknownKind(name) from None


def names() -> tuple[str, ...]:
    """Every ``type:`` name a kind answers, in registration order (``dense, conv2d, maxpool2d, …``)."""
    return tuple(_LAYERS)


def layers() -> tuple["LayerKind", ...]:  # noqa: F821
    """Every registered kind once, in registration order (the JSON Schema's order of branches)."""
    out: list = []
    for kind in _LAYERS.values():
        if not any(kind is seen for seen in out):
            out.append(kind)
    return tuple(out)


@contextmanager
def registered(*kinds: "LayerKind") -> Iterator[None]:  # noqa: F821
    """For tests: the kinds registered inside the block, and unregistered after it (however it ends)."""
    done = []
    try:
        for kind in kinds:
            register(kind)
            done.append(kind)
        yield
    finally:
        for kind in reversed(done):
            unregister(kind)
