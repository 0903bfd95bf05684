"""An optimizer's given starting state (issue 31): ``training.state`` of a network or a graph
problem, ``tracer descend --state``, and optimizers for graph problems.

The university exercise: heavy-ball momentum θ_{k+1} = θ_k − η·∇f(θ_k) + β·(θ_k − θ_{k−1}) on
f(x, y) = x² + x·y + 2y² from the current iterate (1, 1) and the previous one (1.5, 2), η = 0.1,
β = 0.5. ∇f = (2x + y, x + 4y) = (3, 5), so

    x' = 1 − 0.1·3 + 0.5·(1 − 1.5) = 0.45,    y' = 1 − 0.1·5 + 0.5·(1 − 2) = 0.

torch.optim.SGD(momentum=β) writes the same step as v = β·v₀ + g, θ' = θ − η·v with the
velocity the previous update left in its momentum buffer, v₀ = (θ_{k−1} − θ_k)/η = (5, 10):
v = (0.5·5 + 3, 0.5·10 + 5) = (5.5, 10), θ' = (1 − 0.55, 1 − 1) = (0.45, 0).

Every other state is compared with torch.optim with the same buffers preloaded
(``optimizer.state[p]``: ``momentum_buffer``, ``sum``, ``square_avg``, ``exp_avg``,
``exp_avg_sq``, ``step``), to 1e-12.
"""

from __future__ import annotations

import copy
from pathlib import Path

import click
import numpy as np
import pytest
import sympy as sp
import yaml
from click.testing import CliRunner
from pytest import approx

from conftest import import_torch

import tracer
from tracer import answers
from tracer.calculus.descent import descend
from tracer.cli.calculus import descend as descend_command
from tracer.numeric import optimizers as twin
from tracer.spec import OptimizerSpec, SpecError, from_mapping, to_mapping
from tracer.spec.optimizer_state import OptimizerState, read_state

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "graph_heavy_ball.yaml"
X, Y = sp.symbols("x y", real=True)
F = X**2 + X * Y + 2 * Y**2
cli = click.Group(commands=[descend_command])


def _gradient(p: np.ndarray) -> np.ndarray:
    return np.array([2 * p[0] + p[1], p[0] + 4 * p[1]])


# -- the exercise, by hand -------------------------------------------------------------------

def test_heavy_ball_graph_problem_writes_out_the_next_iterate():
    solution = tracer.solve(tracer.load(EXAMPLE))
    after = {str(k): v for k, v in solution.steps[0].params_after.items()}
    assert after["x"] == approx(0.45, abs=1e-15)
    assert after["y"] == approx(0.0, abs=1e-15)
    assert solution.values_after[tracer.keys.node("f")] == approx(0.2025, abs=1e-15)
    assert solution.verification.ok
    text = answers.render(solution, "text")
    assert "v₁(x) = β·v₀(x) + ∂f/∂x = 0.5 × 5 + 3 = 5.5" in text
    assert "x' = x − η·v₁(x) = 1 − 0.1 × 5.5 = 0.45" in text
    assert "y' = y − η·v₁(y) = 1 − 0.1 × 10 = 0" in text
    assert "v₀ = (θ₋ − θ)/η" in text  # the mapping to torch's buffer, said in the document


def test_heavy_ball_with_descend_writes_out_the_next_iterate():
    result = CliRunner().invoke(cli, ["descend", "x^2 + x y + 2y^2", "--start", "x=1,y=1", "--lr", "0.1", "--steps", "1",
                                      "--optimizer", "momentum", "--beta", "0.5", "--state", "previous:x=1.5,y=2"])
    assert result.exit_code == 0, result.output
    assert "v₀[x] = (x₋₁ − x₀)/α = (1.5 − 1)/0.1 = 5" in result.output
    assert "v₀[y] = (y₋₁ − y₀)/α = (2 − 1)/0.1 = 10" in result.output
    assert "x₁ = x₀ − α·v₁[x] = 1 − 0.1 × 5.5 = 0.45" in result.output
    assert "y₁ = y₀ − α·v₁[y] = 1 − 0.1 × 10 = 0" in result.output
    d = descend(F, {X: 1.0, Y: 1.0}, 0.1, 1, optimizer=OptimizerSpec("momentum", beta=0.5),
                state=OptimizerState((("previous", (("x", 1.5), ("y", 2.0))),)))
    assert d.iterates[1].point == approx((0.45, 0.0), abs=1e-15)


