"""streameval against torchmetrics and torcheval (CPU) on the same data, in the same run.

    .venv/bin/python -m pytest benchmarks/test_bench_torch.py --benchmark-only

Skipped (importorskip) when torch, torchmetrics or torcheval is not installed. Install them with
``pip install torch==2.13.0 torchmetrics torcheval`` (the pinned torch is the CPU build here; a
plain ``torch`` requirement may pull the multi-GB CUDA build).

The torch tensors are ``torch.from_numpy`` views of the very numpy arrays streameval gets, so every
library reads the same memory. torch keeps its default intra-op thread count; it is recorded in
``extra_info["torch_threads"]``. Workloads (each is one group of the summary in conftest.py):

- ``torch: multiclass 10M K=10``: one ``update`` of 10M int64 labels into a K=10 confusion
  matrix. torchmetrics runs with its default argument validation and, separately, with
  ``validate_args=False``; the summary compares with the faster of the two. Two numpy rows give
  context: ``np.bincount(y_true * K + y_pred)`` (the numpy reference) and merely reading both
  inputs (``y_true.sum(); y_pred.sum()``, a lower bound for any update, marked as no reference).
- ``torch: small batch 256 K=10``: the per-update overhead of a training loop. streameval is
  given numpy arrays, and torch CPU tensors directly.
- ``torch: binary threshold 10M f32``: Binary(0.5) on float32 scores against the binary
  confusion matrices of both libraries.
- ``torch: binned PR curve 1M f32``: Binary(bins=1024) against torchmetrics'
  BinaryPrecisionRecallCurve(thresholds=1024) on 1M samples (torchmetrics is slow here). They are
  close but not identical state: 1024 histogram bins against 1024 fixed thresholds.

Every accumulator and metric object is updated once before timing (numba compilation, torch's
lazy initialisation), then reset. After timing, the streameval benchmarks of the two confusion
matrix groups check once that all three libraries count the same matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

import streameval

torch = pytest.importorskip("torch")
tm = pytest.importorskip("torchmetrics.classification")
te = pytest.importorskip("torcheval.metrics")

N_LARGE = 10_000_000
N_SMALL = 256
N_CURVE = 1_000_000
K = 10
BINS = 1024
SEED = 20240601

G_LARGE = f"torch: multiclass 10M K={K}"
G_SMALL = f"torch: small batch {N_SMALL} K={K}"
G_BINARY = "torch: binary threshold 10M f32"
G_CURVE = f"torch: binned PR curve 1M {BINS}"


def _mark(benchmark, group: str, role: str, samples: int, **extra) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role=role, samples=samples, unit="samples", torch_threads=torch.get_num_threads())
    benchmark.extra_info.update(extra)


def _labels(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, K, n, dtype=np.int64)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, K, n, dtype=np.int64))
    return y_true, y_pred


@pytest.fixture(scope="module")
def large():
    """(y_true, y_pred) int64 numpy arrays of 10M samples and their torch views."""
    y_true, y_pred = _labels(N_LARGE, SEED)
    return y_true, y_pred, torch.from_numpy(y_true), torch.from_numpy(y_pred)


@pytest.fixture(scope="module")
def small():
    y_true, y_pred = _labels(N_SMALL, SEED + 1)
    return y_true, y_pred, torch.from_numpy(y_true), torch.from_numpy(y_pred)


@pytest.fixture(scope="module")
def binary():
    """(y_true int64, scores float32) of 10M samples and their torch views."""
    rng = np.random.default_rng(SEED + 2)
    y_true = rng.integers(0, 2, N_LARGE, dtype=np.int64)
    scores = np.clip(0.3 + 0.4 * y_true + rng.normal(0, 0.2, N_LARGE), 0, 1).astype(np.float32)
    return y_true, scores, torch.from_numpy(y_true), torch.from_numpy(scores)


def _warm_se(acc, y_true, y_pred):
    acc.update(y_true[:8], y_pred[:8])
    acc.reset()


def _warm_torch(metric, preds, target):
    metric.update(preds[:8], target[:8])
    metric.reset()


def _bincount_cm(y_true, y_pred, k):
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


# --- Multiclass confusion matrix: 10M int64 labels, and small batches of 256 ------------------

SCALES = {"large": (G_LARGE, N_LARGE), "small": (G_SMALL, N_SMALL)}

# library -> (metric factory, role, extra info)
MULTICLASS_LIBRARIES = {
    "torchmetrics": (lambda: tm.MulticlassConfusionMatrix(num_classes=K), "torchmetrics", {"validate_args": True}),
    "torchmetrics_no_validation": (
        lambda: tm.MulticlassConfusionMatrix(num_classes=K, validate_args=False), "torchmetrics", {"validate_args": False}
    ),
    "torcheval": (lambda: te.MulticlassConfusionMatrix(K), "torcheval", {}),
}


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("inputs", ["numpy", "torch"])
def test_multiclass_streameval(benchmark, request, scale, inputs):
    data = request.getfixturevalue(scale)
    y_true, y_pred = data[:2] if inputs == "numpy" else data[2:]
    group, n = SCALES[scale]
    acc = streameval.Multiclass(K)
    _warm_se(acc, y_true, y_pred)
    _mark(benchmark, group, "streameval", n, input=inputs)
    benchmark(acc.update, y_true, y_pred)
    if scale == "large" and inputs == "numpy":
        _check_large_counts_agree(data)


# the small-batch comparison is with each library's default, as a training loop would run it
@pytest.mark.parametrize(
    "scale, library",
    [("large", library) for library in MULTICLASS_LIBRARIES] + [("small", "torchmetrics"), ("small", "torcheval")],
)
def test_multiclass_torch_library(benchmark, request, scale, library):
    t_true, t_pred = request.getfixturevalue(scale)[2:]
    make, role, extra = MULTICLASS_LIBRARIES[library]
    group, n = SCALES[scale]
    metric = make()
    _warm_torch(metric, t_pred, t_true)
    _mark(benchmark, group, role, n, **extra)
    benchmark(metric.update, t_pred, t_true)


def test_large_numpy_bincount(benchmark, large):
    y_true, y_pred = large[:2]
    _mark(benchmark, G_LARGE, "numpy", N_LARGE)
    benchmark(_bincount_cm, y_true, y_pred, K)


def test_large_numpy_read_only_sum(benchmark, large):
    """Not a reference: reading both inputs once, a lower bound on any update."""
    y_true, y_pred = large[:2]
    _mark(benchmark, G_LARGE, "numpy", N_LARGE, reference=False)
    benchmark(lambda: (y_true.sum(), y_pred.sum()))


def _check_large_counts_agree(large):
    """Outside the timing: the three libraries count the same matrix."""
    y_true, y_pred, t_true, t_pred = large
    acc = streameval.Multiclass(K)
    acc.update(y_true, y_pred)
    expected = _bincount_cm(y_true, y_pred, K)
    np.testing.assert_array_equal(acc.confusion_matrix(), expected)
    for metric in (tm.MulticlassConfusionMatrix(num_classes=K), te.MulticlassConfusionMatrix(K)):
        metric.update(t_pred, t_true)
        np.testing.assert_array_equal(metric.compute().numpy().astype(np.int64), expected)


# --- Binary confusion matrix at a threshold, 10M float32 scores ----------------------------------


def test_binary_streameval(benchmark, binary):
    y_true, scores = binary[:2]
    acc = streameval.Binary(0.5)
    _warm_se(acc, y_true, scores)
    _mark(benchmark, G_BINARY, "streameval", N_LARGE)
    benchmark(acc.update, y_true, scores)
    _check_binary_counts_agree(binary)


BINARY_LIBRARIES = {
    "torchmetrics": (lambda: tm.BinaryConfusionMatrix(threshold=0.5), {"validate_args": True}),
    "torcheval": (lambda: te.BinaryConfusionMatrix(threshold=0.5), {}),
}


@pytest.mark.parametrize("library", BINARY_LIBRARIES)
def test_binary_torch_library(benchmark, binary, library):
    t_true, t_scores = binary[2:]
    make, extra = BINARY_LIBRARIES[library]
    metric = make()
    _warm_torch(metric, t_scores, t_true)
    _mark(benchmark, G_BINARY, library, N_LARGE, **extra)
    benchmark(metric.update, t_scores, t_true)


def _check_binary_counts_agree(binary):
    """Outside the timing. torcheval predicts positive at score >= threshold like Binary(0.5);
    torchmetrics at score > threshold, like Binary(0.5, inclusive=False)."""
    y_true, scores, t_true, t_scores = binary
    for inclusive, metric in ((True, te.BinaryConfusionMatrix(threshold=0.5)),
                              (False, tm.BinaryConfusionMatrix(threshold=0.5))):
        acc = streameval.Binary(0.5, inclusive=inclusive)
        acc.update(y_true, scores)
        metric.update(t_scores, t_true)
        np.testing.assert_array_equal(acc.confusion_matrix(), metric.compute().numpy().astype(np.int64))


# --- binned precision-recall state, 1M float32 scores --------------------------------------------


def test_curve_streameval_bins(benchmark, binary):
    y_true, scores = (a[:N_CURVE] for a in binary[:2])
    acc = streameval.Binary(bins=BINS)
    _warm_se(acc, y_true, scores)
    _mark(benchmark, G_CURVE, "streameval", N_CURVE)
    benchmark(acc.update, y_true, scores)


def test_curve_torchmetrics_pr_curve(benchmark, binary):
    t_true, t_scores = (a[:N_CURVE] for a in binary[2:])
    metric = tm.BinaryPrecisionRecallCurve(thresholds=BINS)
    _warm_torch(metric, t_scores, t_true)
    _mark(benchmark, G_CURVE, "torchmetrics", N_CURVE, validate_args=True)
    benchmark.pedantic(metric.update, args=(t_scores, t_true), rounds=3, iterations=1, warmup_rounds=0)
