"""Window geometry as PyTorch takes it, against torch to 1e-12 (values, gradients, updates):
the floor of the output size (``ceil_mode=False``, torch's default) and ``ceil_mode=True``,
rectangular kernels and windows, per-dimension strides, ``dilation`` (F.conv2d, F.max_pool2d),
``padding`` on pooling (−∞ for max, zeros counted in the divisor for average:
``count_include_pad=True``) — and the gradient 0, with its reason, of what no window reads.

Each case is a small network (conv2d → pooling → flatten → one sigmoid) whose every number the
engine writes is compared with torch's by :func:`test_torch.compare` (the shipped examples
``pool_floor``, ``pool_ceil_padding`` and ``conv_rect_dilation`` are compared there too).
"""

from __future__ import annotations

import pytest

from conftest import EXAMPLES, import_torch

torch = import_torch()
F = torch.nn.functional

import tracer  # noqa: E402
from test_torch import compare, solved  # noqa: E402
from tracer.spec import from_mapping  # noqa: E402

X = [[[round(((7 * i + 3 * j) % 10) / 10 - 0.35, 2) for j in range(5)] for i in range(6)]]  # 1×6×5, no ties


def network(conv: dict, pool: dict) -> dict:
    """x (1×6×5) → conv2d (one filter, ``conv``'s geometry, tanh) → ``pool`` → flatten → 1 sigmoid."""
    size = conv.get("kernel_size", 2)
    kh, kw = (size, size) if isinstance(size, int) else size
    kernel = [[[[round(0.1 * ((u * kw + v) % 7) - 0.3, 2) for v in range(kw)] for u in range(kh)]]]
    x = torch.tensor(X, dtype=torch.float64)[None]
    geometry = {k: v for k, v in conv.items() if k != "kernel_size"}
    shaped = F.conv2d(x, torch.zeros(1, 1, kh, kw, dtype=torch.float64), **geometry)
    kind = pool.pop("type")
    pooled = (F.max_pool2d if kind == "maxpool2d" else F.avg_pool2d)(shaped, pool["size"], pool.get("stride"), **{
        k: v for k, v in pool.items() if k not in ("size", "stride")})
    inputs = pooled.numel()
    return {
        "network": {"input": {"channels": 1, "height": 6, "width": 5}, "layers": [
            {"type": "conv2d", "filters": 1, "kernel_size": size, **geometry, "activation": "tanh", "weights": kernel, "bias": [0.05]},
            {"type": kind, **pool},
            {"type": "flatten"},
            {"units": 1, "activation": "sigmoid", "weights": [[round(0.3 - 0.2 * k, 2) for k in range(inputs)]], "bias": [0.1]},
        ]},
        "loss": {"kind": "mse", "factor": 0.5},
        "data": [{"x": X, "y": [1]}],
        "training": {"learning_rate": 0.5, "steps": 2},
    }