def test_heavy_ball_two_steps_is_the_textbook_recursion():
    """θ₂ = θ₁ − η∇f(θ₁) + β(θ₁ − θ₀) with θ₀ the previous iterate and θ₁ the current one, twice."""
    d = descend(F, {X: 1.0, Y: 1.0}, 0.1, 2, optimizer=OptimizerSpec("momentum", beta=0.5),
                state=OptimizerState((("previous", (("x", 1.5), ("y", 2.0))),)))
    before, now = np.array([1.5, 2.0]), np.array([1.0, 1.0])
    for k in (1, 2):
        before, now = now, now - 0.1 * _gradient(now) + 0.5 * (now - before)
        assert d.iterates[k].point == approx(tuple(now), abs=1e-14)


# -- the same numbers in torch.optim, its buffers preloaded ------------------------------------

CASES = [
    ("momentum", {"beta": 0.5}, "SGD", {"momentum": 0.5}, {"v": (5.0, 10.0)}, 0),
    ("momentum", {"beta": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True}, {"v": (-0.4, 1.25)}, 0),
    ("momentum", {"beta": 0.8, "weight_decay": 0.2}, "SGD", {"momentum": 0.8, "weight_decay": 0.2}, {"v": (0.3, -2.0)}, 0),
    ("adagrad", {"eps": 1e-6}, "Adagrad", {"eps": 1e-6}, {"G": (4.0, 0.25)}, 0),
    ("rmsprop", {"alpha": 0.9}, "RMSprop", {"alpha": 0.9}, {"s": (0.5, 2.0)}, 0),
    ("adam", {"beta1": 0.8, "beta2": 0.99}, "Adam", {"betas": (0.8, 0.99)}, {"m": (0.2, -0.7), "v": (0.09, 1.5)}, 3),
    ("adamw", {"beta1": 0.9, "beta2": 0.999}, "AdamW", {"betas": (0.9, 0.999)}, {"m": (1.0, 0.5), "v": (2.0, 0.0)}, 7),
]
TORCH_STATE = {"v": "momentum_buffer", "G": "sum", "s": "square_avg", "m": "exp_avg"}


def _torch_run(torch, theirs: str, options: dict, name: str, given: dict, step: int, steps: int, rate: float = 0.1):
    p = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    optimizer = getattr(torch.optim, theirs)([p], lr=rate, **options)
    state = optimizer.state[p]
    for letter, values in given.items():
        key = "exp_avg_sq" if (letter == "v" and name in ("adam", "adamw")) else TORCH_STATE[letter]
        tensor = torch.tensor(values, dtype=torch.float64)
        if key in state:  # Adagrad makes its sum in the constructor
            state[key].copy_(tensor)
        else:
            state[key] = tensor
    if name in ("adam", "adamw", "rmsprop"):
        state["step"] = torch.tensor(float(step), dtype=torch.float64)
        if name == "rmsprop":
            state.setdefault("square_avg", torch.zeros(2, dtype=torch.float64))
    points = []
    for _ in range(steps):
        optimizer.zero_grad()
        f = p[0] ** 2 + p[0] * p[1] + 2 * p[1] ** 2
        f.backward()
        optimizer.step()
        points.append(p.detach().numpy().copy())
    return points, optimizer.state[p]


