"""Inputs of any rank: (N, d1, ...) labels, (N, K, d1, ...) scores (the class axis second, as
torch.nn.CrossEntropyLoss takes them), (N, L, d1, ...) multilabel: equal to flattening first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from helpers import assert_same
import streameval
from streameval import Binary, InputError, Multiclass, Multilabel, Windowed


def flat_scores(x):
    """(N, K, d1, ...) as (N * d1 * ..., K): the reference's flattening."""
    return np.moveaxis(np.asarray(x), 1, -1).reshape(-1, np.shape(x)[1])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(2, 5),
       st.integers(0, 2**32 - 1), st.sampled_from(["float32", "float64"]), st.booleans())
def test_multiclass_scores_any_rank_equal_flattened(n, dims, k, seed, dtype, ignore):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (n, k, *dims)).astype(dtype)  # small integers: ties, first max wins
    y = rng.integers(0, k, (n, *dims))
    if ignore:
        y[rng.random(y.shape) < 0.2] = -100
        x[:, 0][y == -100] = np.nan  # an ignored element's scores are never read
    acc = Multiclass(k, ignore_index=-100 if ignore else None)
    acc.update(y, x)
    yt, scores = y.reshape(-1), flat_scores(x)
    keep = yt != -100
    assert acc.n_samples == keep.sum()
    if keep.any():  # sklearn refuses an empty input
        ref = skm.confusion_matrix(yt[keep], scores[keep].argmax(1), labels=range(k))
        assert acc.confusion_matrix().tolist() == ref.tolist()
    else:
        assert not acc.confusion_matrix().any()


def test_strided_views_and_non_contiguous_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    y = rng.integers(0, 4, (3, 5, 6))
    ref = skm.confusion_matrix(y.reshape(-1), flat_scores(x).argmax(1), labels=range(4))
    for scores, labels in ((x, y), (np.asfortranarray(x), np.asfortranarray(y)),
                           (np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2), y)):
        acc = Multiclass(4)
        acc.update(labels, scores)
        assert acc.confusion_matrix().tolist() == ref.tolist()


def test_multiclass_labels_and_bins_any_rank():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 3, (4, 5, 2)), rng.integers(0, 3, (4, 5, 2))
    acc = Multiclass(3)
    acc.update(y, p)
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(y.ravel(), p.ravel()).tolist()
    logits = rng.normal(size=(4, 3, 5, 2))
    binned = Multiclass(3, bins=10, from_logits=True, top_k=2, weighted=True)
    w = rng.random(4)
    binned.update(y, logits, w)  # (N,) weights: one per sample, for each of its elements
    flat = flat_scores(logits)
    e = np.exp(flat - flat.max(1, keepdims=True))
    probs = e / e.sum(1, keepdims=True)
    ww = np.repeat(w, 10)
    assert_same(binned.confusion_matrix(), skm.confusion_matrix(y.ravel(), flat.argmax(1), sample_weight=ww), False)
    assert_same(binned.log_loss(), skm.log_loss(y.ravel(), probs, sample_weight=ww), False, rtol=1e-9)
    assert_same(binned.accuracy(top_k=2), skm.top_k_accuracy_score(y.ravel(), probs, k=2, sample_weight=ww), False)


def test_binary_and_multilabel_any_rank():
    rng = np.random.default_rng(2)
    y, s = rng.integers(0, 2, (3, 4, 5)), rng.random((3, 4, 5))
    acc = Binary(bins=10)
    acc.update(y, s)
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(y.ravel(), s.ravel() >= 0.5).tolist()
    assert_same(acc.brier_score(), skm.brier_score_loss(y.ravel(), s.ravel()), False)
    ml = Multilabel(4, from_logits=True)
    yl, xl = rng.integers(0, 2, (3, 4, 5, 2)), rng.normal(size=(3, 4, 5, 2))
    ml.update(yl, xl)
    ref = skm.multilabel_confusion_matrix(flat_scores(yl), flat_scores(xl) >= 0)
    assert ml.confusion_matrix().tolist() == ref.tolist()


