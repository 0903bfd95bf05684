"""An independent PyTorch reference for the engine's numbers (used by tests/test_torch.py).

From a loaded problem (``tracer.load`` → :class:`tracer.spec.Problem` or
:class:`tracer.spec.GraphProblem`) this module builds the same computation in torch, in
float64, and lets torch do the calculus and the updates: autograd gives every gradient,
``torch.optim`` (SGD, SGD with momentum or Nesterov, Adagrad, RMSprop, Adam, AdamW; weight_decay) every update,
``torch.nn.functional`` the convolutions and the pooling. It shares no code with the
engine's math (``tracer.core``, ``tracer.numeric``, ``tracer.layers``): it reads the
problem's frozen data classes, which the spec loader made, and, for a graph problem, the
tree that the project's safe parser (``tracer.calculus.expression.parse``) makes of each
equation — a SymPy tree whose every operation is mapped here onto torch's own function;
no text is evaluated.

What a problem means is read from docs/spec.md, not from the engine:

- §1 activations (identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, arctan,
  gelu, gelu_tanh, silu, step, softmax), losses (mse with ``factor``, cross_entropy, binary_cross_entropy, each
  with ``outputs`` and ``samples`` sum | mean and ``log`` ln | log10 | log2), hinge
  (max(0, 1 − y·o) as torch.relu of the margin: subgradient 0 at the kink, the engine's convention);
- §8 conv2d (cross-correlation, zero padding, stride, dilation), maxpool2d (padding, dilation,
  ceil_mode), avgpool2d (padding with count_include_pad=True, ceil_mode), flatten
  (channel-major), rnn (``z_t = W x_t + U h_{t−1} + b``; ``outputs: last | sequence``,
  dense layers above a sequence at every step, the loss summed over the steps);
- §9 the optimizers as torch.optim defines them, each layer's own learning rate (a
  parameter group per layer), the L2 penalty (λ/2)·Σ w² and the L1 penalty λ·Σ |w| on the
  weights (W, U; not the biases);
- ``training.update`` and ``trainable_bias``: the gradient of a parameter that is not
  trained is set to 0 before ``optimizer.step()``. For every optimizer of §9 a gradient
  that is 0 from the first step on leaves the state at 0 and the parameter where it is
  (SGD: η·0; momentum: v = 0; AdaGrad, RMSprop: 0/(√0 + ε); Adam: m = 0), exactly; with
  weight decay (which moves such an entry in torch) its value and state are put back after
  the step, as the engine keeps them;
- ``order: sequential`` (Mazur's): the forward values are the old ones, the layers are
  updated from the output back, and the δ of a hidden layer is carried down through the
  already updated weights above it. Expressed with one small autograd function,
  :class:`_ReadsUpdatedWeights`, whose forward multiplies by the old weights and whose
  backward by the updated ones; each layer is then stepped by ``torch.optim.SGD``;
- training runs (``batch_size``, ``epochs``): batches of consecutive samples in file
  order, each update on its own batch's loss. ``shuffle: true`` is not reproduced (the
  engine's draw of the permutation is its own choice, not torch's): refused here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import sympy as sp
import torch
import torch.nn.functional as F

from tracer.calculus.expression import parse
from tracer.spec import ActivationSpec, GraphProblem, LayerSpec, LossSpec, OptimizerSpec, Problem

DT = torch.float64

#: above this input torch's softplus returns its input unchanged; log(1 + e^50) − 50 ≈ 2e−22
#: is below half an ulp of 50, so 50 changes no float64 value (torch's default, 20, would:
#: log(1 + e^20) − 20 ≈ 2e−9)
_SOFTPLUS_THRESHOLD = 50.0


class NotComparable(ValueError):
    """A problem (or a setting of one) that this reference does not reproduce, and why."""


# ---------------------------------------------------------------------------
# Activations and losses (docs/spec.md §1)
# ---------------------------------------------------------------------------


def activate(spec: ActivationSpec, z: torch.Tensor, relu_derivative_at_zero: int = 0) -> torch.Tensor:
    """g(z) for the activations of §1, softmax over the last axis."""
    name = spec.name
    params = dict(spec.params)
    if name == "identity":
        return z
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":  # torch.relu's slope at 0 is 0; the file may ask for 1
        return torch.relu(z) if relu_derivative_at_zero == 0 else torch.where(z >= 0, z, torch.zeros_like(z))
    if name == "leaky_relu":
        return F.leaky_relu(z, params["alpha"])
    if name == "elu":
        return F.elu(z, params["alpha"])
    if name == "softplus":
        return F.softplus(z, beta=1.0, threshold=_SOFTPLUS_THRESHOLD)
    if name == "arctan":
        return torch.atan(z)
    if name == "gelu":  # x·Φ(x), Φ by erf: torch's exact GELU
        return F.gelu(z, approximate="none")
    if name == "gelu_tanh":
        return F.gelu(z, approximate="tanh")
    if name == "silu":
        return F.silu(z)
    if name == "step":  # 1 for z ≥ 0, else 0: a comparison, so no gradient flows through it
        return (z >= 0).to(DT)
    if name == "softmax":
        return torch.softmax(z, dim=-1)
    raise NotComparable(f"activation {name!r} has no torch counterpart here")


_LOGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"ln": torch.log, "log10": torch.log10, "log2": torch.log2}


def per_sample_loss(spec: LossSpec, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each sample's loss: the per-output terms of §1 summed or averaged over the outputs; for a
    sequence (samples × steps × outputs) each step's terms combined so, the steps summed (§8)."""
    log = _LOGS[spec.log]
    if spec.kind == "mse":
        terms = spec.factor * (targets - outputs) ** 2
    elif spec.kind == "cross_entropy":
        terms = -targets * log(outputs)
    elif spec.kind == "binary_cross_entropy":
        terms = -(targets * log(outputs) + (1 - targets) * log(1 - outputs))
    elif spec.kind == "hinge":  # max(0, 1 − y·o) through relu, whose slope at its kink is 0 (clamp's would be 1)
        terms = torch.relu(1 - targets * outputs)
    else:
        raise NotComparable(f"loss {spec.kind!r} has no torch counterpart here")
    per_step = terms.sum(dim=-1) if spec.outputs == "sum" else terms.mean(dim=-1)
    return per_step.sum(dim=-1) if per_step.dim() == 2 else per_step


