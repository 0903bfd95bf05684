"""Learning-rate schedules (``training.schedule``) as torch.optim.lr_scheduler defines them.

Update t reads the rate after n = t − 1 calls of ``scheduler.step()`` (torch's ``last_epoch``;
with ``per: epoch`` the epochs finished before it). Here: the shipped example worked by hand, the
engine's and the twin's rates against torch's schedulers, whole networks (SGD, Adam, a mini-batch
run stepped per epoch, an rnn) against torch.optim with the scheduler to 1e-12 (every number of
``solve -f json``, through tests/test_torch.py's comparison), and the refusals.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import yaml
from click.testing import CliRunner
from pytest import approx

from conftest import EXAMPLES, import_torch

torch = import_torch()

import torch_reference as reference  # noqa: E402  (after torch)
from test_torch import compare, load_generated, _probe_problem  # noqa: E402

import tracer  # noqa: E402
from tracer import answers, keys  # noqa: E402
from tracer.cli import cli  # noqa: E402
from tracer.core import schedules as engine_schedules  # noqa: E402
from tracer.export.as_json import solution_json  # noqa: E402
from tracer.numeric import schedules as twin_schedules  # noqa: E402
from tracer.spec import ScheduleSpec, SpecError, loads  # noqa: E402

EXAMPLE = EXAMPLES / "schedule_step.yaml"

#: every schedule, in the file's words, with a warm-up and with steps past a cosine's T_max and a
#: linear change's end
SCHEDULES = [
    {"name": "step", "step_size": 2, "gamma": 0.5},
    {"name": "multistep", "milestones": [1, 3], "gamma": 0.3},
    {"name": "exponential", "gamma": 0.9},
    {"name": "cosine", "T_max": 3, "eta_min": 0.01},
    {"name": "linear", "start_factor": 0.25, "end_factor": 0.75, "total_iters": 2},
    {"name": "cosine", "T_max": 2, "warmup": 2, "warmup_factor": 0.2},
    {"name": "multistep", "milestones": [2], "gamma": 0.5, "warmup": 1},
    {"name": "linear", "warmup": 2},
]


def _id(schedule: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in schedule.items()).replace(" ", "")


# -- the shipped example, by hand ------------------------------------------------------------

def test_step_schedule_example_by_hand():
    """η = 0.1, StepLR(step_size=2, gamma=0.5): η₁ = η₂ = 0.1, η₃ = η₄ = 0.05. One linear unit,
    w = (0.5, −0.25), b = 0.1, x = (1, 2), y = 1: z = 0.1, g = z − y = −0.9 (times x);
    step 1: w = (0.59, −0.07), b = 0.19; step 2 (z = 0.64, g = −0.36): w = (0.626, 0.002), b = 0.226;
    step 3 (z = 0.856, g = −0.144) at η₃ = 0.05: w₁ = 0.626 + 0.05 × 0.144 = 0.6332."""
    solution = tracer.solve(tracer.load(EXAMPLE), derived_steps=4)
    after = [list(ts.params_after.values()) for ts in solution.steps]
    assert after[0] == approx([0.59, -0.07, 0.19], abs=1e-15)
    assert after[1] == approx([0.626, 0.002, 0.226], abs=1e-15)
    assert after[2] == approx([0.6332, 0.0164, 0.2332], abs=1e-15)
    # step 4 (z = 0.8992, g = −0.1008) still at 0.05: w₁ = 0.6332 + 0.05 × 0.1008 = 0.63824
    assert after[3][0] == approx(0.63824, abs=1e-15)
    assert solution.verification.ok
    # at a constant 0.1 the third step would end elsewhere: the schedule is what moved it
    problem = tracer.load(EXAMPLE)
    constant = tracer.solve(replace(problem, training=replace(problem.training, schedule=None)))
    assert list(constant.steps[2].params_after.values())[0] == approx(0.6404, abs=1e-15)


def test_the_document_writes_each_rate_and_uses_it():
    text = answers.render(tracer.solve(tracer.load(EXAMPLE), derived_steps=4), "text")
    assert ("Learning-rate schedule: torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5), stepped once per update; "
            "update t uses the rate after n scheduler steps, n = t − 1:") in text
    assert "η_t = η·γ^⌊n/s⌋" in text and "with η = 0.1, s = 2, γ = 0.5." in text
    assert "(14) η₁ = η·γ^⌊n/s⌋ = 0.1 × 0.5^⌊0/2⌋ = 0.1" in text
    assert "(48) η₃ = η·γ^⌊n/s⌋ = 0.1 × 0.5^⌊2/2⌋ = 0.05" in text
    assert "(49) W1[1,1]'@3 = W1[1,1]'@2 − η₃·∂loss/∂W1[1,1] = 0.626 − 0.05 × (−0.144) = 0.6332   [from (32), (43), (48)]" in text
    tex = answers.render(tracer.solve(tracer.load(EXAMPLE)), "tex")
    assert r"\gamma^{\left\lfloor{\frac{2}{2}}\right\rfloor}" not in tex  # substituted numbers, not symbols
    assert r"0.5^{\left\lfloor{\frac{2}{2}}\right\rfloor} = 0.05" in tex
    assert r"\texttt{torch.optim.lr\_scheduler.StepLR(optimizer, step\_size=2, gamma=0.5)}" in tex


def test_the_rate_is_a_step_of_the_document_and_a_number_of_the_json():
    solution = tracer.solve(tracer.load(EXAMPLE))
    third = solution.steps[2].writer.step(keys.hyper("lr", 3))
    assert third.value == 0.05
    assert solution.steps[2].writer.step(keys.hyper("lr", 2)) is None  # each step writes its own rate only
    steps = solution_json(solution)["steps"]
    assert [s["learning_rate"] for s in steps] == [0.1, 0.1, 0.05, 0.05]
    plain = solution_json(tracer.solve(tracer.load(EXAMPLES / "optimizer_adam.yaml")))["steps"]
    assert all("learning_rate" not in s for s in plain)  # without a schedule the rate is the file's, stated once


# -- the rates against torch's schedulers ------------------------------------------------------

def _torch_rates(schedule: ScheduleSpec, base: float, count: int) -> list[float]:
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=base)
    scheduler = reference.make_scheduler(schedule, optimizer)
    rates = []
    for _ in range(count):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("raw", SCHEDULES, ids=_id)
def test_engine_and_twin_rates_are_torchs(raw):
    """Twelve updates (past every milestone, T_max and total_iters): the rate of each, from the
    engine's SymPy equation and from the twin's closed form, equals the lr torch's scheduler set."""
    schedule = loads(yaml.safe_dump(_probe_problem("tanh", training={"learning_rate": 0.1, "steps": 2, "schedule": raw})), "s.yaml").training.schedule
    theirs = _torch_rates(schedule, 0.1, 12)
    engine = [engine_schedules.rate(schedule, 0.1, n) for n in range(12)]
    twin = [twin_schedules.rate(schedule, 0.1, n) for n in range(12)]
    assert max(abs(a - b) for a, b in zip(engine, theirs)) <= 1e-15
    assert max(abs(a - b) for a, b in zip(twin, theirs)) <= 1e-15
    assert len({round(r, 12) for r in theirs}) > 1  # the schedule changes the rate


