"""Reading a CLAIMS file: quantity names (or expressions of names) mapped to the numbers a
text or a student printed, each number's text kept (``0.2910`` claims four decimals).

A value may be a list (a vector: ``a2: [0.75, 0.77]``) or a list of rows (a matrix:
``"W2'": [[0.359, 0.409], [0.511, 0.561]]``); each entry is a claim of its own, named with
its index written in after the layer (``a2[1]``, ``W2[1,1]'``, ``dloss/dW2[2,1]``,
``a2[1]#2@end`` for ``a2#2@end``). An entry that cannot be read (not a number, claimed
twice, a ragged matrix) is kept as an *invalid* claim with its line and what was expected,
so the rest of the file is still judged; only a file that is not a mapping at all, or
holds no claim, is refused (:class:`SpecError`).

A number may be written with a decimal comma where YAML reads it as text: quoted
(``w5: "0,3589"``, ``a2: ["0,75", "0,77"]``) or alone on its line (``w5: 0,3589``, a block
list's ``- 0,75``); :func:`tracer.teach.digits.with_decimal_point` says which commas are
decimal marks. In a ``[ … ]`` list YAML splits ``0,75`` at the comma: such a list is
``invalid``, saying to quote its numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from tracer import bounds, keys
from tracer.bounds import MAX_TEXT, NUMBER
from tracer.files import FileRefused, read_text
from tracer.spec import GraphProblem, Problem, SpecError, from_mapping, to_mapping
from tracer.spec.errors import unprintable
from tracer.teach.digits import with_decimal_point
_EXPECTED = 'a number expected (e.g. 0.291 or "0.2910")'


@dataclass(frozen=True)
class Claim:
    name: str
    text: str  # the number as written ("" for an invalid entry)
    line: int = 0
    error: str = ""  # why the entry cannot be judged (an invalid claim); "" when it can

    @property
    def number(self) -> Decimal:
        return Decimal(self.text)

    @property
    def invalid(self) -> bool:
        return bool(self.error)


@dataclass(frozen=True)
class ClaimSet:
    claims: list[Claim]
    training: dict  # overrides of the problem's training (steps, order, learning_rate) for these claims


def load_claim_set(path: str | Path) -> ClaimSet:
    source = str(path)
    try:  # a FIFO or a device refused at once, not waited on
        text = read_text(path, MAX_TEXT)
    except FileRefused as err:
        raise SpecError(source, "", str(err)) from None
    return parse_claim_set(text, source)


def load_claims(path: str | Path) -> list[Claim]:
    return load_claim_set(path).claims


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
            if raw is None or len(raw.strip()) > bounds.MAX_NUMBER_TEXT or not re.fullmatch(r"\d+", raw.strip()):
                raise SpecError(source, where, f"a whole number (0 or more) expected, got {_shown(raw)}")
            out["steps"] = int(raw)
        elif key == "order":
            if raw not in ("simultaneous", "sequential"):
                raise SpecError(source, where, f"one of 'simultaneous', 'sequential' expected, got {_shown(raw)}")
            out["order"] = raw
        elif key == "learning_rate":
            rate = None if raw is None else bounds.finite_decimal(raw)
            if rate is None or rate <= 0:
                raise SpecError(source, where, f"a positive number expected ({bounds.DOUBLE_EXPECTED}), got {_shown(raw)}")
            out["learning_rate"] = float(rate)
        else:
            raise SpecError(source, where, "unknown key; expected steps, order or learning_rate")
    return out


def with_training(problem: Problem | GraphProblem, training: dict, source: str) -> Problem | GraphProblem:
    """The problem with a claims file's ``training:`` overrides, read again as a problem file is
    (:func:`tracer.spec.from_mapping`): every limit of a run holds (10,000,000 updates; a graph's
    1,000 steps and no ``order``), and a refusal names the claims file and the field."""
    if not training:
        return problem
    raw = to_mapping(problem)
    raw["training"] = {**raw.get("training", {}), **training}
    return from_mapping(raw, source)


#: a claimed number's size and digits (tracer.bounds: the same for a claims file and an answer CSV)
MAX_CLAIM_EXPONENT = bounds.MAX_CLAIM_EXPONENT
MAX_CLAIM_DIGITS = bounds.MAX_CLAIM_DIGITS


def _expected(value) -> str:
    """Why a value is no claimed number: not a number, or one of no sensible size."""
    raw = str(value).strip().replace("−", "-")
    if NUMBER.match(raw) and len(raw) <= 1000:
        return f"{bounds.claimed_number_expected()}, got {_shown(value)}"
    return f"{_EXPECTED}, got {_shown(value)}"


def _shown(value) -> str:
    """A value as a message quotes it: at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…'"


