"""Training runs: many gradient-descent updates, in batches, from the NumPy engine only.

A worked solution writes out the first update(s) in full (:mod:`tracer.derive`); a
run of thousands of updates is a table of losses and a curve. This module produces
that run with NumPy alone (no SymPy): the activations and losses of
:mod:`tracer.numeric`, composed in a lean loop that keeps the parameters as arrays
and updates them in place, so that Mazur's 10,000 steps take a fraction of a second
and source 004's 1.4 million SGD updates about a minute.

Batches (``training.batch_size``): omitted = the full batch, one update per epoch;
``1`` = stochastic gradient descent, one update per sample; in between = mini-batches
of that many samples in order (the last one may be smaller). With ``shuffle: true``
the samples are put in a new order before every epoch by ``default_rng(seed)``.
Each update descends the loss *of its batch*, combined as ``loss.samples`` says
(``mean``: averaged over the batch; ``sum``: summed).

The δ law of every update (source 004 §7.7, ``δ^{(l)} = f'(z) ⊙ W^{(l+1)ᵀ} δ^{(l+1)}``,
``∂L/∂W = δ a_prevᵀ``) is the same as :func:`tracer.numeric.step`'s, and the
order (simultaneous / sequential) is honoured; tests check the two agree.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from tracer import keys
from tracer.numeric import exact
from tracer.numeric import mlp as numeric
from tracer.numeric import clipping, optimizers, schedules
from tracer.spec import Problem

#: records kept by default: about this many (plus the start and the end)
DEFAULT_RECORDS = 100
#: updates whose batch and parameters are kept in full (for the document and the tests)
LOGGED_UPDATES = 3


@dataclass(frozen=True)
class Record:
    """The state after ``epoch`` epochs (or steps, when the run counts steps)."""

    epoch: int
    updates: int
    loss: float  # the loss on the whole training set (combined as loss.samples says)
    accuracy: float | None = None  # share of training samples classified right (classification only)
    test_loss: float | None = None
    test_accuracy: float | None = None
    tracked: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Update:
    """One of the first updates, in full: which samples, the batch loss, the parameters after."""

    number: int
    epoch: int
    batch: tuple[int, ...]  # 1-based sample numbers
    batch_loss: float
    params_after: dict[str, float]


@dataclass(frozen=True)
class Run:
    unit: str  # "epoch" | "step"
    epochs: int  # epochs (or steps) run
    batch_size: int
    batches_per_epoch: int
    updates: int
    mode: str  # "full batch" | "mini-batch" | "stochastic (SGD)"
    records: list[Record]
    first_updates: list[Update]
    final: dict[str, float]  # the parameters at the end
    classification: bool
    seconds: float

    @property
    def last(self) -> Record:
        return self.records[-1]


# ---------------------------------------------------------------------------


def _sigmoid_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    np.negative(z, out=z)  # z is a fresh array of this pass: reuse it
    np.exp(z, out=z)
    z += 1.0
    a = np.reciprocal(z, out=z)
    return a, a * (1.0 - a)  # σ' = σ(1 − σ), the form source 004 §7.9 uses


def _tanh_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.tanh(z)
    return a, 1.0 - a * a


#: activations used in long runs, with a cheaper forward rule than numeric's (which guards
#: its accuracy for a single pass): a few NumPy calls per layer matter over a million updates
_FAST = {"sigmoid": _sigmoid_pair, "tanh": _tanh_pair}


class _Arrays:
    """The parameters as arrays (updated in place), the masks and the functions of a problem."""

    def __init__(self, problem: Problem):
        net = numeric._Network.of(problem, training=True)
        self.names = net.names
        self.weights = [layer.weights.copy() for layer in net.layers]
        self.biases = [None if layer.bias is None else layer.bias.copy() for layer in net.layers]
        assert net.trainable is not None
        self.weight_masks = [m.weights for m in net.trainable]
        self.bias_masks = [m.bias for m in net.trainable]
        self.all_weights = [bool(m.all()) for m in self.weight_masks]
        self.any_bias = [m is not None and bool(m.any()) for m in self.bias_masks]
        self.activations = net.activations
        self.pairs = [_FAST.get(f.name) or (lambda z, f=f: (lambda a: (a, f.local_derivative(z, a)))(f(z))) for f in net.activations]
        self.softmax = [f.name == "softmax" for f in net.activations]
        self.kinked = [f.name in exact.KINKED for f in net.activations]  # a branch at z = 0: settled in decimals
        self.any_kinked = any(self.kinked)
        self.loss = net.loss
        self.samples_how = net.samples_how
        self.rate = net.learning_rate
        self.sequential = net.order == "sequential"
        # SPEC.md §9: a layer's own rate, an optimizer with its state per layer (zero at the start)
        self.rates = [t.learning_rate if layer.learning_rate is None else layer.learning_rate
                      for t, layer in ((problem.training, layer) for layer in problem.layers)]
        o = problem.training.optimizer
        self.hyper = None if (o.name == "sgd" and not o.weight_decay) else optimizers.Hyper(o.name, o.beta, o.nesterov, o.alpha, o.beta1, o.beta2, o.eps, o.weight_decay)
        self.weight_state = [None if self.hyper is None else optimizers.initial_state(self.hyper, w.shape) for w in self.weights]
        self.bias_state = [None if self.hyper is None or b is None else optimizers.initial_state(self.hyper, np.shape(b)) for b in self.biases]
        self.t = 0
        self.problem = problem  # training.schedule: the rate of each update (tracer.numeric.schedules)
        self.base_rates = list(self.rates)
        self.l2, self.l1 = problem.loss.l2, problem.loss.l1
        self.clip = problem.training.clip  # training.clip: every layer's gradient first, clipped, then the steps
        if problem.training.state.given and self.hyper is not None:
            self._start_from(problem.training.state)

    def _start_from(self, given) -> None:
        """``training.state`` in the layers' arrays (this twin's own reading, by canonical name): torch's
        buffers where given, 0 elsewhere; heavy-ball's previous iterate as v = (θ₋ − θ)/η."""
        self.t = given.step  # the steps taken before: the first update reads t = step + 1
        start = {"weights": self.weight_state, "biases": self.bias_state}
        for name, _ in given.values:
            for written, value in given.of(name).items():
                key = keys.parse(written)
                l = key.layer - 1
                arrays, position = (("weights", tuple(i - 1 for i in key.index)) if key.kind == "W"
                                    else ("biases", (key.index[0] - 1,) if key.index and self.biases[l].size > 1 else ()))
                theta = (self.weights if arrays == "weights" else self.biases)[l]
                state = start[arrays][l]
                if name == "previous":
                    state["v"][position if theta.ndim else ()] = (value - theta[position if theta.ndim else ()]) / self.rates[l]
                else:
                    state[name][position if theta.ndim else ()] = value

    def values(self) -> dict[str, float]:
        parts = []
        for w, b in zip(self.weights, self.biases):
            parts.append(w.ravel())
            if b is not None:
                parts.append(np.ravel(b))
        return dict(zip(self.names, np.concatenate(parts).tolist()))

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        inputs, locals_ = [], []
        a = x
        exact_pass = self._exact(x) if self.any_kinked else None
        for l, (w, b, pair) in enumerate(zip(self.weights, self.biases, self.pairs)):
            inputs.append(a)
            z = a @ w.T
            if b is not None:
                z += b
            if self.kinked[l] or exact.large_terms(a, w, b):  # a cancellation of large terms: as the engine settles it
                exact_pass = exact_pass or self._exact(x)
                z = exact.settle_dense(z, a, w, b, exact_pass, l)  # a kink in decimals is one here too
            a, local = pair(z)
            locals_.append(local)
        inputs.append(a)
        return inputs, locals_

    def output(self, x: np.ndarray) -> np.ndarray:
        a = x
        exact_pass = self._exact(x) if self.any_kinked else None
        for l, (w, b, f) in enumerate(zip(self.weights, self.biases, self.activations)):
            z = a @ w.T
            if b is not None:
                z += b
            if self.kinked[l] or exact.large_terms(a, w, b):  # a cancellation of large terms: as the engine settles it
                exact_pass = exact_pass or self._exact(x)
                z = exact.settle_dense(z, a, w, b, exact_pass, l)
            a = f(z)
        return a

    def _exact(self, x: np.ndarray):
        """Sample s's exact pass at the current parameters, made when a pre-activation is within
        rounding of 0 (:mod:`tracer.numeric.exact`)."""
        samples: dict[int, exact.DenseSample] = {}
        functions = [(f.name, getattr(f, "alpha", 0.0)) for f in self.activations]

        def sample(s: int) -> exact.DenseSample:
            if s not in samples:
                samples[s] = exact.DenseSample(x[s], self.weights, self.biases, functions)
            return samples[s]

        return sample

    def loss_of(self, output: np.ndarray, y: np.ndarray) -> float:
        per_sample = self.loss.sample_loss(self.loss.terms(output, y))
        data = float(per_sample.sum() if self.samples_how == "sum" else per_sample.mean())
        if self.l2 or self.l1:
            data += sum(self.l2 / 2 * float(np.sum(w * w)) + self.l1 * float(np.sum(np.abs(w))) for w in self.weights)
        return data

    def update(self, x: np.ndarray, y: np.ndarray, report: bool = False) -> float | None:
        """One gradient-descent update on the batch (x, y); with ``report``, the batch's loss before it."""
        inputs, locals_ = self.forward(x)
        output = inputs[-1]
        before = self.loss_of(output, y) if report else None  # data loss and penalty both of the weights before the update
        weight = 1.0 if self.samples_how == "sum" else 1.0 / x.shape[0]
        self.t += 1
        if self.problem.training.schedule is not None:  # this update's rates, as the schedule sets them
            self.rates = [schedules.rate_of_update(self.problem, base, self.t) for base in self.base_rates]
        dloss_da = self.loss.derivative(output, y)
        pending: list[tuple[int, np.ndarray, np.ndarray | None]] = []  # training.clip: (layer, ∂L/∂W, ∂L/∂b)
        for l in reversed(range(len(self.weights))):
            step = self.rates[l] * weight  # η, times 1/B when the batch's losses are averaged
            if self.softmax[l]:
                delta = self.activations[l].backward(locals_[l], dloss_da)  # Jᵀ ∂L/∂a
            else:
                delta = locals_[l] * dloss_da  # δ^{(l)} = f'(z) ⊙ ∂L/∂a
            w = self.weights[l]
            if l > 0 and not self.sequential:
                dloss_da = delta @ w  # Wᵀ δ through the old weights
            if self.hyper is not None or self.l2 or self.l1 or self.clip is not None:
                grad_w = (delta.T * weight) @ inputs[l]
                if self.l2 or self.l1:
                    grad_w = grad_w + self.l2 * w + self.l1 * np.sign(w)  # the penalty's term
                grad_b = None
                if self.any_bias[l]:
                    b = self.biases[l]
                    grad_b = np.reshape((_shared(delta) if b.size == 1 else delta.sum(axis=0)) * weight, np.shape(b))
                if self.clip is not None:
                    pending.append((l, grad_w, grad_b))
                else:
                    self._optimize(l, grad_w, grad_b)
                if l > 0 and self.sequential:
                    dloss_da = delta @ w
                continue
            # ∂L/∂W = δ a_prevᵀ (summed over the batch), then times η: a rate of 1e308 times δ alone overflows
            # where η·∂L/∂W, the update the steps write, is finite
            if self.all_weights[l]:
                w -= step * (delta.T @ inputs[l])
            else:
                w[...] = np.where(self.weight_masks[l], w - step * (delta.T @ inputs[l]), w)
            if self.any_bias[l]:
                b = self.biases[l]
                grad_b = _shared(delta) if b.size == 1 else delta.sum(axis=0)  # a shared bias feeds every unit
                b[...] = np.where(self.bias_masks[l], b - step * grad_b, b)
            if l > 0 and self.sequential:
                dloss_da = delta @ w  # through the weights just updated
        if pending:
            self._clipped(pending)
        return before

    def _clipped(self, pending: list[tuple[int, np.ndarray, np.ndarray | None]]) -> None:
        """training.clip over every layer's trained gradients at once (the norm is over all of them), then
        each layer's step on the clipped gradients."""
        parts, masks = [], []
        for l, grad_w, grad_b in pending:
            parts.append(grad_w.ravel())
            masks.append(np.ravel(self.weight_masks[l]))
            if grad_b is not None:
                parts.append(np.ravel(grad_b))
                masks.append(np.ravel(self.bias_masks[l]))
        clipped = clipping.clip(self.clip.mode, self.clip.threshold, np.concatenate(parts), np.concatenate(masks)).gradients
        start = 0
        for l, grad_w, grad_b in pending:
            grad_w = clipped[start:start + grad_w.size].reshape(grad_w.shape)
            start += grad_w.size
            if grad_b is not None:
                grad_b = clipped[start:start + grad_b.size].reshape(grad_b.shape)
                start += grad_b.size
            self._optimize(l, grad_w, grad_b)

    def _optimize(self, l: int, grad_w: np.ndarray, grad_b: np.ndarray | None) -> None:
        """The optimizer's step of layer ``l`` (its state kept where a parameter is not trained)."""
        hyper = self.hyper or optimizers.Hyper("sgd")
        w = self.weights[l]
        state_w = self.weight_state[l] or {}
        after, state, _ = optimizers.update(hyper, w, grad_w, state_w, self.t, self.rates[l])
        mask = self.weight_masks[l]
        w[...] = np.where(mask, after, w)
        self.weight_state[l] = {k: np.where(mask, v, state_w[k]) for k, v in state.items()}
        if self.any_bias[l] and grad_b is not None:
            b = self.biases[l]
            state_b = self.bias_state[l] or {}
            after, state, _ = optimizers.update(hyper, b, np.reshape(grad_b, np.shape(b)), state_b, self.t, self.rates[l])
            mask = self.bias_masks[l]
            b[...] = np.where(mask, after, b)
            self.bias_state[l] = {k: np.where(mask, v, state_b[k]) for k, v in state.items()}


