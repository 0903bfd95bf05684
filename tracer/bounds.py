"""One bound for every input path: what a file may ask for, measured before any work starts.

A problem file, a quiz file (a problem file with a ``randomize:`` block), a CLAIMS file (and
its ``training:`` overrides) and an answer CSV are read by different modules, but each is
held to the same limits here, so that no path is a way around another's:

* **text**: at most :data:`MAX_TEXT` characters (checked before a byte is parsed);
* **nesting**: lists and mappings at most :data:`MAX_DEPTH` deep;
* **aliases**: YAML's ``&a``/``*a`` may repeat at most :data:`MAX_ALIAS_VALUES` values in all,
  counted as if written out — nine lines of nine aliases each (560 bytes) would otherwise
  be 387,420,489 values for the code after the parser to walk. Each distinct node is
  visited once (by identity), so the measuring takes the time the text takes to read; an
  alias of a mapping inside itself is refused too;
* **integers**: at most :data:`MAX_INTEGER` in size (``0x1F999…`` has no digit limit);
* **claimed numbers** (a claim, a student's answer): at most :data:`MAX_NUMBER_TEXT`
  characters, between 1e−300 and 1e300 in size (or 0) with at most :data:`MAX_CLAIM_DIGITS`
  digits: a float's range, well inside it, so that every rounding of a claim to its own
  last digit is exact in :mod:`decimal`;
* **the numbers a problem holds** (given, drawn by ``randomize:``, overridden by a claims
  file): finite doubles, refused where they are written (``1e400`` is inf);
* **updates**: a claims file's ``training:`` and a quiz's draws become a problem only
  through :func:`tracer.spec.from_mapping`, which holds every run to the training limits
  (10,000,000 updates; 1,000 for a graph or a conv/rnn network).

Only the standard library and PyYAML: :mod:`tracer.spec` and the readers of
:mod:`tracer.teach` build on this module.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

import yaml

#: the largest text of any input file (characters), and how deeply its lists and mappings nest
MAX_TEXT = 64 * 1024 * 1024
MAX_DEPTH = 40
#: values YAML aliases may repeat in all, counted as if written out
MAX_ALIAS_VALUES = 100_000
#: the largest integer a file may write (a count, a seed, a weight written without a point)
MAX_INTEGER = 10**18
#: a claimed number: characters, size (1e−300 … 1e300) and digits
MAX_NUMBER_TEXT = 100
MAX_CLAIM_EXPONENT = 300
MAX_CLAIM_DIGITS = 30
#: the largest finite double
MAX_FLOAT = 1.7976931348623157e308

NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


class Refused(ValueError):
    """An input beyond a bound; ``mark`` is where (a YAML mark with ``line``/``column``) or None."""

    def __init__(self, message: str, mark=None):
        super().__init__(message)
        self.message = message
        self.mark = mark

    def where(self) -> str:
        """``line 3, column 7: `` (or nothing without a mark)."""
        return f"line {self.mark.line + 1}, column {self.mark.column + 1}: " if self.mark is not None else ""


# ---------------------------------------------------------------------------
# YAML: nesting and aliases
# ---------------------------------------------------------------------------


def _measure(root: Any, children: Callable[[Any], Iterable | None]) -> None:
    """Refuse a tree nested deeper than :data:`MAX_DEPTH` or whose aliases repeat more than
    :data:`MAX_ALIAS_VALUES` values. ``children(x)`` lists a container's children (None for a
    leaf). Containers are visited once each (by identity), without recursion."""
    depth: dict[int, int] = {}
    size: dict[int, int] = {}
    entries = 0  # the values as the text holds them: each container's own children, once
    on_path: set[int] = set()
    stack: list[tuple[Any, list | None]] = [(root, None)]
    while stack:
        node, kids = stack[-1]
        key = id(node)
        if kids is None:
            listed = children(node)
            if listed is None:
                stack.pop()
                continue
            if key in size:
                stack.pop()
                continue
            if key in on_path:
                raise Refused("a YAML alias refers to a list or mapping inside itself")
            on_path.add(key)
            kids = list(listed)
            entries += len(kids)
            stack[-1] = (node, kids)
            stack.extend((kid, None) for kid in reversed(kids) if children(kid) is not None and id(kid) not in size)
            continue
        stack.pop()
        on_path.discard(key)
        inner = [kid for kid in kids if id(kid) in size]
        depth[key] = 1 + max((depth[id(kid)] for kid in inner), default=0)
        size[key] = len(kids) + sum(size[id(kid)] for kid in inner)
        if depth[key] > MAX_DEPTH:
            raise Refused(f"nested deeper than {MAX_DEPTH} levels")
    total = size.get(id(root), 0)
    if total - entries > MAX_ALIAS_VALUES:
        raise Refused(f"YAML aliases (*name) repeat {total - entries:,} values (at most {MAX_ALIAS_VALUES:,}); write the values out")


def _value_children(value: Any) -> Iterable | None:
    if isinstance(value, dict):
        return [item for pair in value.items() for item in pair]
    if isinstance(value, list):
        return value
    return None


def _node_children(node: Any) -> Iterable | None:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return None


def measure_values(value: Any) -> None:
    """The values a YAML loader constructed (lists, dicts, scalars) within the bounds."""
    _measure(value, _value_children)


def measure_nodes(node: Any) -> None:
    """A composed YAML node graph within the bounds (aliases are shared nodes)."""
    _measure(node, _node_children)


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than :data:`MAX_DEPTH` as it composes (with
    the line), before the recursion of the composer can run out of stack."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise Refused(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose(text: str):
    """The YAML node graph of ``text`` (None for an empty document) within the bounds:
    :class:`Refused` beyond them, :class:`yaml.YAMLError` for what is not YAML."""
    if len(text) > MAX_TEXT:
        raise Refused(f"{len(text):,} characters is too large a file (at most {MAX_TEXT:,})")
    root = yaml.compose(text, Loader=BoundedLoader)
    if root is not None:
        measure_nodes(root)
    return root


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


def claimed_number(text: str) -> str | None:
    """A claimed number's text as written (``0.2910``; a leading ``+`` dropped, ``−`` read as
    ``-``), or None when it is not a number of a sensible size (see the module docstring)."""
    raw = text.strip().replace("−", "-")
    if len(raw) > MAX_NUMBER_TEXT or not NUMBER.match(raw):
        return None
    number = Decimal(raw)
    shape = number.as_tuple()
    in_range = number == 0 or (abs(number.adjusted()) <= MAX_CLAIM_EXPONENT and len(shape.digits) <= MAX_CLAIM_DIGITS
                               and abs(shape.exponent) <= MAX_CLAIM_EXPONENT + MAX_CLAIM_DIGITS)
    return raw.lstrip("+") if in_range else None


def claimed_number_expected() -> str:
    return (f"a number between 1e-{MAX_CLAIM_EXPONENT} and 1e{MAX_CLAIM_EXPONENT} in size "
            f"with at most {MAX_CLAIM_DIGITS} digits expected")


#: the smallest normal double: a non-zero number below it is no number double precision holds (1e−400 is 0)
MIN_FLOAT = 2.2250738585072014e-308
DOUBLE_EXPECTED = "0 or a number between 2.2e-308 and 1.8e308 in size"


def finite_decimal(text: str) -> Decimal | None:
    """A number's text as an exact decimal that double precision holds — 0, or between
    2.2e−308 and 1.8e308 in size, in at most :data:`MAX_NUMBER_TEXT` characters — or None:
    ``1e400`` (inf as a float), ``1e-400`` (0 as a float) and ``1e999999999`` (beyond
    :mod:`decimal`'s own range) are not."""
    raw = text.strip()
    if len(raw) > MAX_NUMBER_TEXT or not NUMBER.match(raw):
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return None
    if number == 0:
        return number
    if not number.is_finite() or abs(number.adjusted()) > 400:
        return None
    return number if MIN_FLOAT <= abs(float(number)) <= MAX_FLOAT else None