@pytest.mark.parametrize("name, ours, theirs, options, given, step", CASES,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_descend_from_a_given_state_is_torchs(name, ours, theirs, options, given, step):
    """Three steps on f = x² + x·y + 2y² from (1, 1), the buffers preloaded: every iterate to 1e-12."""
    torch = import_torch()
    points, _ = _torch_run(torch, theirs, options, name, given, step, 3)
    state = OptimizerState(tuple((letter, (("x", values[0]), ("y", values[1]))) for letter, values in given.items()), step)
    d = descend(F, {X: 1.0, Y: 1.0}, 0.1, 3, optimizer=OptimizerSpec(name, **ours), state=state)
    for k, point in enumerate(points, start=1):
        assert np.max(np.abs(np.array(d.iterates[k].point) - point)) <= 1e-12, (k, d.iterates[k].point, point)
    # the given state mattered: from torch's zeros the run ends elsewhere
    plain = descend(F, {X: 1.0, Y: 1.0}, 0.1, 3, optimizer=OptimizerSpec(name, **ours))
    assert np.max(np.abs(np.array(plain.final.point) - points[-1])) > 1e-6


def test_the_graph_example_is_torchs_heavy_ball():
    torch = import_torch()
    points, state = _torch_run(torch, "SGD", {"momentum": 0.5}, "momentum", {"v": ((1.5 - 1) / 0.1, (2 - 1) / 0.1)}, 0, 1)
    solution = tracer.solve(tracer.load(EXAMPLE))
    after = [solution.steps[0].params_after[tracer.keys.node(n)] for n in ("x", "y")]
    assert np.max(np.abs(np.array(after) - points[0])) <= 1e-12
    assert np.max(np.abs(state["momentum_buffer"].numpy() - np.array([5.5, 10.0]))) <= 1e-12


def _graph(optimizer, state, steps: int = 3) -> dict:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["training"].update(optimizer=optimizer, state=state, steps=steps)
    return raw


@pytest.mark.parametrize("name, ours, theirs, options, given, step", CASES,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_a_graph_problem_trains_with_every_optimizer_from_a_given_state_as_torch(name, ours, theirs, options, given, step):
    torch = import_torch()
    points, _ = _torch_run(torch, theirs, options, name, given, step, 3)
    state = {letter: {"x": values[0], "y": values[1]} for letter, values in given.items()}
    if step:
        state["step"] = step
    solution = tracer.solve(from_mapping(_graph({"name": name, **ours}, state)))
    assert solution.verification.ok
    for k, point in enumerate(points):
        after = [solution.steps[k].params_after[tracer.keys.node(n)] for n in ("x", "y")]
        assert np.max(np.abs(np.array(after) - point)) <= 1e-12, (k, after, point)


NETWORK = {
    "title": "a sigmoid unit, its optimizer's state given",
    "network": {"inputs": 2, "layers": [{"units": 1, "activation": "sigmoid", "weights": [[0.5, -0.25]], "bias": [0.1]}]},
    "loss": {"kind": "mse", "factor": 0.5},
    "data": [{"x": [1.0, 2.0], "y": [1.0]}],
    "training": {"learning_rate": 0.1, "steps": 5},
}


def _torch_network(torch, theirs: str, options: dict, name: str, given: dict[str, dict[str, float]], step: int, steps: int):
    """The same unit in torch: W (1×2) and b (1), the buffers of the named parameters preloaded."""
    W = torch.tensor([[0.5, -0.25]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.1], dtype=torch.float64, requires_grad=True)
    optimizer = getattr(torch.optim, theirs)([W, b], lr=0.1, **options)
    where = {"W1[1,1]": (W, (0, 0)), "W1[1,2]": (W, (0, 1)), "b1[1]": (b, (0,))}
    for p in (W, b):
        state = optimizer.state[p]
        for letter in given:
            key = "exp_avg_sq" if (letter == "v" and name in ("adam", "adamw")) else TORCH_STATE.get(letter, "momentum_buffer")
            if key not in state:
                state[key] = torch.zeros_like(p.detach())
        if name in ("adam", "adamw", "rmsprop"):
            state["step"] = torch.tensor(float(step), dtype=torch.float64)
            for key in ({"adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",)}[name]):
                state.setdefault(key, torch.zeros_like(p.detach()))
    for letter, per in given.items():
        for parameter, value in per.items():
            p, index = where[parameter]
            if letter == "previous":  # heavy ball: the velocity the previous update left
                optimizer.state[p]["momentum_buffer"][index] = (value - p.detach()[index]) / 0.1
                continue
            key = "exp_avg_sq" if (letter == "v" and name in ("adam", "adamw")) else TORCH_STATE[letter]
            optimizer.state[p][key][index] = value
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    out = []
    for _ in range(steps):
        optimizer.zero_grad()
        a = torch.sigmoid(W @ x + b)
        loss = 0.5 * ((1.0 - a) ** 2).sum()
        loss.backward()
        optimizer.step()
        out.append(np.concatenate([W.detach().numpy().ravel(), b.detach().numpy()]))
    return out


NETWORK_CASES = [
    ("momentum", {"beta": 0.5}, "SGD", {"momentum": 0.5}, {"previous": {"W1[1,1]": 0.45, "b1[1]": 0.2}}, 0),
    ("momentum", {"beta": 0.9}, "SGD", {"momentum": 0.9}, {"v": {"W1[1,2]": -0.3}}, 0),
    ("adagrad", {}, "Adagrad", {}, {"G": {"W1[1,1]": 0.04, "W1[1,2]": 1.0, "b1[1]": 0.5}}, 0),
    ("rmsprop", {}, "RMSprop", {}, {"s": {"b1[1]": 0.01}}, 0),
    ("adam", {}, "Adam", {}, {"m": {"W1[1,1]": 0.05, "b1[1]": -0.02}, "v": {"W1[1,1]": 0.001}}, 3),
    ("adamw", {"weight_decay": 0.1}, "AdamW", {"weight_decay": 0.1}, {"m": {"W1[1,2]": 0.5}, "v": {"W1[1,2]": 0.2}}, 10),
]


@pytest.mark.parametrize("name, ours, theirs, options, given, step", NETWORK_CASES,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(NETWORK_CASES)])
def test_a_network_from_a_given_state_is_torchs(name, ours, theirs, options, given, step):
    """Five steps (three written out, two by the NumPy run) from the given state: every parameter to 1e-12."""
    torch = import_torch()
    expected = _torch_network(torch, theirs, options, name, given, step, 5)
    raw = copy.deepcopy(NETWORK)
    raw["training"].update(optimizer={"name": name, **ours}, state={**given, **({"step": step} if step else {})})
    solution = tracer.solve(from_mapping(raw))
    assert solution.verification.ok, solution.verification.mismatches[:3]
    for k, values in enumerate(expected):
        after = np.array(list(solution.steps[k].params_after.values()))
        assert np.max(np.abs(after - values)) <= 1e-12, (k, after, values)