def _number_text(node) -> str | None:
    """A scalar's number as written, or None when it is not a number (or not one of a sensible size)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":bool", ":null")):
        return None
    text = with_decimal_point(node.value) if node.tag.endswith(":str") else node.value  # "0,0803": YAML's text
    return bounds.claimed_number(text)


def _split_decimal_comma(node, source_text: str) -> bool:
    """Did YAML split a decimal comma of a ``[ … ]`` list (``[0,75, 0,77]`` is 0, 75, 0, 77)?
    A plain number directly followed by a comma and a digit, no space between."""
    for cell in node.value:
        end = cell.end_mark.index
        if (isinstance(cell, yaml.ScalarNode) and cell.style is None and source_text[end:end + 1] == ","
                and source_text[end + 1:end + 2].isdigit()):
            return True
    return False


def _entries(name: str, node, line: int, source_text: str = "") -> list[Claim]:
    """A list (vector) or a list of rows (matrix) as one claim per entry, each named by the family's
    entry (``W2`` → ``W2[1,1]``, ``dloss/dW2`` → ``dloss/dW2[1,1]``, ``a2#2@end`` → ``a2[1]#2@end``)."""
    rows = node.value
    if not rows:
        return [Claim(name, "", line, "an empty list; a number, a list of numbers or a list of rows expected")]
    if node.flow_style and any(_split_decimal_comma(r, source_text) for r in [node] + [r for r in rows if isinstance(r, yaml.SequenceNode)]):
        return [Claim(name, "", line, 'a decimal comma inside [ … ] splits the number in two: quote each number ("0,75") '
                                      "or write 0.75")]
    block = keys.parse_block(name)
    if block is None:
        return [Claim(name, "", line, "a list is claimed for a family of quantities (a2, W2, W2', dloss/dW2, a2#2@end); "
                                      f"{name} names none: claim its entries one by one")]
    if all(isinstance(r, yaml.SequenceNode) for r in rows):
        widths = {len(r.value) for r in rows}
        if len(widths) != 1:
            return [Claim(name, "", line, f"a matrix's rows of equal length expected, got lengths {sorted(widths)}")]
        cells = [((i, j), cell) for i, r in enumerate(rows, 1) for j, cell in enumerate(r.value, 1)]
    elif any(isinstance(r, (yaml.SequenceNode, yaml.MappingNode)) for r in rows):
        return [Claim(name, "", line, "a list of numbers (a vector) or of lists (a matrix's rows) expected, not both")]
    else:
        cells = [((i,), cell) for i, cell in enumerate(rows, 1)]
    out = []
    for index, cell in cells:
        entry = str(block.entry(*index))
        text = _number_text(cell)
        at = cell.start_mark.line + 1
        out.append(Claim(entry, text, at) if text is not None else Claim(entry, "", at, _expected(cell.value)))
    return out


def parse_claim_set(text: str, source: str = "<claims>") -> ClaimSet:
    """A mapping name → number (or vector, or matrix); the numbers' text is kept. An optional
    ``training:`` mapping says the claims are about another run (steps, order)."""
    try:
        root = bounds.compose(text)
    except bounds.Refused as err:
        raise SpecError(source, "", f"{err.where()}{err.message}") from None
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
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode) or not key_node.value.strip():
            claims.append(Claim(f"line {line}", "", line, "a quantity name expected as the key"))
            continue
        name = key_node.value.strip()
        if unprintable(name) is not None:  # shown escaped (no terminal escape reaches the report) and judged INVALID
            claims.append(Claim(ascii(name)[1:-1], "", line, "a quantity name of printable characters expected as the key"))
            continue
        if name == "training":
            training = _training_overrides(value_node, source)
            continue
        if isinstance(value_node, yaml.SequenceNode):
            found = _entries(name, value_node, line, text)
        elif isinstance(value_node, yaml.MappingNode):
            found = [Claim(name, "", line, "a number, a list of numbers or a list of rows expected, got a mapping")]
        else:
            number = _number_text(value_node)
            found = [Claim(name, number, line) if number is not None else Claim(name, "", line, _expected(value_node.value))]
        for claim in found:
            if claim.name in seen:
                claim = Claim(claim.name, "", claim.line, "claimed twice")
            seen.add(claim.name)
            claims.append(claim)
    if not claims:
        raise SpecError(source, "", "no claims (a mapping of quantity names to numbers expected)")
    return ClaimSet(claims, training)
