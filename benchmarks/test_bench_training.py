"""What a per-batch metric adds to a real CPU training step.

    .venv/bin/python -m pytest benchmarks/test_bench_training.py --benchmark-only

An MLP (64 inputs, 128 hidden units, 10 classes), batches of 256, SGD, one torch thread. Three
variants of the same step, in the same run, each timed over STEPS consecutive steps per round (a
training loop, not an isolated call: the metric runs with the caches the step left behind):

- no metric (marked as no reference: the step itself, and the group's baseline);
- a streameval ``Multiclass(10, from_logits=True)`` update with the batch's labels and logits
  (skipped, with the reason, while ``from_logits`` does not exist), and a ``Multiclass(10)``
  update with the same logits as scores (the argmax is the same; what runs today);
- torchmetrics' ``MulticlassAccuracy`` + ``MulticlassF1Score`` (micro accuracy, macro F1, as
  streameval answers both from one state), with and without ``validate_args``.

The overhead of a metric is (step with it - step without) / step without: the summary's "time vs
base" column prints it (issue 14's target for streameval: at most +5%). On a shared machine the
step's own time drifts by more than that between benchmarks, so a module fixture also runs every
variant in turn, round after round (the order shuffled, seeded), and takes the median over rounds
of each round's ratio to the step alone: that paired figure is in
``extra_info["paired_overhead_pct"]``, printed by the summary as "paired" and used by
benchmarks/issue14_targets.py. Rounds of their own then time the streameval update call itself
inside the loop (``extra_info["update_in_loop_us"]``; not in the paired rounds, whose overhead
would then include the timing calls), to set against the update alone (the second group): what
the loop does to the call, and what is left is what the call does to the rest of the step. The
second group times the same streameval updates alone, on the logits the model gave, 20 in a row
outside the loop: the in-loop overhead against the isolated cost. Skipped when torch or torchmetrics is not installed.
"""

from __future__ import annotations

import random
import statistics
import time

import pytest

import streameval

torch = pytest.importorskip("torch")
tm = pytest.importorskip("torchmetrics.classification")

BATCH, FEATURES, HIDDEN, K = 256, 64, 128, 10
STEPS = 20  # steps per timed round
GROUP = f"training step: MLP {FEATURES}-{HIDDEN}-{K}, batch {BATCH}, x{STEPS}"