def test_a_network_heavy_ball_step_by_hand():
    """W1[1,1] = 0.5, previous 0.45: v₀ = (0.45 − 0.5)/0.1 = −0.5; g = ∂loss/∂W1[1,1] = −(1 − a)·a(1 − a)·1
    with a = σ(0.5 − 0.5 + 0.1) = σ(0.1); W1[1,1]' = 0.5 − 0.1·(0.5·(−0.5) + g)."""
    raw = copy.deepcopy(NETWORK)
    raw["training"].update(steps=1, optimizer={"name": "momentum", "beta": 0.5}, state={"previous": {"W1[1,1]": 0.45}})
    solution = tracer.solve(from_mapping(raw))
    a = 1 / (1 + np.exp(-0.1))
    g = -(1 - a) * a * (1 - a)
    assert list(solution.steps[0].params_after.values())[0] == approx(0.5 - 0.1 * (0.5 * -0.5 + g), abs=1e-15)
    text = answers.render(solution, "text")
    assert "v₁(W1[1,1]) = β·v₀(W1[1,1]) + ∂loss/∂W1[1,1] = 0.5 × (−0.5) + " in text


# -- the twin reads the state on its own ------------------------------------------------------

def test_the_twin_turns_a_previous_iterate_into_torchs_momentum_buffer():
    start = twin.starting_state(twin.Hyper("momentum", beta=0.5), {"previous": {"x": 1.5, "y": 2.0}}, {"x": 1.0, "y": 1.0}, 0.1)
    assert start["v"] == approx({"x": 5.0, "y": 10.0}, abs=1e-15)
    with pytest.raises(ValueError, match="heavy-ball"):
        twin.starting_state(twin.Hyper("momentum", nesterov=True), {"previous": {"x": 1.5}}, {"x": 1.0}, 0.1)
    with pytest.raises(ValueError, match="sum of squares"):
        twin.starting_state(twin.Hyper("adam"), {"v": {"x": -1.0}}, {"x": 1.0}, 0.1)


