"""What a per-batch metric adds to a real CPU training step.

    .venv/bin/python -m pytest benchmarks/test_bench_training.py --benchmark-only

An MLP (64 inputs, 128 hidden units, 10 classes), batches of 256, SGD, one torch thread. Three
variants of the same step, in the same run, each timed over STEPS consecutive steps per round (a
training loop, not an isolated call: the metric runs with the caches the step left behind):

- no metric (marked as no reference: the step itself);
- a streameval ``Multiclass(10, from_logits=True)`` update with the batch's labels and logits;
- torchmetrics' ``MulticlassAccuracy`` + ``MulticlassF1Score`` (micro accuracy, macro F1, as
  streameval answers both from one state), with and without ``validate_args``.

The overhead of a metric is (step with it - step without) / step without; BENCHMARKS.md reports
it with this command's medians. Skipped when torch or torchmetrics is not installed.
"""

from __future__ import annotations

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


def _time(benchmark, loop: Loop, metric, role: str, **extra) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(role=role, samples=BATCH * STEPS, unit="samples", **extra)
    loop.run(metric)  # warm: compilation, lazy initialisation
    benchmark.pedantic(loop.run, args=(metric,), rounds=30, iterations=1, warmup_rounds=2)


def test_step_without_metrics(benchmark, loop):
    _time(benchmark, loop, None, "step alone", reference=False)


def test_step_with_streameval(benchmark, loop):
    acc = streameval.Multiclass(K, from_logits=True)
    _time(benchmark, loop, acc.update, "streameval")


@pytest.mark.parametrize("validate", [True, False], ids=["validate_args", "no_validate_args"])
def test_step_with_torchmetrics(benchmark, loop, validate):
    accuracy = tm.MulticlassAccuracy(K, average="micro", validate_args=validate)
    f1 = tm.MulticlassF1Score(K, average="macro", validate_args=validate)

    def update(y, logits):
        accuracy.update(logits, y)
        f1.update(logits, y)

    _time(benchmark, loop, update, "torchmetrics")
