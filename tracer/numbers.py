"""The one number formatter: a value rounded to a document's significant digits, without float noise.

Every output writes its numbers through :func:`fmt` (a standalone number) and :func:`fmt_operand`
(a number inside an expression): the renderers, a quiz's answers, ``check``'s messages and the
Python API. It knows nothing of the rest of the program (rank 1 of ARCHITECTURE.md).
"""

from __future__ import annotations

import math

DEFAULT_DIGITS = 9


def fmt(value: float, digits: int = DEFAULT_DIGITS, dialect: str = "text", zeros: bool = False) -> str:
    """A number rounded to ``digits`` significant digits, without float noise.

    ``0.30000000000000004`` → ``0.3``; ``-0.0`` → ``0``. Magnitudes below 1e-4 or from
    1e9 up are written in scientific notation (a run of leading zeros hides the
    significant digits): ``0.000035102`` → ``3.5102e−05`` (text) or
    ``3.5102 \\times 10^{-5}`` (LaTeX). ``zeros``: trailing zeros kept, every one of the
    ``digits`` written (a quiz's "to 4 significant digits": 0.2000, 0.02320).
    """
    if isinstance(value, bool):
        value = float(value)
    if math.isnan(value):
        return "NaN" if dialect == "text" else r"\mathrm{NaN}"
    if math.isinf(value):
        sign = "-" if value < 0 else ""
        return f"{sign}∞" if dialect == "text" else rf"{sign}\infty"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(float(f"{value:.{digits - 1}e}"))))  # of the rounded value: 0.99996 → 1.000
    if -4 <= exponent < 9:
        decimals = max(digits - 1 - exponent, 0)
        text = f"{value:.{decimals}f}"
        if "." in text and not zeros:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        return text.replace("-", "−") if dialect == "text" else text
    mantissa = f"{value:.{digits - 1}e}"
    base, _, exp = mantissa.partition("e")
    if "." in base and not zeros:
        base = base.rstrip("0").rstrip(".")
    exp_i = int(exp)
    if dialect == "text":
        return f"{base}e{exp_i:+03d}".replace("-", "−")
    return rf"{base} \times 10^{{{exp_i}}}"


def fmt_operand(value: float, digits: int = DEFAULT_DIGITS, dialect: str = "text") -> str:
    """A number as an operand of an expression: negative numbers in parentheses."""
    text = fmt(value, digits, dialect)
    if text.startswith(("-", "−")):
        return rf"\left({text}\right)" if dialect == "latex" else f"({text})"
    if dialect == "latex" and r"\times" in text:
        return rf"\left({text}\right)"
    return text