# ---------------------------------------------------------------------------
# Networks (§1, §8)
# ---------------------------------------------------------------------------


class _ReadsUpdatedWeights(torch.autograd.Function):
    """``a @ old.T`` forward, while the gradient with respect to ``a`` goes through ``new``:
    sequential order's hidden δ = f'(z) ⊙ (W_newᵀ δ_above), on the old forward values."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(new)
        return a @ old.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (new,) = ctx.saved_tensors
        return grad @ new, None, None


@dataclass
class Forward:
    """One forward pass over some samples. ``layers[l]`` holds the layer's ``z`` and ``a``
    (a leading sample axis; pooling only ``a``, flatten nothing), as the JSON's ``forward``."""

    layers: list[dict[str, torch.Tensor]]
    sample_losses: torch.Tensor  # (samples,)
    penalty: torch.Tensor | None
    loss: torch.Tensor  # the samples' losses combined (sum | mean), plus the penalty


@dataclass
class Update:
    """One update of a training run: the pass it started from (on its batch), the gradients of
    the batch's loss, the parameters after and the optimizer's state after."""

    number: int
    batch: tuple[int, ...]  # 1-based sample numbers
    forward: Forward
    gradients: dict[str, torch.Tensor]
    params_after: dict[str, torch.Tensor]
    state: dict[str, dict[str, torch.Tensor]]
    step_gradients: dict[str, torch.Tensor] | None = None  # sequential order: what the update subtracted (÷ η)
    #: training.clip: clip_grad_norm_'s total norm (by norm), and every .grad after clipping (what step() read)
    clip_norm: torch.Tensor | None = None
    clipped: dict[str, torch.Tensor] | None = None


def _family(letter: str, l: int) -> str:
    return f"{letter}{l}"