class Loop:
    """A model, its optimizer and a fixed set of batches; step(metric) runs one training step."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(),
                                         torch.nn.Linear(HIDDEN, K))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01)
        self.loss = torch.nn.CrossEntropyLoss()
        self.x = torch.randn(STEPS, BATCH, FEATURES)
        self.y = torch.randint(0, K, (STEPS, BATCH))

    def run(self, metric) -> None:
        for i in range(STEPS):
            x, y = self.x[i], self.y[i]
            self.optimizer.zero_grad()
            logits = self.model(x)
            self.loss(logits, y).backward()
            self.optimizer.step()
            if metric is not None:
                metric(y, logits.detach())


@pytest.fixture(scope="module")
def loop():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Loop()
    torch.set_num_threads(threads)


def _torchmetrics(validate: bool):
    accuracy = tm.MulticlassAccuracy(K, average="micro", validate_args=validate)
    f1 = tm.MulticlassF1Score(K, average="macro", validate_args=validate)

    def update(y, logits):
        accuracy.update(logits, y)
        f1.update(logits, y)

    return update


PAIRED_ROUNDS = 60


@pytest.fixture(scope="module")
def paired(loop):
    """Variant -> median over rounds of (its loop's time / the bare loop's time in the same round - 1), in %.

    Every round runs the bare loop and each variant once, in an order shuffled from round to round
    (seeded), so load that comes and goes hits them alike and no variant always follows the same
    one. Then the streameval update calls themselves are timed inside the loop, in rounds of their
    own: the timing calls are not part of the overhead measured.
    """
    variants = {"none": None}
    updates = {}
    for from_logits in (True, False):
        try:
            updates[f"streameval from_logits={from_logits}"] = _streameval(from_logits).update
        except pytest.skip.Exception:
            continue
    variants.update(updates)
    for validate in (True, False):
        variants[f"torchmetrics validate_args={validate}"] = _torchmetrics(validate)
    for metric in variants.values():
        loop.run(metric)  # warm
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    order = random.Random(0)
    for _ in range(PAIRED_ROUNDS):
        for name in order.sample(names, len(names)):
            start = time.perf_counter()
            loop.run(variants[name])
            times[name].append(time.perf_counter() - start)
    overhead = {name: statistics.median((t / bare - 1) * 100 for t, bare in zip(times[name], times["none"]))
                for name in names if name != "none"}
    inside: dict[str, float] = {}
    for name, update in updates.items():
        calls: list[float] = []

        def timed(y, logits, update=update, calls=calls):
            start = time.perf_counter()
            update(y, logits)
            calls.append(time.perf_counter() - start)

        for _ in range(PAIRED_ROUNDS // 4):
            loop.run(timed)
        inside[name] = statistics.median(calls)
    return overhead, inside


def _time(benchmark, loop: Loop, metric, role: str, group: str = GROUP, paired_overhead=None, **extra) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role=role, samples=BATCH * STEPS, unit="samples", **extra)
    if paired_overhead is not None:
        benchmark.extra_info["paired_overhead_pct"] = paired_overhead
    loop.run(metric)  # warm: compilation, lazy initialisation
    benchmark.pedantic(loop.run, args=(metric,), rounds=30, iterations=1, warmup_rounds=2)


def test_step_without_metrics(benchmark, loop):
    _time(benchmark, loop, None, "step alone", reference=False, baseline=True)


def _streameval(from_logits: bool):
    """The accumulator, checked on one batch of logits (then reset); a skip if it cannot take them."""
    try:
        acc = streameval.Multiclass(K, from_logits=True) if from_logits else streameval.Multiclass(K)
    except TypeError as exc:
        pytest.skip(f"Multiclass(from_logits=True) not supported by this streameval yet: {exc}")
    try:
        acc.update(torch.randint(0, K, (4,)), torch.randn(4, K))
    except (TypeError, ValueError) as exc:
        pytest.skip(f"Multiclass(K, from_logits={from_logits}) does not take logits ({type(exc).__name__}): {exc}")
    acc.reset()
    return acc


FROM_LOGITS = pytest.mark.parametrize("from_logits", [True, False], ids=["from_logits", "logits_as_scores"])


@FROM_LOGITS
def test_step_with_streameval(benchmark, loop, from_logits, paired):
    acc = _streameval(from_logits)
    name = f"streameval from_logits={from_logits}"
    overhead, inside = paired
    if name in inside:
        benchmark.extra_info["update_in_loop_us"] = inside[name] * 1e6
    _time(benchmark, loop, acc.update, "streameval", from_logits=from_logits, paired_overhead=overhead.get(name))


@pytest.fixture(scope="module")
def logits_seen(loop):
    """The labels and detached logits of each of the loop's batches, as the model gave them."""
    with torch.no_grad():
        return [(loop.y[i], loop.model(loop.x[i])) for i in range(STEPS)]


@FROM_LOGITS
def test_update_alone(benchmark, loop, logits_seen, from_logits):
    """The same updates outside the loop: 20 in a row on the model's logits, nothing in between."""
    acc = _streameval(from_logits)

    def run(_metric=None) -> None:
        for y, logits in logits_seen:
            acc.update(y, logits)

    benchmark.group = f"training: the same {STEPS} streameval updates alone"
    benchmark.extra_info.update(role="streameval", samples=BATCH * STEPS, unit="samples", from_logits=from_logits)
    run()
    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("validate", [True, False], ids=["validate_args", "no_validate_args"])
def test_step_with_torchmetrics(benchmark, loop, validate, paired):
    _time(benchmark, loop, _torchmetrics(validate), "torchmetrics", validate_args=validate,
          paired_overhead=paired[0][f"torchmetrics validate_args={validate}"])