def test_cosine_rates_by_hand():
    """CosineAnnealingLR(T_max=4, eta_min=0.01) from 0.1: 0.01 + 0.09·(1 + cos(πn/4))/2 —
    n = 2 gives 0.055, n = 4 gives 0.01 and n = 6 0.055 again (the cosine goes on past T_max)."""
    schedule = ScheduleSpec("cosine", T_max=4, eta_min=0.01)
    assert engine_schedules.rate(schedule, 0.1, 2) == approx(0.055, abs=1e-16)
    assert engine_schedules.rate(schedule, 0.1, 4) == approx(0.01, abs=1e-16)
    assert engine_schedules.rate(schedule, 0.1, 6) == approx(0.055, abs=1e-16)


# -- whole networks against torch.optim with the scheduler ---------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", {"name": "adam", "beta1": 0.8, "beta2": 0.99}], ids=["sgd", "adam"])
@pytest.mark.parametrize("raw", SCHEDULES, ids=_id)
def test_every_schedule_agrees_with_torch(raw, optimizer):
    """Four steps of a 2-3-2 tanh/sigmoid network on two samples: every number of ``solve -f json``
    (each step's parameters after, gradients, the optimizer's state) equals torch's, whose
    scheduler steps after each optimizer.step(), to 1e-12."""
    problem = load_generated(_probe_problem("tanh", training={"learning_rate": 0.1, "steps": 4, "optimizer": optimizer,
                                                              "schedule": raw}))
    assert compare(problem) > 0


def test_a_schedule_stepped_per_epoch_agrees_with_torch():
    """Three epochs of SGD on single samples (2 updates an epoch), ExponentialLR(gamma=0.5) stepped
    after each epoch: updates 1, 2 at 0.1, then 3, 4 at 0.05, then 5, 6 at 0.025."""
    raw = _probe_problem("tanh", training={"learning_rate": 0.1, "epochs": 3, "batch_size": 1,
                                          "schedule": {"name": "exponential", "gamma": 0.5, "per": "epoch"}})
    problem = load_generated(raw)
    assert [problem.scheduler_steps(t) for t in range(1, 7)] == [0, 0, 1, 1, 2, 2]
    assert compare(problem) > 0


def test_an_rnn_with_a_schedule_agrees_with_torch():
    raw = yaml.safe_load((EXAMPLES / "rnn_many_to_one.yaml").read_text())
    raw["training"] = {"learning_rate": 0.5, "steps": 3, "optimizer": "momentum", "schedule": {"name": "cosine", "T_max": 2, "eta_min": 0.01}}
    problem = load_generated(raw)
    assert problem.layered
    assert compare(problem) > 0


