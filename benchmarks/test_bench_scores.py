"""Score matrices and logits as a training loop passes them (issue 14), one thread.

    .venv/bin/python -m pytest benchmarks/test_bench_scores.py --benchmark-only

Everything here runs on one core, as the issue's targets are stated: streameval's split of large
batches over threads is switched off, numba and torch get one thread each (a module fixture
sets them; no environment variable is needed). numpy's argmax and bincount are single-threaded.
Each group puts streameval next to its references on the same arrays, in the same run:

- numpy ``argmax(1)`` + ``np.bincount(y_true * K + pred)`` (``bincount`` alone for label input);
- torchmetrics' ``MulticlassConfusionMatrix(validate_args=False)`` (and ``MulticlassAccuracy``
  with ``multidim_average="global"`` for segmentation), on ``torch.from_numpy`` views of the same
  memory; skipped when torch or torchmetrics is missing;
- numpy merely reading the input once (``scores.max()``; for labels, both arrays), marked as no
  reference: the summary's "share of read" column divides streameval's rate by it. ``sum()``
  reads too, at about half that rate (pairwise float sums); it is shown for context only.

Groups (float32; ``y_true`` int64, uniform; the logits put +2 on the true class):

- ``scores 1Mx10``: probabilities (softmax of the logits), and the logits with
  ``from_logits=True``, into ``Multiclass(10)``; ``labels 1M K=10``: the argmax as int64 labels.
- ``scores 65536x100``: probabilities into ``Multiclass(100)`` (no target in the issue: rows
  long enough to be searched by keys, between the scan of K=10 and ImageNet).
- ``scores 4096x1000``: an ImageNet batch, probabilities and logits into ``Multiclass(1000)``.
- ``segmentation 8x21x64x64``: logits of shape (N, K, H, W) into ``Multiclass(21,
  from_logits=True)`` with ``y_true`` (N, H, W); also what a user must do without rank support:
  transpose and reshape to (N*H*W, K) (a copy) and update with those scores.
- ``small 256x10``: the per-update cost of a training loop, with numpy arrays and with torch CPU
  tensors.

A benchmark of an API that does not exist yet (``from_logits=``, (N, K, d1, ...) inputs) is
skipped with the reason; it runs once the feature lands. After timing, each streameval benchmark
checks once that its confusion matrix equals numpy's.
"""

from __future__ import annotations

import numpy as np
import pytest

import streameval

SEED = 20240614


# --- one thread for everything -------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import numba

    from streameval import _threads

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    torch = _torch_or_none()
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_threads, "threads_for", lambda n, minimum=0: 1)
        yield
    numba.set_num_threads(numba_threads)
    if torch is not None:
        torch.set_num_threads(torch_threads)


def _torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


@pytest.fixture(scope="module")
def tm():
    pytest.importorskip("torch")
    return pytest.importorskip("torchmetrics.classification")


# --- data ----------------------------------------------------------------------------------------