class Network:
    """A problem's network as torch tensors: one leaf per weight matrix, kernel stack,
    recurrent matrix and bias vector (``W1``, ``U1``, ``b1``, as the JSON groups them)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.params: dict[str, torch.Tensor] = {}
        self.trained: dict[str, torch.Tensor] = {}  # per family: a 0/1 mask of the trained entries
        self.layer_of: dict[str, int] = {}
        self.penalised: list[str] = []
        mask = iter(problem.trained_mask)
        for l, layer in enumerate(problem.layers, start=1):
            if layer.kind in ("maxpool2d", "avgpool2d", "flatten"):
                continue
            shapes: list[tuple[str, list, tuple[int, ...]]] = []
            if layer.kind == "conv2d":
                c, (kh, kw) = layer.in_shape[0], layer.kernel
                shapes.append(("W", list(layer.weights), (layer.units, c, kh, kw)))
            else:
                shapes.append(("W", list(layer.weights), (len(layer.weights), len(layer.weights[0]))))
            if layer.kind == "rnn":
                shapes.append(("U", list(layer.recurrent), (layer.units, layer.units)))
            if layer.bias is not None:
                shapes.append(("b", [layer.bias], (len(layer.bias),)))
            for letter, rows, shape in shapes:
                name = _family(letter, l)
                values = torch.tensor([v for row in rows for v in row], dtype=DT).reshape(shape)
                self.params[name] = values.clone().requires_grad_(True)
                count = values.numel()
                self.trained[name] = torch.tensor([next(mask) for _ in range(count)], dtype=DT).reshape(shape)
                self.layer_of[name] = l
                if letter in ("W", "U"):
                    self.penalised.append(name)
        if next(mask, None) is not None:
            raise NotComparable("the problem's trained mask is longer than its parameters")

    # -- data --------------------------------------------------------------------
    def inputs(self, samples: Sequence) -> torch.Tensor:
        shape = self.problem.input_shape or (self.problem.inputs,)
        return torch.tensor([list(s.x) for s in samples], dtype=DT).reshape(len(samples), *shape)

    def targets(self, samples: Sequence) -> torch.Tensor:
        y = torch.tensor([list(s.y) for s in samples], dtype=DT)
        steps = self.problem.target_steps
        return y.reshape(len(samples), steps, -1) if steps else y

    # -- the forward pass --------------------------------------------------------
    def forward(self, samples: Sequence, params: dict[str, torch.Tensor] | None = None,
                updated_above: dict[str, torch.Tensor] | None = None) -> Forward:
        """The pass over ``samples`` with ``params`` (default: the live leaves). ``updated_above``
        (sequential order) maps a dense layer's ``W{l}`` to its updated value, through which
        the gradient of the layer below then flows (the forward still uses ``params``)."""
        p = self.params if params is None else params
        problem = self.problem
        a = self.inputs(samples)
        records: list[dict[str, torch.Tensor]] = []
        relu0 = problem.relu_derivative_at_zero
        for l, layer in enumerate(problem.layers, start=1):
            W, b = p.get(_family("W", l)), p.get(_family("b", l))
            if layer.kind == "dense":
                new = (updated_above or {}).get(_family("W", l))
                z = a @ W.T if new is None else _ReadsUpdatedWeights.apply(a, W, new)
                if b is not None:
                    z = z + b
                a = activate(layer.activation, z, relu0)
                records.append({"z": z, "a": a})
            elif layer.kind == "conv2d":
                z = F.conv2d(a, W, bias=b, stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
                a = activate(layer.activation, z, relu0)
                records.append({"z": z, "a": a})
            elif layer.kind == "maxpool2d":
                a = F.max_pool2d(a, layer.kernel, layer.stride, layer.padding, layer.dilation, ceil_mode=layer.ceil_mode)
                records.append({"a": a})
            elif layer.kind == "avgpool2d":
                a = F.avg_pool2d(a, layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode, count_include_pad=True)
                records.append({"a": a})
            elif layer.kind == "flatten":
                a = torch.flatten(a, start_dim=1)
                records.append({})
            elif layer.kind == "rnn":
                z, a = self._recurrent(layer, l, a, p, relu0)
                records.append({"z": z, "a": a})
                if layer.returns == "last":
                    a = a[:, -1, :]
            else:
                raise NotComparable(f"layer kind {layer.kind!r} has no torch counterpart here")
        sample_losses = per_sample_loss(problem.loss, a, self.targets(samples))
        loss = sample_losses.sum() if problem.loss.samples == "sum" else sample_losses.mean()
        penalty = self.penalty(p)
        if penalty is not None:
            loss = loss + penalty
        return Forward(records, sample_losses, penalty, loss)

    def _recurrent(self, layer: LayerSpec, l: int, x: torch.Tensor, p: dict[str, torch.Tensor], relu0: int):
        """h_t = g(W x_t + U h_{t−1} + b) from the initial state, for t = 1 … T."""
        W, U, b = p[_family("W", l)], p[_family("U", l)], p.get(_family("b", l))
        h = torch.tensor(layer.initial_state, dtype=DT).expand(x.shape[0], layer.units)
        zs, hs = [], []
        for t in range(x.shape[1]):
            z = x[:, t, :] @ W.T + h @ U.T
            if b is not None:
                z = z + b
            h = activate(layer.activation, z, relu0)
            zs.append(z)
            hs.append(h)
        return torch.stack(zs, dim=1), torch.stack(hs, dim=1)

    def penalty(self, p: dict[str, torch.Tensor]) -> torch.Tensor | None:
        spec = self.problem.loss
        if not (spec.l2 or spec.l1):
            return None
        total = torch.zeros((), dtype=DT)
        for name in self.penalised:
            if spec.l2:
                total = total + spec.l2 / 2 * (p[name] ** 2).sum()
            if spec.l1:
                total = total + spec.l1 * p[name].abs().sum()
        return total

    # -- gradients and the optimizer ---------------------------------------------
    def gradients(self, loss: torch.Tensor, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """∂loss/∂(every parameter, or those named), by autograd; a parameter the loss does not
        reach (behind a step activation, say) gets 0."""
        names = list(self.params) if names is None else list(names)
        if not loss.requires_grad:  # nothing reaches the loss at all
            return {n: torch.zeros_like(self.params[n]) for n in names}
        grads = torch.autograd.grad(loss, [self.params[n] for n in names], allow_unused=True)
        return {n: (torch.zeros_like(self.params[n]) if g is None else g.detach().clone()) for n, g in zip(names, grads)}

    def optimizer(self) -> torch.optim.Optimizer:
        """torch.optim's optimizer of §9, one parameter group per layer (its own rate)."""
        problem = self.problem
        groups: dict[float, list[torch.Tensor]] = {}
        for name, tensor in self.params.items():
            own = problem.layers[self.layer_of[name] - 1].learning_rate
            groups.setdefault(problem.training.learning_rate if own is None else own, []).append(tensor)
        param_groups = [{"params": tensors, "lr": rate} for rate, tensors in groups.items()]
        optimizer = make_optimizer(problem.training.optimizer, param_groups)
        if problem.training.state.given:
            rates = {name: (problem.training.learning_rate if problem.layers[self.layer_of[name] - 1].learning_rate is None
                            else problem.layers[self.layer_of[name] - 1].learning_rate) for name in self.params}
            preload_families(optimizer, problem.training.optimizer, problem.training.state, self.params, rates)
        return optimizer

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {n: t.detach().clone() for n, t in self.params.items()}

    # -- training ----------------------------------------------------------------
    def batches(self) -> list[tuple[int, ...]]:
        """The batch of every update (1-based sample numbers): consecutive samples in file order."""
        t, n = self.problem.training, len(self.problem.data)
        if t.shuffle:
            raise NotComparable("shuffle: true: the engine's permutation is its own draw, not torch's")
        size = n if t.batch_size is None else t.batch_size
        per_epoch = [tuple(range(i + 1, min(i + size, n) + 1)) for i in range(0, n, size)]
        updates = t.steps if t.epochs is None else t.epochs * len(per_epoch)
        return [per_epoch[u % len(per_epoch)] for u in range(updates)]

    def train(self, updates: int | None = None) -> list[Update]:
        """Every update of the problem's training (the first ``updates`` only, if given)."""
        batches = self.batches()[: updates]
        sequential = self.problem.training.order == "sequential"
        optimizer = self.optimizer()
        scheduler = make_scheduler(self.problem.training.schedule, optimizer)
        size = self.problem.training.batch_size or len(self.problem.data)
        per_epoch = -(-len(self.problem.data) // size)  # updates per epoch (a schedule stepped per epoch)
        history: list[Update] = []
        for number, batch in enumerate(batches, start=1):
            samples = [self.problem.data[i - 1] for i in batch]
            forward = self.forward(samples)
            gradients = self.gradients(forward.loss)
            step_gradients = self._sequential_step(samples, optimizer) if sequential else None
            clip_norm = clipped = None
            if not sequential:
                for name, tensor in self.params.items():
                    tensor.grad = gradients[name] * self.trained[name]
                clip = self.problem.training.clip
                if clip is not None:  # torch's own clipping of the .grad, between backward() and step()
                    tensors = list(self.params.values())
                    if clip.mode == "norm":
                        clip_norm = torch.nn.utils.clip_grad_norm_(tensors, clip.threshold).detach().clone()
                    else:
                        torch.nn.utils.clip_grad_value_(tensors, clip.threshold)
                    clipped = {name: tensor.grad.detach().clone() for name, tensor in self.params.items()}
                frozen = self._frozen(optimizer)
                optimizer.step()
                self._restore(optimizer, frozen)
            history.append(Update(number, batch, detached(forward), gradients, self.snapshot(),
                                  optimizer_state(self.problem.training.optimizer, optimizer, self.params), step_gradients,
                                  clip_norm, clipped))
            if scheduler is not None and (self.problem.training.schedule.per == "step" or number % per_epoch == 0):
                scheduler.step()  # after optimizer.step(), once per update or once per epoch (§9, training.schedule)
        return history

    def _frozen(self, optimizer: torch.optim.Optimizer) -> dict[str, tuple[torch.Tensor, dict]]:
        """Each family's values and optimizer state before a step (weight decay moves an entry whose
        gradient is 0: :meth:`_restore` puts the entries that are not trained back)."""
        return {name: (tensor.detach().clone(), {k: v.detach().clone() for k, v in optimizer.state.get(tensor, {}).items()
                                                 if isinstance(v, torch.Tensor) and v.shape == tensor.shape})
                for name, tensor in self.params.items()}

    def _restore(self, optimizer: torch.optim.Optimizer, frozen: dict[str, tuple[torch.Tensor, dict]]) -> None:
        """A parameter that is not trained keeps its value and its state (zero before the first
        step), as the engine keeps it: torch's weight decay would shrink it, its state would grow."""
        with torch.no_grad():
            for name, tensor in self.params.items():
                keep = self.trained[name] == 0
                if not bool(keep.any()):
                    continue
                before, state = frozen[name]
                tensor[keep] = before[keep]
                for k, v in optimizer.state.get(tensor, {}).items():
                    if isinstance(v, torch.Tensor) and v.shape == tensor.shape:
                        v[keep] = state[k][keep] if k in state else 0.0

    def _sequential_step(self, samples: Sequence, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
        """Mazur's order: the output layer first, then each layer below through the updated
        weights above it, every forward value the old one."""
        old = self.snapshot()
        updated: dict[str, torch.Tensor] = {}
        subtracted: dict[str, torch.Tensor] = {}
        dense = [l for l, layer in enumerate(self.problem.layers, start=1) if layer.kind == "dense"]
        for l in reversed(dense):
            forward = self.forward(samples, params={**old, **{n: t for n, t in self.params.items() if self.layer_of[n] == l}},
                                   updated_above=updated)
            mine = self.gradients(forward.loss, [n for n in self.params if self.layer_of[n] == l])
            for tensor in self.params.values():
                tensor.grad = None
            for name, g in mine.items():
                subtracted[name] = g
                self.params[name].grad = g * self.trained[name]
            optimizer.step()  # SGD: the tensors without a gradient are left alone
            updated[_family("W", l)] = self.params[_family("W", l)].detach().clone()
        return subtracted


def detached(forward: Forward) -> Forward:
    return Forward([{k: v.detach() for k, v in record.items()} for record in forward.layers],
                   forward.sample_losses.detach(), None if forward.penalty is None else forward.penalty.detach(),
                   forward.loss.detach())


# ---------------------------------------------------------------------------
# torch.optim (§9)
# ---------------------------------------------------------------------------


def make_optimizer(spec: OptimizerSpec, param_groups: list) -> torch.optim.Optimizer:
    """The file's optimizer as torch.optim's, every hyperparameter passed on (weight_decay: torch's
    own, coupled in SGD/Adagrad/RMSprop/Adam, decoupled in AdamW)."""
    lr, wd = param_groups[0]["lr"], spec.decay
    if spec.name == "sgd":
        return torch.optim.SGD(param_groups, lr=lr, weight_decay=wd)
    if spec.name == "momentum":
        if spec.nesterov and spec.beta == 0:
            raise NotComparable("torch.optim.SGD refuses nesterov=True with momentum 0 (the file allows it: θ − η·g)")
        return torch.optim.SGD(param_groups, lr=lr, momentum=spec.beta, nesterov=spec.nesterov, weight_decay=wd)
    if spec.name == "adagrad":
        return torch.optim.Adagrad(param_groups, lr=lr, eps=spec.epsilon, weight_decay=wd)
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(param_groups, lr=lr, alpha=spec.alpha, eps=spec.epsilon, weight_decay=wd)
    if spec.name == "adam":
        return torch.optim.Adam(param_groups, lr=lr, betas=(spec.beta1, spec.beta2), eps=spec.epsilon, weight_decay=wd)
    if spec.name == "adamw":
        return torch.optim.AdamW(param_groups, lr=lr, betas=(spec.beta1, spec.beta2), eps=spec.epsilon, weight_decay=wd)
    raise NotComparable(f"optimizer {spec.name!r} has no torch counterpart here")


#: torch.optim's name of each state letter of ``training.state``, per optimizer (its source's ``state[p]`` keys)
TORCH_STATE = {"momentum": {"v": "momentum_buffer", "previous": "momentum_buffer"}, "adagrad": {"G": "sum"},
               "rmsprop": {"s": "square_avg"}, "adam": {"m": "exp_avg", "v": "exp_avg_sq"},
               "adamw": {"m": "exp_avg", "v": "exp_avg_sq"}}


def preload(optimizer: torch.optim.Optimizer, spec: OptimizerSpec, given, tensors: dict[str, torch.Tensor], rate: float) -> None:
    """``training.state`` written into torch's ``optimizer.state[p]`` before the first step, each
    scalar tensor of ``tensors`` by its name: the buffers (0 where not given), heavy ball's previous
    iterate as the momentum buffer (θ₋ − θ)/η, and Adam's ``step``."""
    if not given.given:
        return
    names = TORCH_STATE.get(spec.name, {})
    for name, tensor in tensors.items():
        state = optimizer.state[tensor]
        for theirs in set(names.values()):  # Adagrad makes its sum in its constructor; the others at their first step
            state.setdefault(theirs, torch.zeros_like(tensor.detach()))
        for letter in names:
            per = given.of(letter)
            if name in per:
                value = (per[name] - float(tensor.detach())) / rate if letter == "previous" else per[name]
                state[names[letter]].fill_(value)
        if spec.name in ("adam", "adamw", "rmsprop"):
            state["step"] = torch.tensor(float(given.step), dtype=DT)


_PARAMETER = re.compile(r"^([WUb])(\d+)(?:\[(\d+(?:,\d+)*)\])?$")


def preload_families(optimizer: torch.optim.Optimizer, spec: OptimizerSpec, given, families: dict[str, torch.Tensor],
                     rates: dict[str, float]) -> None:
    """``training.state`` of a network written into ``optimizer.state[p]`` of each family tensor
    (``W1``, ``b2``), each canonical name (``W1[2,1]``, a shared ``b1``) read with this file's own
    pattern: zeros where not given, heavy ball's previous iterate as (θ₋ − θ)/η at the family's rate."""
    names = TORCH_STATE.get(spec.name, {})
    for family, tensor in families.items():
        state = optimizer.state[tensor]
        for theirs in set(names.values()):
            state.setdefault(theirs, torch.zeros_like(tensor.detach()))
        if spec.name in ("adam", "adamw", "rmsprop"):
            state["step"] = torch.tensor(float(given.step), dtype=DT)
    for letter in names:
        for name, value in given.of(letter).items():
            match = _PARAMETER.match(name)
            assert match, name
            family = match.group(1) + match.group(2)
            tensor = families[family]
            index = tuple(int(i) - 1 for i in match.group(3).split(",")) if match.group(3) else (0,) * tensor.dim()
            if letter == "previous":
                value = (value - float(tensor.detach()[index])) / rates[family]
            optimizer.state[tensor][names[letter]][index] = value


def make_scheduler(spec, optimizer: torch.optim.Optimizer):
    """``training.schedule`` as torch.optim.lr_scheduler's scheduler (None without one): StepLR,
    MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR; a warm-up is SequentialLR of a LinearLR
    warm-up and the schedule, milestones=[warmup]."""
    if spec is None:
        return None
    lr = torch.optim.lr_scheduler
    warm = lr.LinearLR(optimizer, start_factor=spec.warmup_factor, end_factor=1.0, total_iters=spec.warmup) if spec.warmup else None
    if spec.name == "step":
        main = lr.StepLR(optimizer, step_size=spec.step_size, gamma=spec.gamma)
    elif spec.name == "multistep":
        main = lr.MultiStepLR(optimizer, milestones=list(spec.milestones), gamma=spec.gamma)
    elif spec.name == "exponential":
        main = lr.ExponentialLR(optimizer, gamma=spec.gamma)
    elif spec.name == "cosine":
        main = lr.CosineAnnealingLR(optimizer, T_max=spec.T_max, eta_min=spec.eta_min)
    elif spec.name == "linear":
        main = lr.LinearLR(optimizer, start_factor=spec.start_factor, end_factor=spec.end_factor, total_iters=spec.total_iters)
    else:
        raise NotComparable(f"schedule {spec.name!r} has no torch counterpart here")
    if warm is None:
        return main
    return lr.SequentialLR(optimizer, [warm, main], milestones=[spec.warmup])


def optimizer_state(spec: OptimizerSpec, optimizer: torch.optim.Optimizer, params: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """The state torch.optim keeps, under the names of §9: momentum's v (``momentum_buffer``),
    AdaGrad's G (``sum``), RMSprop's s (``square_avg``), Adam's m, v (``exp_avg``,
    ``exp_avg_sq``) and the bias-corrected m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)."""
    names = {"momentum": {"v": "momentum_buffer"}, "adagrad": {"G": "sum"}, "rmsprop": {"s": "square_avg"},
             "adam": {"m": "exp_avg", "v": "exp_avg_sq"}, "adamw": {"m": "exp_avg", "v": "exp_avg_sq"}}.get(spec.name, {})
    out: dict[str, dict[str, torch.Tensor]] = {ours: {} for ours in names}
    if spec.name in ("adam", "adamw"):
        out.update({"m_hat": {}, "v_hat": {}})
    for family, tensor in params.items():
        state = optimizer.state.get(tensor, {})
        for ours, theirs in names.items():
            value = state.get(theirs)
            if value is None and spec.name == "momentum" and spec.beta == 0 and tensor.grad is not None:
                value = tensor.grad  # torch keeps no buffer for momentum 0: its step is η·g, so v = 0·v + g = g
            out[ours][family] = torch.zeros_like(tensor.detach()) if value is None else value.detach().clone()
        if spec.name in ("adam", "adamw"):
            t = float(state["step"]) if "step" in state else 0.0
            if t:
                out["m_hat"][family] = out["m"][family] / (1 - spec.beta1**t)
                out["v_hat"][family] = out["v"][family] / (1 - spec.beta2**t)
            else:
                out["m_hat"][family] = torch.zeros_like(tensor.detach())
                out["v_hat"][family] = torch.zeros_like(tensor.detach())
    return out


# ---------------------------------------------------------------------------
# Graph problems (§7)
# ---------------------------------------------------------------------------


@dataclass
class GraphPass:
    values: dict[str, float]
    gradients: dict[str, float]  # ∂output/∂name, every name (the output's own: 1)
    margin: float  # the smallest distance of a kink's argument from its kink (relu, |u|, max/min)


@dataclass
class GraphTraining:
    passes: list[GraphPass]  # one per step, at the values the step starts from
    params_after: list[dict[str, float]]
    after: GraphPass | None


class Graph:
    """A graph problem's equations as torch operations on scalar tensors."""

    def __init__(self, problem: GraphProblem):
        self.problem = problem
        e_is_variable = "e" in problem.names
        self.trees: dict[str, sp.Expr] = {eq.name: parse(eq.expression, e_is_variable=e_is_variable) for eq in problem.equations}

    def evaluate(self, leaves: dict[str, float]) -> GraphPass:
        tensors = {name: torch.tensor(float(v), dtype=DT, requires_grad=True) for name, v in leaves.items()}
        margins = [math.inf]
        memo: dict[sp.Expr, torch.Tensor] = {}

        def node(name: str) -> torch.Tensor:
            if name not in tensors:
                # a node of its own (a clone): ∂output/∂node counts only the paths through this
                # name, even where two equations have one right-hand side or one is a bare name
                value = _torch_of(self.trees[name], symbol, memo, margins, self.problem.relu_derivative_at_zero).clone()
                tensors[name] = value if value.requires_grad else value.requires_grad_(True)  # a constant
            return tensors[name]

        def symbol(s: sp.Symbol) -> torch.Tensor:
            return node(s.name)

        for eq in self.problem.equations:
            node(eq.name)
        names = list(tensors)
        output = tensors[self.problem.output]
        grads = torch.autograd.grad(output, [tensors[n] for n in names], allow_unused=True)
        gradients = {n: (0.0 if g is None else float(g)) for n, g in zip(names, grads)}
        gradients[self.problem.output] = 1.0
        return GraphPass({n: float(t.detach()) for n, t in tensors.items()}, gradients, min(margins))

    def train(self) -> GraphTraining:
        """Gradient descent on the trained leaves, by torch.optim.SGD."""
        problem = self.problem
        t = problem.training
        leaves = dict(problem.values)
        if not t.parameters or not t.steps:
            return GraphTraining([self.evaluate(leaves)], [], None)
        trained = {name: torch.tensor(leaves[name], dtype=DT, requires_grad=True) for name in t.parameters}
        optimizer = make_optimizer(t.optimizer, [{"params": list(trained.values()), "lr": t.learning_rate}])
        preload(optimizer, t.optimizer, t.state, trained, t.learning_rate)
        passes, after = [], []
        for _ in range(t.steps):
            now = {**leaves, **{n: float(v.detach()) for n, v in trained.items()}}
            this = self.evaluate(now)
            passes.append(this)
            for name, tensor in trained.items():
                tensor.grad = torch.tensor(this.gradients[name], dtype=DT)
            optimizer.step()
            after.append({n: float(v.detach()) for n, v in trained.items()})
        final = self.evaluate({**leaves, **after[-1]})
        return GraphTraining(passes, after, final)


_FUNCTIONS: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    sp.exp: torch.exp, sp.log: torch.log, sp.sin: torch.sin, sp.cos: torch.cos, sp.tan: torch.tan,
    sp.sinh: torch.sinh, sp.cosh: torch.cosh, sp.tanh: torch.tanh, sp.asin: torch.asin, sp.acos: torch.acos,
    sp.atan: torch.atan, sp.sec: lambda u: 1 / torch.cos(u), sp.csc: lambda u: 1 / torch.sin(u),
    sp.cot: lambda u: 1 / torch.tan(u),
}


def _torch_of(expr: sp.Expr, symbol, memo: dict, margins: list, relu_derivative_at_zero: int) -> torch.Tensor:
    """A SymPy tree from the safe parser, built from torch operations (children first)."""
    if expr in memo:
        return memo[expr]

    def child(e: sp.Expr) -> torch.Tensor:
        return _torch_of(e, symbol, memo, margins, relu_derivative_at_zero)

    if isinstance(expr, sp.Symbol):
        out = symbol(expr)
    elif expr.is_number and not expr.free_symbols and not expr.args or isinstance(expr, (sp.Rational, sp.Float, sp.NumberSymbol)):
        out = torch.tensor(float(expr), dtype=DT)
    elif isinstance(expr, sp.Add):
        out = child(expr.args[0])
        for a in expr.args[1:]:
            out = out + child(a)
    elif isinstance(expr, sp.Mul):
        out = child(expr.args[0])
        for a in expr.args[1:]:
            out = out * child(a)
    elif isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent == -1:
            out = 1 / child(base)
        elif exponent == sp.Rational(1, 2):
            out = torch.sqrt(child(base))
        elif exponent.is_number:
            out = torch.pow(child(base), float(exponent))
        elif base == sp.E:
            out = torch.exp(child(exponent))
        else:
            out = torch.pow(child(base), child(exponent))
    elif isinstance(expr, sp.Abs):
        u = child(expr.args[0])
        margins.append(abs(float(u.detach())))
        out = torch.abs(u)
    elif isinstance(expr, (sp.Max, sp.Min)):
        args = [child(a) for a in expr.args]
        if isinstance(expr, sp.Max) and len(args) == 2 and sp.S.Zero in expr.args:  # relu(u) = max(0, u)
            u = args[1] if expr.args[0] == 0 else args[0]
            margins.append(abs(float(u.detach())))
            out = torch.relu(u) if relu_derivative_at_zero == 0 else torch.where(u >= 0, u, torch.zeros_like(u))
        else:
            floats = sorted(float(a.detach()) for a in args)
            margins.append(floats[-1] - floats[-2] if isinstance(expr, sp.Max) else floats[1] - floats[0])
            out = args[0]
            for a in args[1:]:
                out = torch.maximum(out, a) if isinstance(expr, sp.Max) else torch.minimum(out, a)
    elif type(expr) in _FUNCTIONS:
        out = _FUNCTIONS[type(expr)](child(expr.args[0]))
    else:
        raise NotComparable(f"{expr.func.__name__} has no torch counterpart here ({expr})")
    memo[expr] = out
    return out
