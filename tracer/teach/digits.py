"""A claimed number against a value, to the claim's own last digit.

A claim is the number *as written*: ``0.2910`` claims four decimals. It is right when
the value, rounded to that digit, is the claim — either way at an exact tie, decided in
exact decimal arithmetic when the caller has the exact value (a float of ``0.75 × −1.1``
is −0.8250000000000001: noise, not a reason to refuse −0.82). It is a *truncation* when
the value cut off at that digit is the claim.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_DOWN, ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext

#: how close to a tie (in units of the claim's last digit) a float must be for the exact value to decide
TIE_WINDOW = 1e-6


def _exact(value: float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def unit_of(text: str) -> Decimal:
    return Decimal(1).scaleb(Decimal(text).as_tuple().exponent)


#: digits enough for any rounding of a double (up to 1.8e308, exactly 767 significant digits at most)
#: to the last digit of a claim (down to 1e−330: tracer.bounds) — quantize needs every digit it keeps
_EXACT = Context(prec=1200)


def rounded_like(value: float | Decimal, text: str, rounding=ROUND_HALF_EVEN) -> Decimal:
    """``value`` rounded to the last digit of ``text`` (inf and nan as they are: no digit to round)."""
    exact = _exact(value)
    if not exact.is_finite():
        return exact
    with localcontext(_EXACT):
        return exact.quantize(unit_of(text), rounding=rounding)


def is_right(value: float | Decimal, text: str, exact: Decimal | None = None) -> bool:
    """The value rounds to the claim at the claim's last digit (either way at an exact tie);
    ``exact``, when given, is the value in exact decimal arithmetic and decides."""
    if exact is None and not (isinstance(value, Decimal) or math.isfinite(value)):
        return False
    value = exact if exact is not None else value
    claimed = Decimal(text)
    # an exact tie has two right roundings: −21.875 is −21.87 and −21.88 at two decimals (half-even
    # and half-up both give −21.88: half-down is the other one); off a tie all three agree
    return any(rounded_like(value, text, mode) == claimed for mode in (ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_HALF_DOWN))


def is_truncation(value: float | Decimal, text: str, exact: Decimal | None = None) -> bool:
    """The value cut off (not rounded) at the claim's last digit is the claim."""
    if exact is None and not (isinstance(value, Decimal) or math.isfinite(value)):
        return False
    return rounded_like(exact if exact is not None else value, text, ROUND_DOWN) == Decimal(text)


def follows(value: float | Decimal, text: str, exact: Decimal | None = None) -> bool:
    """The claim is the value written to its digits, rounded or truncated."""
    return is_right(value, text, exact) or is_truncation(value, text, exact)


def near_tie(value: float, text: str) -> bool:
    """Is the float within noise of a tie (…5 exactly one digit past the claim's last)?"""
    if not math.isfinite(value):
        return False
    with localcontext(_EXACT):  # in decimal: a claim's unit of 1e−301 would make the float quotient inf
        scaled = abs(Decimal(value)) / unit_of(text)
        return abs(scaled - scaled.to_integral_value(rounding=ROUND_DOWN) - Decimal("0.5")) < Decimal(TIE_WINDOW)


def near_boundary(value: float, text: str) -> bool:
    """Is the float within noise of a place where the claim's digits are decided — a tie (…5
    one digit past the claim's last) or a whole unit of the last digit (where a truncation
    turns over: the float of an exact 3.3 is 3.2999999999999998, which cut off is 3.299)?"""
    if not math.isfinite(value):
        return False
    with localcontext(_EXACT):
        scaled = abs(Decimal(value)) / unit_of(text)
        fraction = scaled - scaled.to_integral_value(rounding=ROUND_DOWN)
        window = Decimal(TIE_WINDOW)
        return abs(fraction - Decimal("0.5")) < window or fraction < window or fraction > 1 - window


#: a number written with a decimal comma: one comma between digits and no point (``0,08030``, ``-1,5e-3``)
DECIMAL_COMMA = re.compile(r"^\s*[-+−]?\d*,\d+(?:[eE][-+]?\d+)?\s*$")


def with_decimal_point(text: str) -> str:
    """A number written with a decimal comma as the same number with a decimal point (``0,08030`` →
    ``0.08030``); any other text as it is. The comma is always the decimal mark, never a thousands
    separator: ``1,234`` is 1.234, as the German and Spanish sheets of ``tracer quiz`` print it
    (answers are written to a few significant digits; no sheet groups thousands). A text with two
    marks (``1,234.5``, ``1.234,5``, ``1,234,567``) is left as it is, and so not a number."""
    return text.replace(",", ".") if DECIMAL_COMMA.match(text) else text


def significant_digits(text: str) -> int:
    """The digits a number claims, leading zeros not counted (``0.080`` claims 2, ``1.8`` 2, ``0.05`` 1)."""
    digits = Decimal(text).as_tuple().digits
    stripped = list(digits)
    while len(stripped) > 1 and stripped[0] == 0:
        stripped.pop(0)
    return len(stripped) if any(stripped) else 1


def digits_text(text: str) -> str:
    exponent = Decimal(text).as_tuple().exponent
    if exponent >= 0:
        return "units"
    return f"{-exponent} decimal" + ("s" if exponent != -1 else "")


def as_claim(value: float | Decimal, text: str) -> str:
    """A number written to the claim's last digit."""
    rounded = rounded_like(value, text)
    if rounded == 0 and rounded.adjusted() >= 12:  # 0E+300: the truth rounded to a claim of 1e300's units
        return "0"
    out = format(rounded, "f") if abs(rounded.adjusted()) < 12 else str(rounded)
    return "0" if rounded == 0 and out.startswith("-") else out


#: a number shown in a report keeps at most this many significant digits (a double holds 17)
SHOWN_DIGITS = 20


def shown(text: str) -> str:
    """A number's text as a report shows it: whole up to :data:`SHOWN_DIGITS` significant digits,
    else its first 17 and "…" — a claim of 1.0e−300 asks for 301 decimals, which the exact
    binary value of 0.29102777… fills with 250 zeros."""
    digits = Decimal(text).as_tuple().digits
    significant = len(digits) - next((k for k, d in enumerate(digits) if d), len(digits))
    if significant <= SHOWN_DIGITS:
        return text
    return f"{float(text):.17g}…"


def truncated_like(value: float | Decimal, text: str) -> str:
    rounded = rounded_like(value, text, ROUND_DOWN)
    out = format(rounded, "f") if abs(rounded.adjusted()) < 12 else str(rounded)
    return "0" if rounded == 0 and out.startswith("-") else out