def test_the_state_survives_the_round_trip_through_the_mapping():
    problem = tracer.load(EXAMPLE)
    assert problem.training.state.previous == {"x": 1.5, "y": 2.0}
    assert from_mapping(to_mapping(problem), problem.source) == problem
    raw = copy.deepcopy(NETWORK)
    raw["training"].update(optimizer="adam", state={"m": {"W1[1, 1]": 0.5}, "step": 2})
    network = from_mapping(raw)
    assert network.training.state.of("m") == {"W1[1,1]": 0.5}  # the canonical name
    assert from_mapping(to_mapping(network)) == network


# -- refusals: one line naming the field, exit 2 ------------------------------------------------

GRAPH_REFUSALS = [
    ({"name": "momentum"}, {"v": {"z": 1}}, "training.state.v.z: not a trained parameter"),
    ({"name": "momentum"}, {"G": {"x": 1}}, "training.state.G: momentum has no state 'G'"),
    ("sgd", {"v": {"x": 1}}, "training.state.v: sgd keeps no state"),
    ({"name": "adagrad"}, {"G": {"x": -0.5}}, "training.state.G.x: G is a sum of squares: a number ≥ 0 expected"),
    ({"name": "rmsprop"}, {"s": {"y": -1}}, "training.state.s.y: s is a sum of squares"),
    ({"name": "adam"}, {"v": {"x": -1e-3}}, "training.state.v.x: v is a sum of squares"),
    ({"name": "adam"}, {"step": 2.5}, "training.state.step: a whole number of steps already taken"),
    ({"name": "adam"}, {"step": -1}, "training.state.step: a whole number"),
    ({"name": "momentum"}, {"step": 3}, "training.state.step: momentum has no state 'step'"),
    ({"name": "momentum", "nesterov": True}, {"previous": {"x": 1}}, "training.state.previous: momentum has no state 'previous' (with nesterov"),
    ({"name": "momentum"}, {"v": {"x": 1}, "previous": {"x": 2}}, "training.state.previous: give v or the previous iterate, not both"),
    ({"name": "momentum"}, {"v": {"x": "a"}}, "training.state.v.x: a finite number expected"),
    ({"name": "momentum"}, [1, 2], "training.state: a mapping expected"),
]


@pytest.mark.parametrize("optimizer, state, message", GRAPH_REFUSALS, ids=[m.split(":")[0] + f"-{k}" for k, (_, _, m) in enumerate(GRAPH_REFUSALS)])
def test_a_bad_state_is_refused_naming_its_field(tmp_path, optimizer, state, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_graph(optimizer, state, 1)))
    with pytest.raises(SpecError) as err:
        tracer.load(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_network_state_for_an_unknown_or_untrained_parameter_is_refused():
    raw = copy.deepcopy(NETWORK)
    raw["training"].update(optimizer="momentum", state={"v": {"W3[1,1]": 0.1}})
    with pytest.raises(SpecError, match=r"training\.state\.v\.W3\[1,1\]: not a trained parameter \(parameters: W1\[1,1\], W1\[1,2\], b1\[1\]\)"):
        from_mapping(raw)
    raw["training"].update(update=["W1[1,1]"], state={"v": {"b1[1]": 0.1}})
    with pytest.raises(SpecError, match=r"training\.state\.v\.b1\[1\]: not a trained parameter"):
        from_mapping(raw)


def test_solve_exits_2_with_one_line(tmp_path):
    from tracer.cli import cli as main

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_graph({"name": "adagrad"}, {"G": {"x": -1}}, 1)))
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "training.state.G.x" in result.output