def _shared(delta: np.ndarray) -> float:
    """A shared bias's gradient: each sample's δ summed over the units, then over the batch, each sum
    exactly 0 where it cancels to within its rounding (a softmax's Σ(p − y) = 0: see
    :func:`tracer.numeric.mlp.cancelled_sum`)."""
    return float(numeric.cancelled_sum(numeric.cancelled_sum(delta, axis=1), axis=0)[0, 0])


def _is_classification(problem: Problem) -> bool:
    targets = [s.y for s in problem.data]
    if not all(v in (0.0, 1.0) for y in targets for v in y):
        return False
    return len(targets[0]) == 1 or all(sum(y) == 1.0 for y in targets)


def accuracy(outputs: np.ndarray, y: np.ndarray) -> float:
    """Share of samples classified right: one output thresholded at 0.5, else the largest output."""
    if y.shape[1] == 1:
        right = (outputs[:, 0] >= 0.5) == (y[:, 0] >= 0.5)
    else:
        right = outputs.argmax(axis=1) == y.argmax(axis=1)
    return float(right.mean())


def batches_per_epoch(problem: Problem) -> int:
    n = len(problem.data)
    return -(-n // (problem.training.batch_size or n))


@numeric._quiet
def run(problem: Problem, *, record_every: int | None = None) -> Run:
    """Train the problem for ``training.steps`` updates (``epochs`` × batches per epoch)."""
    started = time.perf_counter()
    t = problem.training
    arrays = _Arrays(problem)
    x = np.array([s.x for s in problem.data], dtype=float)
    y = np.array([s.y for s in problem.data], dtype=float)
    x_test = np.array([s.x for s in problem.test_data], dtype=float) if problem.test_data else None
    y_test = np.array([s.y for s in problem.test_data], dtype=float) if problem.test_data else None
    n = x.shape[0]
    batch = min(t.batch_size or n, n)
    per_epoch = -(-n // batch)
    unit = "epoch" if t.epochs is not None or batch < n else "step"
    total_updates = t.steps
    epochs = -(-total_updates // per_epoch)
    every = record_every or t.record_every or max(1, epochs // DEFAULT_RECORDS)
    classification = _is_classification(problem)
    rng = np.random.default_rng(t.seed)
    track = list(t.track)

    def record(epoch: int, updates: int) -> Record:
        out = arrays.output(x)  # (the forward rule of numeric, as every reported loss)
        tracked = {}
        if track:
            values = arrays.values()
            tracked = {name: values[name] for name in track}
        test_loss = test_acc = None
        if x_test is not None:
            out_test = arrays.output(x_test)
            test_loss = arrays.loss_of(out_test, y_test)
            test_acc = accuracy(out_test, y_test) if classification else None
        return Record(epoch, updates, arrays.loss_of(out, y), accuracy(out, y) if classification else None, test_loss, test_acc, tracked)

    records = [record(0, 0)]
    first: list[Update] = []
    updates = 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n) if t.shuffle else np.arange(n)
        for start in range(0, n, batch):
            if updates == total_updates:
                break
            idx = order[start : start + batch]
            report = updates < LOGGED_UPDATES
            if t.shuffle:
                batch_loss = arrays.update(x[idx], y[idx], report)
            else:  # in order: a slice is a view, no copy (a million times for SGD)
                batch_loss = arrays.update(x[start : start + batch], y[start : start + batch], report)
            updates += 1
            if report:
                first.append(Update(updates, epoch, tuple(int(i) + 1 for i in idx), batch_loss, arrays.values()))
        if epoch % every == 0 or epoch == epochs:
            records.append(record(epoch, updates))
    mode = "full batch" if batch >= n else ("stochastic (SGD)" if batch == 1 else "mini-batch")
    return Run(
        unit=unit,
        epochs=epochs,
        batch_size=batch,
        batches_per_epoch=per_epoch,
        updates=updates,
        mode=mode,
        records=records,
        first_updates=first,
        final=arrays.values(),
        classification=classification,
        seconds=time.perf_counter() - started,
    )


def is_long(problem: Problem, derived_steps: int) -> bool:
    """Whether a problem is a training run (a table and a curve) rather than a few written-out steps."""
    t = problem.training
    return t.epochs is not None or (t.batch_size is not None and t.batch_size < len(problem.data)) or t.steps > derived_steps


def finite(values) -> bool:
    return all(v is None or math.isfinite(v) for v in values)