# -- refusals ------------------------------------------------------------------------------------

def _error(schedule, **training) -> str:
    raw = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    raw["training"]["schedule"] = schedule
    raw["training"].update(training)
    with pytest.raises(SpecError) as err:
        loads(yaml.safe_dump(raw), "s.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("s.yaml: ")
    return message


@pytest.mark.parametrize("schedule, field, words", [
    ({"name": "step", "step_size": 2, "gamma": 0}, "training.schedule.gamma", "greater than 0"),
    ({"name": "step", "step_size": 2, "gamma": -0.5}, "training.schedule.gamma", "greater than 0"),
    ({"name": "step", "gamma": 0.5}, "training.schedule.step_size", "required by the step schedule"),
    ({"name": "step", "step_size": 0}, "training.schedule.step_size", "at least 1"),
    ({"name": "multistep", "milestones": [3, 2]}, "training.schedule.milestones[1]", "milestones must increase, got 2 after 3"),
    ({"name": "multistep", "milestones": [2, 2]}, "training.schedule.milestones[1]", "milestones must increase"),
    ({"name": "multistep", "milestones": [0, 2]}, "training.schedule.milestones[0]", "a milestone ≥ 1 expected"),
    ({"name": "multistep", "gamma": 0.5}, "training.schedule.milestones", "required"),
    ({"name": "exponential"}, "training.schedule.gamma", "required by the exponential schedule"),
    ({"name": "cosine"}, "training.schedule.T_max", "required by the cosine schedule"),
    ({"name": "cosine", "T_max": 3, "eta_min": -0.1}, "training.schedule.eta_min", "at least 0"),
    ({"name": "cosine", "T_max": 3, "gamma": 0.5}, "training.schedule.gamma", "not a field of the cosine schedule"),
    ({"name": "linear", "start_factor": 0}, "training.schedule.start_factor", "greater than 0"),
    ({"name": "linear", "end_factor": 1.5}, "training.schedule.end_factor", "at most 1"),
    ({"name": "exponential", "gamma": 0.9, "warmup": 0}, "training.schedule.warmup", "at least 1"),
    ({"name": "exponential", "gamma": 0.9, "warmup_factor": 0.5}, "training.schedule.warmup_factor", "needs warmup"),
    ({"name": "exponential", "gamma": 0.9, "per": "batch"}, "training.schedule.per", "'step' or 'epoch'"),
    ({"name": "plateau"}, "training.schedule.name", "'step'"),
    ({"name": "exponential", "gamma": "0.9"}, "training.schedule.gamma", "a number expected"),
])
def test_a_bad_schedule_is_refused_in_one_line_naming_the_field(schedule, field, words):
    message = _error(schedule)
    assert f"{field}: " in message and words in message, message


def test_a_schedule_with_sequential_order_or_a_layers_own_rate_is_refused():
    assert "training.order: " in _error({"name": "exponential", "gamma": 0.9}, order="sequential")
    raw = _probe_problem("tanh", training={"learning_rate": 0.1, "steps": 2, "schedule": {"name": "exponential", "gamma": 0.9}})
    raw["network"]["layers"][0]["learning_rate"] = 0.3
    with pytest.raises(SpecError, match=r"network\.layers\[0\]\.learning_rate: a layer's own learning rate is not taken with training\.schedule"):
        loads(yaml.safe_dump(raw), "s.yaml")


def test_the_command_refuses_a_bad_schedule_with_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(EXAMPLE.read_text().replace("gamma: 0.5}", "gamma: -1}"))
    result = CliRunner().invoke(cli, ["solve", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "training.schedule.gamma: " in lines[0] and "Traceback" not in result.output


def test_a_schedule_survives_the_round_trip_through_its_mapping():
    from tracer.spec import from_mapping, to_mapping
    for raw in SCHEDULES + [{"name": "exponential", "gamma": 0.5, "per": "epoch"}]:
        problem = loads(yaml.safe_dump(_probe_problem("tanh", training={"learning_rate": 0.1, "steps": 2, "schedule": raw})), "s.yaml")
        assert from_mapping(to_mapping(problem)).training == problem.training


def test_a_quiz_sheet_states_the_schedule(tmp_path):
    """A student answers W1[1,1]'@3 from the sheet: it must say how the rate changes."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["randomize"] = {"W1[1,1]": "uniform(-1, 1, step=0.1)", "ask": ["W1[1,1]'@3"], "options": 0}
    path = tmp_path / "quiz.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(cli, ["quiz", str(path), "--count", "1", "--formats", "md", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    sheet = (tmp_path / "out" / "questions.md").read_text()
    assert "`torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)`, stepped once per update" in sheet
    assert r"\lambda_{t} = \lambda \cdot \gamma^{\left\lfloor{\frac{n}{s}}\right\rfloor}" in sheet
    assert "gradient-descent (schedule step (step\\_size 2, gamma 0.5)) steps" in sheet