DESCEND_REFUSALS = [
    (["--optimizer", "momentum", "--state", "previous:x=1.5,z=2"], "--state.previous.z: not a trained parameter"),
    (["--optimizer", "adagrad", "--state", "G:x=-1"], "--state.G.x: G is a sum of squares"),
    (["--optimizer", "adam", "--state", "step=1.5"], "--state.step: a whole number of steps already taken"),
    (["--optimizer", "rmsprop", "--state", "v:x=1"], "--state.v: rmsprop has no state 'v'"),
    (["--state", "v:x=1"], "--state.v: sgd keeps no state"),
    (["--optimizer", "sgd,momentum", "--state", "v:x=1"], "--state: gives one optimizer's starting state"),
    (["--optimizer", "momentum", "--state", "v"], "--state: NAME:x=…,y=… (a state per variable) or step=N expected"),
]


@pytest.mark.parametrize("options, message", DESCEND_REFUSALS, ids=[f"descend-{k}" for k in range(len(DESCEND_REFUSALS))])
def test_descend_refuses_a_bad_state_naming_the_option(options, message):
    result = CliRunner().invoke(cli, ["descend", "x^2 + x y + 2y^2", "--start", "x=1,y=1", "--lr", "0.1", "--steps", "1", *options])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.strip().count("\n") == 0


def test_read_state_keeps_the_files_order_and_step():
    state = read_state({"m": {"b": 1, "a": 2}, "step": 4}, "adam", False, ["a", "b"])
    assert state.values == (("m", (("b", 1.0), ("a", 2.0))),) and state.step == 4
    assert state.to_mapping() == {"m": {"b": 1.0, "a": 2.0}, "step": 4}


def test_a_graph_quiz_refuses_an_optimizer_its_sheet_cannot_state(tmp_path):
    """The question sheet of a graph quiz states x' = x − η·∂f/∂x: with momentum and a previous
    iterate a student could not answer x', so the quiz is refused naming the field."""
    from tracer.cli import cli as main

    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["randomize"] = {"values": "uniform(-3, 3, step=1)", "ask": ["f", "x'"]}
    path = tmp_path / "quiz.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["quiz", str(path), "--count", "1", "--seed", "1", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "training.optimizer: tracer quiz on a graph problem takes plain gradient descent" in result.output


def test_a_network_quiz_refuses_a_given_state_its_sheet_cannot_state(tmp_path):
    """A network quiz's sheet says the optimizer starts "from m₀ = v₀ = 0"."""
    from tracer.cli import cli as main

    raw = copy.deepcopy(NETWORK)
    raw["training"].update(steps=1, optimizer="adam", state={"m": {"W1[1,1]": 0.05}})
    raw["randomize"] = {"W1[1,1]": "uniform(0.1, 0.9, step=0.1)", "ask": ["W1[1,1]'"]}
    path = tmp_path / "quiz.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["quiz", str(path), "--count", "1", "--seed", "1", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "training.state: tracer quiz states the optimizer from torch's zeros" in result.output


def test_a_graph_problems_json_has_each_steps_optimizer_state_and_checks_it():
    from tracer.export.as_json import solution_json

    solution = tracer.solve(tracer.load(EXAMPLE))
    data = solution_json(solution)
    assert data["steps"][0]["optimizer"] == {"name": "momentum", "state": {"v": {"x": 5.5, "y": 10.0}}}
    assert data["steps"][0]["params_after"] == {"x": approx(0.45, abs=1e-15), "y": approx(0.0, abs=1e-15)}
    # the states are among the numbers the twin checked: a wrong v would be a mismatch
    assert solution.verification.ok and solution.verification.quantities >= 12


def test_a_graph_leafs_state_is_a_name_ask_and_check_read():
    from tracer.cli import cli as main

    solution = tracer.solve(tracer.load(EXAMPLE))
    assert solution.value("v(x)") == approx(5.5, abs=1e-15)
    assert solution.value("v(y)@1") == approx(10.0, abs=1e-15)
    assert str(tracer.keys.parse("v(x)@1", nodes={"x", "y", "f"})) == "v(x)"
    result = CliRunner().invoke(main, ["ask", str(EXAMPLE), "v(y)"])
    assert result.exit_code == 0, result.output
    assert "v₁(y) = β·v₀(y) + ∂f/∂y = 0.5 × 10 + 5 = 10" in result.output
    result = CliRunner().invoke(main, ["ask", str(EXAMPLE), "m(y)"])
    assert result.exit_code == 2 and "m(y): no such optimizer state" in result.output