def _softmax(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def _matrix(n: int, k: int, seed: int):
    """y_true int64 (n,), logits float32 (n, k), probabilities float32 (n, k), argmax labels int64."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n, dtype=np.int64)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), y_true] += 2.0
    return y_true, logits, _softmax(logits), logits.argmax(axis=1)


@pytest.fixture(scope="module")
def m1x10():
    return _matrix(1_000_000, 10, SEED)


@pytest.fixture(scope="module")
def imagenet():
    return _matrix(4096, 1000, SEED + 1)


@pytest.fixture(scope="module")
def hundred():
    return _matrix(65536, 100, SEED + 4)


@pytest.fixture(scope="module")
def small():
    return _matrix(256, 10, SEED + 2)


@pytest.fixture(scope="module")
def segmentation():
    """y_true int64 (8, 64, 64) and logits float32 (8, 21, 64, 64), classes on axis 1."""
    rng = np.random.default_rng(SEED + 3)
    y_true = rng.integers(0, 21, (8, 64, 64), dtype=np.int64)
    logits = rng.normal(size=(8, 21, 64, 64)).astype(np.float32)
    np.put_along_axis(logits, y_true[:, None], np.take_along_axis(logits, y_true[:, None], 1) + 2.0, 1)
    return y_true, logits


# --- helpers -------------------------------------------------------------------------------------


def _mark(benchmark, group: str, role: str, samples: int, **extra) -> None:
    benchmark.group = group
    benchmark.extra_info.update(role=role, samples=samples, unit="samples", **extra)


def _cm(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount((y_true * k + y_pred).ravel(), minlength=k * k).reshape(k, k)


def _accumulator(k: int, **options):
    """Multiclass(k, **options), or a skip naming the missing option."""
    try:
        return streameval.Multiclass(k, **options)
    except TypeError as exc:
        pytest.skip(f"not supported by this streameval yet: Multiclass({k}, {options}): {exc}")


def _warm(acc, y_true, y_pred) -> None:
    """Compile the kernel for these inputs on a slice, then forget the counts; skip if unsupported."""
    try:
        acc.update(y_true[:2], y_pred[:2])
    except (TypeError, ValueError) as exc:
        pytest.skip(f"input not supported by this streameval yet ({type(exc).__name__}): {exc}")
    acc.reset()


def _time_streameval(benchmark, group, acc, y_true, y_pred, expected, samples, **extra):
    _warm(acc, y_true, y_pred)
    _mark(benchmark, group, "streameval", samples, **extra)
    benchmark(acc.update, y_true, y_pred)
    acc.reset()
    acc.update(y_true, y_pred)
    np.testing.assert_array_equal(acc.confusion_matrix(), expected)


def _time_numpy_argmax(benchmark, group, y_true, scores, k, samples):
    _mark(benchmark, group, "numpy", samples, what="argmax(1) + bincount")
    benchmark(lambda: _cm(y_true, scores.argmax(axis=1), k))


def _time_read(benchmark, group, samples, *arrays, how="max"):
    """numpy reading the input once: ``max()`` is the read rate ("share of read"); ``sum()``, slower
    (a pairwise float sum), is shown for context only."""
    _mark(benchmark, group, "numpy", samples, reference=False, read=how == "max", what=f"{how}() of the input")
    benchmark(lambda: [getattr(a, how)() for a in arrays])


READS = pytest.mark.parametrize("how", ["max", "sum"], ids=["read_max", "read_sum"])


def _time_torchmetrics(benchmark, group, metric, preds, target, samples):
    import torch

    preds, target = torch.from_numpy(preds), torch.from_numpy(target)
    metric.update(preds[:2], target[:2])
    metric.reset()
    _mark(benchmark, group, "torchmetrics", samples, validate_args=False, metric=type(metric).__name__)
    benchmark(metric.update, preds, target)


# --- (1M, 10): scores, logits and labels ---------------------------------------------------------

G_1M = "scores 1Mx10 f32, 1 thread"
G_1M_LABELS = "labels 1M K=10 int64, 1 thread"


@pytest.mark.parametrize("inputs", ["probabilities", "logits, from_logits=True"])
def test_1m_streameval(benchmark, m1x10, inputs):
    y_true, logits, probs, labels = m1x10
    if inputs == "probabilities":
        acc, scores = streameval.Multiclass(10), probs
    else:
        acc, scores = _accumulator(10, from_logits=True), logits
    _time_streameval(benchmark, G_1M, acc, y_true, scores, _cm(y_true, labels, 10), len(y_true), input=inputs)


def test_1m_numpy(benchmark, m1x10):
    y_true, _, probs, _ = m1x10
    _time_numpy_argmax(benchmark, G_1M, y_true, probs, 10, len(y_true))


def test_1m_torchmetrics(benchmark, m1x10, tm):
    y_true, _, probs, _ = m1x10
    _time_torchmetrics(benchmark, G_1M, tm.MulticlassConfusionMatrix(10, validate_args=False), probs, y_true,
                       len(y_true))


@READS
def test_1m_read(benchmark, m1x10, how):
    probs = m1x10[2]
    _time_read(benchmark, G_1M, len(probs), probs, how=how)


def test_1m_labels_streameval(benchmark, m1x10):
    y_true, _, _, labels = m1x10
    _time_streameval(benchmark, G_1M_LABELS, streameval.Multiclass(10), y_true, labels, _cm(y_true, labels, 10),
                     len(y_true))


def test_1m_labels_numpy(benchmark, m1x10):
    y_true, _, _, labels = m1x10
    _mark(benchmark, G_1M_LABELS, "numpy", len(y_true), what="bincount")
    benchmark(_cm, y_true, labels, 10)


def test_1m_labels_torchmetrics(benchmark, m1x10, tm):
    y_true, _, _, labels = m1x10
    _time_torchmetrics(benchmark, G_1M_LABELS, tm.MulticlassConfusionMatrix(10, validate_args=False), labels, y_true,
                       len(y_true))


@READS
def test_1m_labels_read(benchmark, m1x10, how):
    y_true, _, _, labels = m1x10
    _time_read(benchmark, G_1M_LABELS, len(y_true), y_true, labels, how=how)


# --- (65536, 100): a hundred classes (no target: the rows between the scan and ImageNet) ----------

G_HUNDRED = "scores 65536x100 f32, 1 thread"


def test_hundred_streameval(benchmark, hundred):
    y_true, _, probs, labels = hundred
    _time_streameval(benchmark, G_HUNDRED, streameval.Multiclass(100), y_true, probs, _cm(y_true, labels, 100),
                     len(y_true), input="probabilities")


def test_hundred_numpy(benchmark, hundred):
    y_true, _, probs, _ = hundred
    _time_numpy_argmax(benchmark, G_HUNDRED, y_true, probs, 100, len(y_true))


def test_hundred_torchmetrics(benchmark, hundred, tm):
    y_true, _, probs, _ = hundred
    _time_torchmetrics(benchmark, G_HUNDRED, tm.MulticlassConfusionMatrix(100, validate_args=False), probs, y_true,
                       len(y_true))


@READS
def test_hundred_read(benchmark, hundred, how):
    _time_read(benchmark, G_HUNDRED, len(hundred[2]), hundred[2], how=how)


# --- (4096, 1000): an ImageNet batch -------------------------------------------------------------

G_IMAGENET = "scores 4096x1000 f32, 1 thread"


@pytest.mark.parametrize("inputs", ["probabilities", "logits, from_logits=True"])
def test_imagenet_streameval(benchmark, imagenet, inputs):
    y_true, logits, probs, labels = imagenet
    if inputs == "probabilities":
        acc, scores = streameval.Multiclass(1000), probs
    else:
        acc, scores = _accumulator(1000, from_logits=True), logits
    _time_streameval(benchmark, G_IMAGENET, acc, y_true, scores, _cm(y_true, labels, 1000), len(y_true), input=inputs)


def test_imagenet_numpy(benchmark, imagenet):
    y_true, _, probs, _ = imagenet
    _time_numpy_argmax(benchmark, G_IMAGENET, y_true, probs, 1000, len(y_true))


def test_imagenet_torchmetrics(benchmark, imagenet, tm):
    y_true, _, probs, _ = imagenet
    _time_torchmetrics(benchmark, G_IMAGENET, tm.MulticlassConfusionMatrix(1000, validate_args=False), probs, y_true,
                       len(y_true))


@READS
def test_imagenet_read(benchmark, imagenet, how):
    probs = imagenet[2]
    _time_read(benchmark, G_IMAGENET, len(probs), probs, how=how)


# --- (8, 21, 64, 64) segmentation logits ---------------------------------------------------------

G_SEG = "segmentation 8x21x64x64 f32, 1 thread"
SEG_PIXELS = 8 * 64 * 64


def test_segmentation_streameval(benchmark, segmentation):
    y_true, logits = segmentation
    acc = _accumulator(21, from_logits=True)
    _time_streameval(benchmark, G_SEG, acc, y_true, logits, _cm(y_true, logits.argmax(axis=1), 21), SEG_PIXELS,
                     input="(N, K, H, W) logits, from_logits=True")


def test_segmentation_streameval_flattened_by_caller(benchmark, segmentation):
    """Without rank support: the caller moves K last and flattens (a copy), then passes scores."""
    y_true, logits = segmentation
    acc = streameval.Multiclass(21)

    def update(y, x):
        acc.update(y.reshape(-1), x.transpose(0, 2, 3, 1).reshape(-1, 21))

    try:
        update(y_true[:1], logits[:1])
    except (TypeError, ValueError) as exc:
        pytest.skip(f"Multiclass(21) does not take raw logits as scores ({type(exc).__name__}): {exc}")
    acc.reset()
    _mark(benchmark, G_SEG, "streameval", SEG_PIXELS, input="transpose + reshape to (N*H*W, K) by the caller")
    benchmark(update, y_true, logits)
    acc.reset()
    update(y_true, logits)
    np.testing.assert_array_equal(acc.confusion_matrix(), _cm(y_true, logits.argmax(axis=1), 21))


def test_segmentation_numpy(benchmark, segmentation):
    y_true, logits = segmentation
    _time_numpy_argmax(benchmark, G_SEG, y_true, logits, 21, SEG_PIXELS)


@pytest.mark.parametrize("metric", ["MulticlassConfusionMatrix", "MulticlassAccuracy"])
def test_segmentation_torchmetrics(benchmark, segmentation, tm, metric):
    y_true, logits = segmentation
    if metric == "MulticlassConfusionMatrix":
        made = tm.MulticlassConfusionMatrix(21, validate_args=False)
    else:
        made = tm.MulticlassAccuracy(21, average="micro", multidim_average="global", validate_args=False)
    _time_torchmetrics(benchmark, G_SEG, made, logits, y_true, SEG_PIXELS)


@READS
def test_segmentation_read(benchmark, segmentation, how):
    logits = segmentation[1]
    _time_read(benchmark, G_SEG, SEG_PIXELS, logits, how=how)


# --- (256, 10) per update ------------------------------------------------------------------------

G_SMALL = "small 256x10 f32 scores, 1 thread"


@pytest.mark.parametrize("inputs", ["numpy probabilities", "torch CPU probabilities", "numpy logits, from_logits=True",
                                    "torch CPU logits, from_logits=True"])
def test_small_streameval(benchmark, small, inputs):
    y_true, logits, probs, labels = small
    if "logits" in inputs:
        acc, scores = _accumulator(10, from_logits=True), logits
    else:
        acc, scores = streameval.Multiclass(10), probs
    if inputs.startswith("torch"):
        torch = pytest.importorskip("torch")
        y, x = torch.from_numpy(y_true), torch.from_numpy(scores)
    else:
        y, x = y_true, scores
    _time_streameval(benchmark, G_SMALL, acc, y, x, _cm(y_true, labels, 10), len(y_true), input=inputs)


def test_small_numpy(benchmark, small):
    y_true, _, probs, _ = small
    _time_numpy_argmax(benchmark, G_SMALL, y_true, probs, 10, len(y_true))


def test_small_torchmetrics(benchmark, small, tm):
    y_true, _, probs, _ = small
    _time_torchmetrics(benchmark, G_SMALL, tm.MulticlassConfusionMatrix(10, validate_args=False), probs, y_true,
                       len(y_true))


@READS
def test_small_read(benchmark, small, how):
    probs = small[2]
    _time_read(benchmark, G_SMALL, len(probs), probs, how=how)
