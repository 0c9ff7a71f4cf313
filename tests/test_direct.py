"""update()'s direct path for a training loop's (N, K) scores (streameval._direct): the same counts
and errors as the general path, for every input it takes, and the general path for the rest."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

import streameval
from streameval import _direct

torch = pytest.importorskip("torch")


@pytest.fixture
def calls(monkeypatch):
    """The batches the direct path counted (its kernels' calls: numpy views, and tensors read at
    their addresses, marked "at")."""
    seen = []

    def spy(pick, shape_of):
        def picked(rows, k, dtype):
            kernel = pick(rows, k, dtype)

            def counted(*args, call=kernel):
                seen.append(shape_of(args))
                return call(*args)
            # (as a dispatcher: the direct path calls the compiled function of the arguments' types)
            counted.typeof_pyval = kernel.typeof_pyval
            counted.compile = lambda signature: functools.partial(counted, call=kernel.compile(signature))
            return counted
        return picked

    monkeypatch.setattr(_direct, "_COMPILED", {})  # (the kernels picked before: not spied on)
    monkeypatch.setattr(_direct, "count_argmax_for", spy(_direct.count_argmax_for, lambda args: args[1].shape))
    monkeypatch.setattr(_direct, "addressed_for", spy(_direct.addressed_for, lambda args: ("at", args[2], args[3])))
    return seen


def _batch(rng, n, k, label_dtype=np.int64, score_dtype=np.float32):
    y_true = rng.integers(0, k, n).astype(label_dtype)
    scores = rng.normal(size=(n, k)).astype(score_dtype)
    scores[rng.random((n, k)) < 0.1] = 0.5  # ties: the first maximum, as numpy's argmax
    return y_true, scores


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.int8])
@pytest.mark.parametrize("score_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("k", [7, 11, 16, 70])  # short rows (11 too); float32 rows by keys; all by keys
def test_direct_counts_equal_sklearn(calls, label_dtype, score_dtype, as_tensor, k):
    rng = np.random.default_rng(0)
    acc = streameval.Multiclass(k, from_logits=True)
    truth, predicted = [], []
    for n in (256, 1, 0, 1000):
        y_true, scores = _batch(rng, n, k, label_dtype, score_dtype)
        given = (torch.from_numpy(y_true), torch.from_numpy(scores)) if as_tensor else (y_true, scores)
        acc.update(*given)
        truth.append(y_true)
        predicted.append(scores.argmax(axis=1))
    assert len(calls) == 4
    np.testing.assert_array_equal(acc.confusion_matrix(), confusion_matrix(np.concatenate(truth),
                                                                           np.concatenate(predicted), labels=range(k)))


@pytest.mark.parametrize("k", [5, 20])
def test_direct_ignore_index_and_strided_scores(calls, k):
    rng = np.random.default_rng(1)
    y_true, scores = _batch(rng, 500, k)
    y_true[::4] = -100
    for given in (scores, np.repeat(scores, 2, axis=1)[:, ::2]):  # contiguous; a strided view, scanned as it is
        acc = streameval.Multiclass(k, ignore_index=-100)
        acc.update(y_true, given)
        kept = y_true != -100
        np.testing.assert_array_equal(acc.confusion_matrix(),
                                      confusion_matrix(y_true[kept], scores[kept].argmax(axis=1), labels=range(k)))
    assert len(calls) == 2


@pytest.mark.parametrize("k", [4, 20])
def test_bad_values_raise_as_the_general_path_does_and_count_nothing(calls, k):
    rng = np.random.default_rng(2)
    acc = streameval.Multiclass(k)
    y_true, scores = _batch(rng, 300, k)
    acc.update(y_true, scores)
    before = acc.copy()
    bad_label = y_true.copy()
    bad_label[200] = k
    with pytest.raises(ValueError, match=r"y_true\[200\]"):
        acc.update(bad_label, scores)
    bad_score = scores.copy()
    bad_score[150, 2] = np.nan
    with pytest.raises(ValueError, match=r"y_pred\[150, 2\]"):
        acc.update(y_true, bad_score)
    assert acc == before and len(calls) == 3  # each bad batch was tried by the direct path first


def test_other_batches_take_the_general_path(calls):
    rng = np.random.default_rng(3)
    y_true, scores = _batch(rng, 100, 3)
    weights = rng.random(100)
    cases = [
        (streameval.Multiclass(3, weighted=True), (y_true, scores, weights)),  # weights
        (streameval.Multiclass(3), (y_true.tolist(), scores)),  # a list
        (streameval.Multiclass(3), (y_true, scores.astype(np.float16))),  # another dtype
        (streameval.Multiclass(3), (torch.from_numpy(y_true), torch.from_numpy(scores).bfloat16())),
        (streameval.Multiclass(3, bins=10), (y_true, np.abs(scores) / np.abs(scores).sum(1, keepdims=True))),
        (streameval.Multiclass(3, bootstrap=5, seed=0), (y_true, scores)),
        (streameval.Multiclass(labels=["a", "b", "c"]), (np.array(["a", "b", "c"])[y_true], scores)),
    ]
    for acc, given in cases:
        acc.update(*given)
        assert acc.n_samples == pytest.approx(100 if len(given) == 2 else weights.sum())
    assert calls == []


def test_logits_that_require_grad_are_read_without_their_graph(calls):
    """Logits straight from the model (no .detach()) take the direct path, count what the detached
    ones count, and keep their graph: the loss can still be back-propagated."""
    rng = np.random.default_rng(4)
    y_true, scores = _batch(rng, 300, 10)
    weight = torch.ones(10, requires_grad=True)
    logits = torch.from_numpy(scores) * weight  # part of a graph
    acc, reference = streameval.Multiclass(10, from_logits=True), streameval.Multiclass(10, from_logits=True)
    acc.update(torch.from_numpy(y_true), logits)
    reference.update(y_true, logits.detach().numpy())
    assert len(calls) == 2 and acc == reference
    logits.sum().backward()
    np.testing.assert_allclose(weight.grad.numpy(), scores.sum(axis=0), rtol=1e-6)


@pytest.mark.parametrize("score_dtype", [np.float32, np.float64])
def test_tensors_are_read_at_their_addresses(calls, score_dtype):
    """C-contiguous CPU tensors of int64 labels and float scores are read at their data pointers,
    a slice's offset included; the counts are the numpy arrays' (sklearn's)."""
    rng = np.random.default_rng(5)
    y_true, scores = _batch(rng, 700, 10, np.int64, score_dtype)
    acc = streameval.Multiclass(10)
    labels, logits = torch.from_numpy(y_true), torch.from_numpy(scores)
    acc.update(labels[100:356], logits[100:356])  # views into the middle of their storage
    acc.update(labels[:1], logits[:1])
    acc.update(labels, logits)  # more rows than a scan: the short-row kernel
    expected = np.concatenate([np.arange(100, 356), [0], np.arange(700)])
    np.testing.assert_array_equal(acc.confusion_matrix(), confusion_matrix(
        y_true[expected], scores[expected].argmax(axis=1), labels=range(10)))
    assert calls == [("at", 256, 10), ("at", 1, 10), ("at", 700, 10)]


def test_tensors_not_read_at_addresses_are_viewed(calls):
    """Strided tensors, labels of other dtypes, a negative view and empty batches are not read at
    their addresses: they count what their values say, through numpy views or the general path."""
    rng = np.random.default_rng(6)
    y_true, scores = _batch(rng, 300, 6)
    labels, logits = torch.from_numpy(y_true), torch.from_numpy(scores)
    cases = [
        (labels[::2], logits[::2], y_true[::2], scores[::2]),  # strided rows
        (labels, torch.from_numpy(np.asfortranarray(scores)), y_true, scores),  # column-major scores
        (labels.int(), logits, y_true, scores),  # int32 labels
        (labels, torch._neg_view(logits), y_true, -scores),  # the negative bit: values the memory does not hold
        (labels[:0], logits[:0], y_true[:0], scores[:0]),
    ]
    for given_true, given_scores, true, expected in cases:
        acc = streameval.Multiclass(6)
        acc.update(given_true, given_scores)
        reference = confusion_matrix(true, expected.argmax(axis=1), labels=range(6)) if len(true) else 0
        np.testing.assert_array_equal(acc.confusion_matrix(), reference)
    assert all(call[0] != "at" for call in calls)


def test_bad_values_in_tensors_raise_and_count_nothing(calls):
    rng = np.random.default_rng(7)
    y_true, scores = _batch(rng, 300, 10)
    acc = streameval.Multiclass(10)
    acc.update(torch.from_numpy(y_true), torch.from_numpy(scores))
    before = acc.copy()
    bad_label, bad_score = y_true.copy(), scores.copy()
    bad_label[200], bad_score[150, 2] = 10, np.inf
    with pytest.raises(ValueError, match=r"y_true\[200\]"):
        acc.update(torch.from_numpy(bad_label), torch.from_numpy(scores))
    with pytest.raises(ValueError, match=r"y_pred\[150, 2\]"):
        acc.update(torch.from_numpy(y_true), torch.from_numpy(bad_score))
    assert acc == before and calls == [("at", 300, 10)] * 3


def test_compiled_functions_are_kept_by_the_types_of_their_arguments(monkeypatch):
    """Accumulators whose kernels take arguments of other types (float counts of a weighted one, an ignore_index)
    updated in turn with the same tensors: each calls the compiled function of its own types, and counts as sklearn;
    the kept functions are bounded (COMPILED_KEPT, here 2: emptied as batch sizes come)."""
    monkeypatch.setattr(_direct, "_COMPILED", {})
    monkeypatch.setattr(_direct, "COMPILED_KEPT", 2)
    rng = np.random.default_rng(8)
    accs = [streameval.Multiclass(10), streameval.Multiclass(10, weighted=True),
            streameval.Multiclass(10, ignore_index=3), streameval.Multiclass(10, ignore_index=-100)]
    truth, predicted = [], []
    for n in (256, 256, 7, 256, 1, 300, 256):
        y_true, scores = _batch(rng, n, 10)
        for acc in accs:
            acc.update(torch.from_numpy(y_true), torch.from_numpy(scores))
        truth.append(y_true)
        predicted.append(scores.argmax(axis=1))
        assert len(_direct._COMPILED) <= 2
    y_true, y_pred = np.concatenate(truth), np.concatenate(predicted)
    for acc in accs[:2]:
        np.testing.assert_array_equal(acc.confusion_matrix(), confusion_matrix(y_true, y_pred, labels=range(10)))
    kept = y_true != 3
    np.testing.assert_array_equal(accs[2].confusion_matrix(),
                                  confusion_matrix(y_true[kept], y_pred[kept], labels=range(10)))
    np.testing.assert_array_equal(accs[3].confusion_matrix(), accs[0].confusion_matrix())
    assert accs[1].confusion_matrix().dtype == np.float64
