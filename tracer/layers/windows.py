"""Sliding-window geometry shared by conv2d and pooling layers: the image a layer of these kinds
reads (and flatten's), the output length of a window sliding over it, and the input position
each window position reads."""

from __future__ import annotations

import numpy as np

from tracer.spec.network import ReadContext
from tracer.spec.problem import LayerSpec


def image_below(name: str, below: tuple[int, ...], at: ReadContext) -> tuple[int, int, int]:
    """(channels, height, width) of the image or feature map that a ``name`` layer reads; refused
    above an rnn's sequence (only dense layers apply at every time step) and on a flat input."""
    if at.per_step:
        raise at.fail(at.where, f"above an rnn with outputs: sequence only dense layers are built (they apply at every time step), got {name}")
    if len(below) != 3:
        raise at.fail(at.where, f"{name} needs an image or feature map (channels × height × width), got a flat input of {below[0]}")
    channels, height, width = below
    return channels, height, width


def window(size: int, kernel: int, stride: int, padding: int, where: str, fail, what: str) -> int:
    """The output length of a window sliding over ``size`` (+ padding on both sides): the kernel
    must fit, and the stride must land exactly on the last position."""
    padded = size + 2 * padding
    if kernel > padded:
        raise fail(where, f"{what} {kernel} is larger than the padded input ({size} + 2·{padding} = {padded})")
    if (padded - kernel) % stride:
        raise fail(where, f"stride {stride} does not fit: (input {size} + 2·padding {padding} − {what} {kernel}) = {padded - kernel} "
                          f"is not a multiple of {stride}")
    return (padded - kernel) // stride + 1


def positions(layer: LayerSpec) -> np.ndarray:
    """(rows, cols, k, k): the flat position, within one channel of the input, that each position
    of each window reads (row-major), −1 where the window lies in the padding."""
    _, height, width = layer.in_shape
    k, s, p = layer.kernel, layer.stride, layer.padding
    _, rows, cols = layer.out_shape
    r = (np.arange(rows) * s)[:, None, None, None] + np.arange(k)[None, None, :, None] - p
    c = (np.arange(cols) * s)[None, :, None, None] + np.arange(k)[None, None, None, :] - p
    r, c = np.broadcast_arrays(r, c)
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    return np.where(inside, r * width + c, -1)
