"""Sliding-window geometry shared by conv2d and pooling layers: the image a layer of these kinds
reads (and flatten's), and the output length of a window sliding over it."""

from __future__ import annotations

from tracer.spec.network import ReadContext


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
