"""The one-line error of a problem file: :class:`SpecError` and the translation of pydantic's errors into it.

Every refusal of a problem file is one line naming the file, the field and what was expected
(SPEC §6), e.g. ``hw3.yaml: network.layers[1].weights: 2 rows expected (units), got 3``.
pydantic's error locations carry its union-branch tags (``list[float]``, ``ActivationModel``):
:func:`_field_path` drops them, so a model class of the file format must be named ``…Model``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError


class SpecError(ValueError):
    """A problem file is not valid. ``str(err)`` is the one-line message for the user."""

    def __init__(self, source: str, field_path: str, message: str):
        self.source = source
        self.field = field_path
        self.message = message
        rest = one_line(f"{field_path}: {message}" if field_path else message, 10**6)
        where = f"{_fitted(source, MAX_MESSAGE - len(rest) - 2)}: " if source else ""
        super().__init__(one_line(f"{where}{rest}"))


def _fitted(source: str, room: int) -> str:
    """A long path shortened in its middle to ``room`` characters (its file name kept whole), so that
    the field and the hint after it stay in a message of at most MAX_MESSAGE characters."""
    source = one_line(source, 10**6)
    if len(source) <= room:
        return source
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    keep = max(room - len(name) - 2, 0)
    return (source[:keep] + "…/" + name) if keep else "…/" + name


#: the longest message a problem file is refused with (SPEC §6: one line naming the file, the field and
#: what was expected; with the command's "tracer: " it stays under 300 characters)
MAX_MESSAGE = 280


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one line of at most ``limit`` characters: line breaks and control characters
    become spaces, a longer text is cut with ``...`` (a 100 kB value quoted in a message)."""
    text = " ".join("".join(" " if not ch.isprintable() else ch for ch in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unprintable(text: str) -> tuple[int, str] | None:
    """The first character of ``text`` that no document may carry, with its position: a control
    character (tab and line breaks included: a title is one line), half of a surrogate pair (not
    a character: YAML's ``"\\ud83d"``), or U+FFFE/U+FFFF (not allowed in XML)."""
    for i, ch in enumerate(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            return i, ch
    return None


def _refuse_unprintable_title(raw: dict, source: str) -> None:
    """A title is one line of printable text: a control character would make an ill-formed
    Moodle XML or QTI file and break the Markdown heading, so it is refused here, for every output."""
    title = raw.get("title")
    if isinstance(title, str):
        found = unprintable(title)
        if found is not None:
            i, ch = found
            what = "half of a surrogate pair" if 0xD800 <= ord(ch) <= 0xDFFF else "a control character"
            raise SpecError(source, "title", f"{what} (U+{ord(ch):04X}) at character {i + 1}; a title is one line of "
                                             "printable text (Greek, CJK and emoji are fine, written as themselves)")


def _validated(model: type[BaseModel], raw: Any, source: str, where: str) -> Any:
    """A part of the file validated on its own; errors name it from the file's root."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        inner = _translate(err, source)
        path = where + ("." + inner.field if inner.field and not inner.field.startswith("[") else inner.field or "")
        raise SpecError(source, path, inner.message) from None


#: pydantic's names of a union's branches (``int``, ``list[float]``, ``literal['sgd']``,
#: ``function-after[…]``, ``ActivationModel``): parts of an error's location, not keys of the file
_BRANCH_TAG = re.compile(r"^(?:int|float|str|bool|none|list|dict|union|tagged-union|function-[a-z]+|literal|[A-Z][A-Za-z]*Model)(?:\[.*\])?$", re.S)


def _field_path(loc: tuple[Any, ...], key_last: bool = False) -> str:
    """The dotted path of an error's location (``network.layers[0].weights``), without pydantic's
    union-branch tags. With ``key_last`` (an unknown key) the last part is the file's own key,
    kept whatever it is called (``int``, ``integer``, ``literally``)."""
    out = ""
    for n, part in enumerate(loc):
        if n and str(loc[n - 1]).startswith("tagged-union["):
            continue  # the branch's discriminator value (``adam`` of optimizer: {name: adam}), not a key
        if isinstance(part, int):
            out += f"[{part}]"
        elif key_last and n == len(loc) - 1:
            out += ("." if out else "") + str(part)
        elif not _BRANCH_TAG.match(str(part)):
            out += ("." if out else "") + str(part)
    return out


_EXPECT = {
    "float_type": "a number expected",
    "finite_number": "a finite number expected",
    "int_type": "a whole number expected",
    "bool_type": "true or false expected",
    "string_type": "a string expected",
    "list_type": "a list expected",
    "missing": "required, missing",
    "extra_forbidden": "unknown key",
    "too_short": "must not be empty",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "model_type": "a mapping expected",
    "dict_type": "a mapping expected",
}


def _translate(err: ValidationError, source: str) -> SpecError:
    errors = err.errors()
    # Prefer the error of the deepest location: for unions it names the real culprit.
    first = max(errors, key=lambda e: len(_field_path(e["loc"])))
    if any(e["type"] == "extra_forbidden" for e in errors):
        first = next(e for e in errors if e["type"] == "extra_forbidden")
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        parent = _field_path(first["loc"][:-1])
        key = _quoted(first["loc"][-1], 60)
        return SpecError(source, _field_path(first["loc"], key_last=True)[:120], f"unknown key {key}" + (f" in {parent}" if parent else ""))
    path = _field_path(first["loc"])
    if kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        message = f"one of {expected} expected, got {_quoted(got)}"
    elif kind == "value_error" and "error" in first.get("ctx", {}):  # a validator's own one line
        message = str(first["ctx"]["error"])
    elif kind in _EXPECT:
        message = _EXPECT[kind].format(**first.get("ctx", {}))
        if kind != "missing" and got is not None and not isinstance(got, (dict, list)):
            message += f", got {_quoted(got)}"
    else:
        message = first["msg"]
    return SpecError(source, path, message)


def _quoted(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message quotes what was written, not 100 kB of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
