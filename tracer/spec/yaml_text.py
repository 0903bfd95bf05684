"""A problem file's text read as YAML into a mapping, then validated (:func:`load`, :func:`loads`).

YAML 1.2's exponent floats (``1e-3``) are read as numbers; explicit tags, a key given twice,
nesting deeper than :data:`MAX_DEPTH`, integers beyond :data:`MAX_INTEGER` and aliases that
repeat too many values are refused with the line they are on (:mod:`tracer.bounds`). libyaml
reads where it gives the same mapping as PyYAML's pure-Python loader, which stays the reference.
The mapping goes to :func:`tracer.spec.mapping.from_mapping`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tracer import bounds
from tracer.files import STDIN, FileRefused, read_text
from tracer.spec.errors import SpecError
from tracer.spec.mapping import from_mapping
from tracer.spec.problem import Problem

def load(path: str | Path) -> Problem:
    """Read a problem file (``-``: the standard input, named ``<stdin>`` in messages); raise
    :class:`SpecError` (one line, names the field) when it is wrong."""
    source = "<stdin>" if str(path) == STDIN else str(path)
    try:  # a FIFO, a device or a directory refused before a byte is read (tracer.files)
        text = read_text(path, MAX_TEXT)
    except FileRefused as err:
        raise SpecError(source, "", str(err)) from None
    return loads(text, source)


#: YAML 1.2's floats without a decimal point (``1e-3``, ``2E+5``), which YAML 1.1 (PyYAML)
#: reads as strings — every user writes a learning rate or an ε so
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


#: the limits of what a problem file may be: its size, how deeply its lists and mappings nest, how
#: many values its aliases repeat (tracer.bounds: one bound for every input path)
MAX_TEXT = bounds.MAX_TEXT
MAX_DEPTH = bounds.MAX_DEPTH


def _Refused(mark, message: str) -> bounds.Refused:
    return bounds.Refused(message, mark)


def _plain_composer(base: type) -> dict:
    """For the pure-Python loader: no explicit tag (``!!int``, ``!!timestamp``, ``!x``) — a value is
    read as YAML's own plain scalars, never as what a tag asks for — and no nesting deeper
    than :data:`MAX_DEPTH`; and (both loaders) no key twice in one mapping."""

    def construct_mapping(self, node, deep=False):  # the C loader's constructor is Python too: both refuse a key twice
        seen: dict = {}
        for key_node, _ in getattr(node, "value", ()):
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.value in seen:
                raise _Refused(key_node.start_mark, f"the key {key_node.value[:40]!r} is given twice in one mapping "
                                                    f"(first on line {seen[key_node.value] + 1}); YAML would keep only the last")
            seen[key_node.value] = key_node.start_mark.line
        return base.construct_mapping(self, node, deep)

    if not hasattr(base, "compose_node") or base.__name__.startswith("C"):
        return {"construct_mapping": construct_mapping}

    def compose_node(self, parent, index):
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and not isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"YAML tags such as {tag.replace('tag:yaml.org,2002:', '!!')} are not read; write the value plainly")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return base.compose_node(self, parent, index)
        finally:
            self._depth -= 1

    return {"compose_node": compose_node, "construct_mapping": construct_mapping}


def _too_deep(raw: Any) -> bool:
    """Do lists and mappings nest deeper than :data:`MAX_DEPTH`? (:class:`bounds.Refused` when
    aliases repeat too many values: no loader would give a line for that.)"""
    try:
        bounds.measure_values(raw)
    except bounds.Refused as err:
        if err.message.startswith("nested"):
            return True
        raise
    return False


@lru_cache(maxsize=None)
def _with_exponent_floats(base: type) -> type:
    loader = type(f"{base.__name__}WithExponents", (base,), _plain_composer(base))
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))  # type: ignore[attr-defined]
    loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)  # type: ignore[attr-defined]
    return loader


#: the largest integer a problem file may write (a count, a seed, a weight written without a point)
MAX_INTEGER = bounds.MAX_INTEGER


def _bounded_int(loader, node) -> int:
    """YAML's int, at most :data:`MAX_INTEGER` in size: ``0x1F999…`` (hex has no digit limit)
    would otherwise be a 200-digit integer that no field can use and no message can quote."""
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    if abs(value) > MAX_INTEGER:
        raise _Refused(node.start_mark, f"an integer beyond 10^18 ({node.value[:20]}…) is not read; write a number of that size as a float (1e18)")
    return value


def loads(text: str, source: str = "<string>") -> Problem:
    # libyaml (yaml.CSafeLoader, where PyYAML was built with it) reads the 25,450 numbers
    # of a 784-32-10 file in ~0.12 s, PyYAML's pure-Python SafeLoader in ~0.75 s. The
    # pure-Python loader stays the reference: it reads every text libyaml refuses or fails
    # on (so its result or its error message is the answer), and every text on which the
    # two parsers could disagree (tests/test_yaml_loading.py compares them).
    def alike(text: str) -> bool:
        """No tab and no byte-order mark; no tag (!), block scalar (| >) or "?" but in a comment."""
        if "\t" in text or "\ufeff" in text:
            return False
        for line in text.splitlines():  # every YAML line break, and more
            if any(ch in line for ch in "!|>?"):
                k = line.find("#")
                while k > 0 and line[k - 1] != " ":
                    k = line.find("#", k + 1)
                code = line if k < 0 or "'" in line[:k] or '"' in line[:k] else line[:k]
                if any(ch in code for ch in "!|>?"):
                    return False
        return True

    fast = getattr(yaml, "CSafeLoader", None)
    fast = None if fast is None else _with_exponent_floats(fast)
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise SpecError(source, "", f"{len(text):,} characters is too large a problem file (at most {MAX_TEXT:,})")
    if fast is not None and isinstance(text, str) and alike(text):
        try:
            raw = yaml.load(text, Loader=fast)
        except Exception:  # whatever libyaml made of it, the reference loader below decides
            pass
        else:
            try:
                deep = _too_deep(raw)
            except bounds.Refused as err:  # aliases repeating too much: measured, not walked
                raise SpecError(source, "", err.message) from None
            if not deep:  # too deep: the reference loader refuses it, with its line
                return from_mapping(raw, source)
    try:
        raw = yaml.load(text, Loader=_with_exponent_floats(yaml.SafeLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise SpecError(source, "", f"YAML syntax error: {where}{problem}") from None
    except bounds.Refused as err:
        raise SpecError(source, "", f"{err.where()}{err.message}") from None
    except RecursionError:
        raise SpecError(source, "", f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as err:  # a scalar YAML cannot make a value of
        raise SpecError(source, "", f"a YAML value that cannot be read ({str(err)[:80]})") from None
    try:
        bounds.measure_values(raw)
    except bounds.Refused as err:
        raise SpecError(source, "", err.message) from None
    return from_mapping(raw, source)