def test_bad_positions_name_the_users_array():
    x = np.zeros((2, 3, 4, 5), dtype=np.float32)
    y = np.zeros((2, 4, 5), dtype=np.int64)
    x[1, 2, 3, 1] = np.inf
    acc = Multiclass(3)
    with pytest.raises(InputError) as info:
        acc.update(y, x)
    assert (info.value.argument, info.value.index) == ("y_pred", (1, 2, 3, 1))
    x[1, 2, 3, 1] = 0
    y[1, 2, 3] = 7
    with pytest.raises(InputError) as info:
        acc.update(y, x)
    assert (info.value.argument, info.value.index) == ("y_true", (1, 2, 3))
    assert acc.is_empty
    binned = Multiclass(3, bins=4)
    x[0, 1, 2, 2] = 1.5
    y[1, 2, 3] = 0
    with pytest.raises(InputError, match="from_logits=True") as info:
        binned.update(y, x)
    assert (info.value.argument, info.value.index) == ("y_pred", (0, 1, 2, 2))
    ml = Multilabel(3)
    yl = np.zeros((2, 3, 4), dtype=np.int64)
    yl[1, 2, 3] = 2
    with pytest.raises(InputError) as info:
        ml.update(yl, np.zeros((2, 3, 4)))
    assert (info.value.argument, info.value.index) == ("y_true", (1, 2, 3))


def test_shapes_that_do_not_match_are_refused():
    with pytest.raises(ValueError, match=r"y_pred has shape \(2, 4, 3\)"):
        Multiclass(3).update(np.zeros((2, 3), dtype=int), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        Multiclass(3, weighted=True).update(np.zeros((2, 3), dtype=int), np.zeros((2, 3)), np.ones((3, 2)))


def test_wrappers_count_elements():
    rng = np.random.default_rng(3)
    y, x = rng.integers(0, 3, (2, 4, 4)), rng.normal(size=(2, 3, 4, 4))
    windowed = Windowed(Multiclass(3), 100, buckets=4)
    windowed.update(y, x)
    ref = skm.confusion_matrix(y.ravel(), flat_scores(x).argmax(1), labels=range(3))
    assert windowed.confusion_matrix().tolist() == ref.tolist()


def test_torch_tensors_of_any_rank():
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 5, 3, 4)
    y = torch.randint(0, 5, (2, 3, 4))
    y[0, 0, 0] = -100
    acc = Multiclass(5, ignore_index=-100)
    acc.update(y, x)
    yt, p = y.reshape(-1).numpy(), flat_scores(x.numpy()).argmax(1)
    keep = yt != -100
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(yt[keep], p[keep], labels=range(5)).tolist()


def test_against_torchmetrics_global_average():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, 8, 8, generator=g)
    y = torch.randint(0, 6, (4, 8, 8), generator=g)
    y[:, :2] = -100
    acc = Multiclass(6, ignore_index=-100)
    acc.update(y, x)
    kwargs = {"num_classes": 6, "multidim_average": "global", "ignore_index": -100}
    ref_acc = tm.classification.MulticlassAccuracy(average="micro", **kwargs)(x, y)
    ref_iou = tm.classification.MulticlassJaccardIndex(num_classes=6, ignore_index=-100, average="macro")(x, y)
    assert acc.accuracy() == pytest.approx(float(ref_acc), rel=1e-6)
    assert acc.jaccard(average="macro") == pytest.approx(float(ref_iou), rel=1e-6)
    ref_f1 = tm.classification.MulticlassF1Score(average="macro", **kwargs)(x, y)
    assert acc.f1() == pytest.approx(float(ref_f1), rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.booleans())
def test_any_rank_stream_through_merges_and_serialization(seed, batches, from_logits):
    """Batches of (N, K, H, W) scores or logits, with padding, split over two accumulators, one of
    them serialized and read back, then merged: the flattened stream's counts (sklearn's), and the
    accumulator that saw the whole stream."""
    rng = np.random.default_rng(seed)
    k = 4
    parts = [Multiclass(k, ignore_index=-100, from_logits=from_logits) for _ in range(2)]
    whole = Multiclass(k, ignore_index=-100, from_logits=from_logits)
    truth, scores = [], []
    for b in range(batches):
        x = rng.normal(size=(2, k, 3, 2)) if from_logits else rng.dirichlet(np.ones(k), (2, 3, 2)).transpose(0, 3, 1, 2)
        y = rng.integers(0, k, (2, 3, 2))
        y[rng.random(y.shape) < 0.2] = -100
        parts[b % 2].update(y, x)
        whole.update(y, x)
        truth.append(y.reshape(-1))
        scores.append(flat_scores(x))
    merged = parts[0] + streameval.from_bytes(parts[1].to_bytes())
    yt, flat = np.concatenate(truth), np.concatenate(scores)
    keep = yt != -100
    assert merged.n_samples == whole.n_samples == keep.sum()
    if keep.any():
        ref = skm.confusion_matrix(yt[keep], flat[keep].argmax(1), labels=range(k))
        assert merged.confusion_matrix().tolist() == ref.tolist()
    assert merged == whole
