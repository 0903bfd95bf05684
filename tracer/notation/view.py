"""What a printer needs from a theme. It lives with the themes, so that naming does not
depend on the renderer: the printers import it from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from tracer.keys import Partial, Quantity
from tracer.notation import blocks
from tracer.notation.symbol import Symbol


@dataclass(frozen=True)
class NamesView:
    """Names of quantities and partials, and the theme's symbols for the loss and the rate."""

    quantity: Callable[[Quantity], str]
    #: a theme's own symbol for a partial (δ), or None where it has none
    partial: Optional[Callable[[Partial], Optional[str]]] = None
    loss_name: str = "loss"
    rate: str = "η"
    times: str = "×"  # between substituted numbers
    dot: str = "·"  # between symbols in a chain
    #: the parts of a quantity's symbol, for labels built from them (a figure's units);
    #: None for the canonical names, which have no parts
    symbol: Optional[Callable[[Quantity], Symbol]] = None
    #: a whole vector or matrix (``W^{[2]}``, ``\delta^{[2]}``, ``h^{[1]}_{t}``): the theme's
    #: :meth:`~tracer.notation.Theme.block`, or the default writer for the canonical names
    block: Callable[..., Symbol] = blocks.block_symbol
    #: f, f′, ⊙, ᵀ, ∂ in a dialect: the theme's :meth:`~tracer.notation.Theme.operator`
    operator: Callable[..., str] = blocks.operator
