"""Sliding-window geometry shared by conv2d and pooling layers: the image a layer of these kinds
reads (and flatten's), the output length of a window sliding over it, and the input position
each window position reads.

The rules are torch's (``torch.nn.functional.conv2d``, ``max_pool2d``, ``avg_pool2d``), one
dimension at a time: a window of ``k`` entries ``d`` apart (dilation) spans ``d·(k − 1) + 1``
of the input padded by ``p`` on both sides; it starts at ``0, s, 2s, …`` and the output has

    floor((n + 2p − d·(k − 1) − 1) / s) + 1   positions   (ceil in place of floor with ceil_mode,
                                                          the last window starting inside the
                                                          input or its left padding).

With floor the windows may leave the last rows or columns of the input unread (their gradient
is 0: no output depends on them); with ceil the last window may reach past the padded input, and
reads only what lies inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Union

import numpy as np
from pydantic import BeforeValidator, Field

from tracer.spec.network import ReadContext
from tracer.spec.problem import LayerSpec


def _checked(minimum: int):
    """A validator: one whole number ≥ ``minimum`` or a [rows, columns] pair of them, else one line."""
    def check(value: Any) -> Any:
        def whole(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= minimum
        if whole(value) or (isinstance(value, list) and len(value) == 2 and all(whole(v) for v in value)):
            return value
        raise ValueError(f"a whole number ≥ {minimum} or [rows, columns] of them expected, got {value!r}")
    return BeforeValidator(check)


#: a size, stride or dilation as a file writes it: one whole number ≥ 1 (square) or [rows, columns]
Pair = Annotated[Union[Annotated[int, Field(ge=1)], Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]], _checked(1)]
#: a padding: one whole number ≥ 0 or [rows, columns]
PaddingPair = Annotated[Union[Annotated[int, Field(ge=0)], Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)]], _checked(0)]


def image_below(name: str, below: tuple[int, ...], at: ReadContext) -> tuple[int, int, int]:
    """(channels, height, width) of the image or feature map that a ``name`` layer reads; refused
    above an rnn's sequence (only dense layers apply at every time step) and on a flat input."""
    if at.per_step:
        raise at.fail(at.where, f"above an rnn with outputs: sequence only dense layers are built (they apply at every time step), got {name}")
    if len(below) != 3:
        raise at.fail(at.where, f"{name} needs an image or feature map (channels × height × width), got a flat input of {below[0]}")
    channels, height, width = below
    return channels, height, width


def pair(value: int | list[int]) -> tuple[int, int]:
    """A size as a file writes it, one number (square) or ``[rows, columns]``, as (rows, columns)."""
    if isinstance(value, list):
        return value[0], value[1]
    return value, value


def written(value: tuple[int, int]) -> int | list[int]:
    """(rows, columns) as a file writes it: one number when they are equal."""
    return value[0] if value[0] == value[1] else [value[0], value[1]]


def shown(value: tuple[int, int], sign: str = ", ") -> str:
    """``2`` for (2, 2), ``(1, 2)`` otherwise (how torch prints a pair)."""
    return str(value[0]) if value[0] == value[1] else f"({value[0]}{sign}{value[1]})"


@dataclass(frozen=True)
class Dimension:
    """One dimension of a window's geometry: what the spec side checks and the engine reads."""

    size: int  # of the input
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    ceil_mode: bool = False

    @property
    def span(self) -> int:
        """How many input positions a window covers, first to last: d·(k − 1) + 1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def padded(self) -> int:
        return self.size + 2 * self.padding

    def length(self) -> int:
        """The output length: floor((n + 2p − span) / s) + 1, or ceil with the last window
        starting inside the input or its left padding (torch's pooling_output_shape)."""
        reach = self.padded - self.span
        if self.ceil_mode:
            out = -(-reach // self.stride) + 1
            if (out - 1) * self.stride >= self.size + self.padding:
                out -= 1
            return out
        return reach // self.stride + 1


def dimension(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool,
              where: str, fail, what: str, pooling: bool = False) -> Dimension:
    """The dimension, or a one-line refusal naming the field (``where.what``, ``where.padding``):
    the window (its span, with dilation) must fit the padded input, and a pooling layer's padding
    be at most half its window (torch's rule: every window then holds an input)."""
    d = Dimension(size, kernel, stride, padding, dilation, ceil_mode)
    if pooling and 2 * padding > kernel:
        raise fail(f"{where}.padding", f"padding {padding} is more than half the window ({what} {kernel}): at most {kernel // 2}, as torch")
    if d.span > d.padded:
        spanned = f"{what} {kernel}" if dilation == 1 else f"{what} {kernel} with dilation {dilation} spans {d.span}, which"
        raise fail(f"{where}.{what}", f"{spanned} is larger than the padded input ({size} + 2·{padding} = {d.padded})")
    return d


def positions(layer: LayerSpec) -> np.ndarray:
    """(rows, cols, kh, kw): the flat position, within one channel of the input, that each entry
    of each window reads (row-major); −1 where it lies in the padding, −2 where it lies past the
    padded input (only the last window of ceil_mode reaches there)."""
    _, height, width = layer.in_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = layer.kernel, layer.stride, layer.padding, layer.dilation
    _, rows, cols = layer.out_shape
    r = (np.arange(rows) * sh)[:, None, None, None] + (np.arange(kh) * dh)[None, None, :, None] - ph
    c = (np.arange(cols) * sw)[None, :, None, None] + (np.arange(kw) * dw)[None, None, None, :] - pw
    r, c = np.broadcast_arrays(r, c)
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    padded = (r >= -ph) & (r < height + ph) & (c >= -pw) & (c < width + pw)
    return np.where(inside, r * width + c, np.where(padded, -1, -2))


def reads_outside(layer: LayerSpec) -> bool:
    """Does a window of this conv2d or pooling layer reach the padding or past the padded input
    (then the graph has the constant zero a padded position reads)?"""
    if layer.kind not in ("conv2d", "maxpool2d", "avgpool2d"):
        return False
    return bool(np.any(positions(layer) < 0))