CASES = {
    # conv2d: strides that do not divide (floor), rectangular kernels, padding and dilation per dimension
    "conv stride 2 on 6×5 (floor both ways)": ({"kernel_size": 3, "stride": 2}, {"type": "maxpool2d", "size": 1}),
    "conv 2×3, stride (1, 2), padding (1, 0), dilation (2, 1)": (
        {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]}, {"type": "avgpool2d", "size": 1}),
    "conv dilation 2, padding 2": ({"kernel_size": 2, "dilation": 2, "padding": 2, "stride": 3}, {"type": "maxpool2d", "size": 2}),
    # max pooling: floor, ceil_mode (a window past the map), padding (−∞), dilation, rectangles
    "maxpool 2×2 on 3×3 (floor)": ({"kernel_size": 2, "stride": 2}, {"type": "maxpool2d", "size": 2}),
    "maxpool 2×2 on 3×3, ceil_mode": ({"kernel_size": 2, "stride": 2}, {"type": "maxpool2d", "size": 2, "ceil_mode": True}),
    "maxpool 3×3, stride 2, padding 1, ceil_mode": ({"kernel_size": 2}, {"type": "maxpool2d", "size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    "maxpool 2×2, dilation 2, padding 1": ({"kernel_size": 2}, {"type": "maxpool2d", "size": 2, "stride": 1, "dilation": 2, "padding": 1}),
    "maxpool 2×3, stride (1, 2), dilation (2, 1)": ({"kernel_size": 1}, {"type": "maxpool2d", "size": [2, 3], "stride": [1, 2], "dilation": [2, 1]}),
    # average pooling: zeros of the padding counted in the divisor, a ceil window dividing by what it holds
    "avgpool 3×3, stride 2, padding 1, ceil_mode": ({"kernel_size": 2}, {"type": "avgpool2d", "size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    "avgpool 2×3, stride (1, 2), padding (1, 1)": ({"kernel_size": 2}, {"type": "avgpool2d", "size": [2, 3], "stride": [1, 2], "padding": [1, 1]}),
    "avgpool 2×2 on 5×4, ceil_mode": ({"kernel_size": 2}, {"type": "avgpool2d", "size": 2, "ceil_mode": True}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_number_agrees_with_torch(case):
    conv, pool = CASES[case]
    problem = from_mapping(network(dict(conv), dict(pool)))
    solution, out = solved(problem)
    assert solution.verification is not None and solution.verification.ok  # the NumPy twin and finite differences agree too
    assert compare(problem, solution, out) > 0


@pytest.mark.parametrize("name", ["pool_floor.yaml", "pool_ceil_padding.yaml", "conv_rect_dilation.yaml"])
def test_the_examples_agree_with_torch(name):
    assert compare(tracer.load(EXAMPLES / name)) > 0


def test_a_2x2_maxpool_on_a_3x3_map_reads_four_entries_and_the_rest_get_gradient_0():
    solution = tracer.solve(tracer.load(EXAMPLES / "pool_floor.yaml"))
    a1 = torch.tensor([[[solution.value(f"a1[1,{i},{j}]") for j in (1, 2, 3)] for i in (1, 2, 3)]], dtype=torch.float64)
    assert a1.reshape(-1).tolist() == pytest.approx([0.23, 0.12, 0.35, 0.12, 0.25, 0.35, 0.33, 0.31, 0.2], abs=1e-12)
    pooled = F.max_pool2d(a1[None], 2)  # torch's default: stride 2, ceil_mode=False
    assert pooled.shape == (1, 1, 1, 1)
    assert solution.value("a2[1,1,1]") == pytest.approx(float(pooled), abs=1e-12) == 0.25
    # ∂loss/∂a2 = −(1 − σ(0.8·0.25 − 0.2))·σ′·0.8 = −0.5 × 0.25 × 0.8 = −0.1, all of it to the largest, a1[1,2,2]
    assert solution.value("dloss/da1[1,2,2]") == pytest.approx(-0.1, abs=1e-12)
    for i, j in [(1, 3), (2, 3), (3, 1), (3, 2), (3, 3)]:
        step = solution.step(f"dloss/da1[1,{i},{j}]")
        assert step.value == 0.0
        assert step.note == "no window of layer 2 (maxpool2d) reads it (its output size is rounded down, as torch does): nothing depends on it"


def test_a_maxpool_window_cut_by_padding_is_the_max_of_what_it_holds():
    solution = tracer.solve(tracer.load(EXAMPLES / "pool_ceil_padding.yaml"))
    # the corner window holds a1[1,1,1] alone (its other three entries are padding: −∞); an edge window two
    assert solution.value("a2[1,1,1]") == solution.value("a1[1,1,1]") == pytest.approx(0.23, abs=1e-12)
    assert solution.value("a2[1,1,2]") == max(solution.value("a1[1,1,2]"), solution.value("a1[1,1,3]")) == pytest.approx(0.8, abs=1e-12)
    assert solution.value("a2[1,3,3]") == solution.value("a1[1,4,4]") == pytest.approx(0.12, abs=1e-12)  # one input, the rest past the map
    # the average pool's last window holds a2[1,3,3] alone and divides by 1 (torch's divisor: what lies inside the padded input)
    assert solution.value("a3[1,2,2]") == solution.value("a2[1,3,3]")
    assert solution.value("a3[1,1,2]") == pytest.approx((0.67 + 0.69) / 2, abs=1e-12)
