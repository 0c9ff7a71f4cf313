"""unlabelled=True (issue 17): update(None, y_pred) counts the prediction side of samples without
labels. Every array against brute force on the raw samples (numpy), mixed streams against
scikit-learn on the labelled samples only, every wrapper, merges, payloads, fail-atomic updates."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

import streameval
from streameval import Binary, Decayed, Multiclass, Multilabel, Sliced, Windowed
from streameval.errors import InputError

RNG = np.random.default_rng(17)


def _cells(scores: np.ndarray, edges: np.ndarray, inclusive: bool = True) -> np.ndarray:
    """Brute force: the cell of each score (below the first edge: 0; at or above edge i: i + 1)."""
    return np.searchsorted(edges, scores, side="right" if inclusive else "left")


def _hist(scores: np.ndarray, edges: np.ndarray, w: np.ndarray, inclusive: bool = True) -> tuple[np.ndarray, np.ndarray]:
    cells = _cells(scores, edges, inclusive)
    counts = np.zeros(len(edges) + 1)
    sums = np.zeros(len(edges) + 1)
    for c, s, wi in zip(cells, scores, w):
        counts[c] += wi
        sums[c] += wi * s
    return counts, sums


def _cbpe(pred: np.ndarray, p: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brute force: counts (K,), prob (K, K) and var (K, K) sample by sample."""
    counts, prob, var = np.zeros(k), np.zeros((k, k)), np.zeros((k, k))
    for i in range(len(pred)):
        counts[pred[i]] += w[i]
        prob[pred[i]] += w[i] * p[i]
        var[pred[i]] += w[i] * p[i] * (1 - p[i])
    return counts, prob, var


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_arrays_equal_brute_force(weighted, dtype):
    n = 500
    s = RNG.random(n).astype(dtype)
    s[:5] = [0.0, 1.0, 0.5, 0.125, 0.875]  # on edges and the threshold
    w = RNG.random(n) * 3 if weighted else np.ones(n)
    acc = Binary(bins=8, weighted=weighted, unlabelled=True)
    acc.update(None, s[:200], w[:200] if weighted else None)
    acc.update(None, s[200:], w[200:] if weighted else None)
    s64 = s.astype(np.float64)
    pred = (s64 >= float(dtype(0.5))).astype(int)
    counts, prob, var = _cbpe(pred, np.stack([1 - s64, s64], axis=1), w, 2)
    assert np.array_equal(acc._unl_pred, counts) if not weighted else np.allclose(acc._unl_pred, counts, rtol=1e-12)
    np.testing.assert_allclose(acc._unl_prob, prob, rtol=1e-12)
    np.testing.assert_allclose(acc._unl_var, var, rtol=1e-12)
    hist, sums = _hist(s64, acc._bins.edges, w)
    np.testing.assert_allclose(acc._unl_hist[0], hist, rtol=1e-12)
    np.testing.assert_allclose(acc._unl_sums[0], sums, rtol=1e-12)
    # the same cells as a labelled histogram of the same scores
    labelled = Binary(bins=8, weighted=weighted)
    labelled.update(RNG.integers(0, 2, n), s, w if weighted else None)
    np.testing.assert_allclose(acc._unl_hist, labelled._hist.sum(axis=1), rtol=1e-12)  # (exact unweighted)
    np.testing.assert_allclose(acc._unl_sums, labelled._score_sums, rtol=1e-12)
    assert acc.n_samples == pytest.approx(w.sum(), rel=1e-12) and acc.n_labelled == 0
    assert acc.confusion_matrix().sum() == 0  # label metrics see no unlabelled sample


def test_binary_inclusive_false_and_explicit_edges_land_where_labelled_scores_do():
    s = np.array([0.05, 0.2, 0.2, 0.5, 0.7, 0.99, 0.3, 0.0, 1.0])
    acc = Binary(bins=[0.05, 0.2, 0.5, 0.7, 0.99], inclusive=False, unlabelled=True)
    acc.update(None, s)
    labelled = Binary(bins=[0.05, 0.2, 0.5, 0.7, 0.99], inclusive=False)
    labelled.update(np.zeros(len(s), int), s)
    np.testing.assert_array_equal(acc._unl_hist, labelled._hist.sum(axis=1))
    assert acc._unl_pred.tolist() == [int((s <= 0.5).sum()), int((s > 0.5).sum())]


def test_binary_from_logits_counts_the_probabilities_of_the_logits():
    x = RNG.normal(0, 3, 300)
    acc = Binary(bins=6, from_logits=True, unlabelled=True)
    acc.update(None, x)
    p = 1 / (1 + np.exp(-x))
    counts, prob, var = _cbpe((p >= 0.5).astype(int), np.stack([1 - p, p], axis=1), np.ones(300), 2)
    assert acc._unl_pred.tolist() == counts.tolist()
    np.testing.assert_allclose(acc._unl_prob, prob, rtol=1e-12)
    np.testing.assert_allclose(acc._unl_var, var, rtol=1e-12)
    labelled = Binary(bins=6, from_logits=True)
    labelled.update(np.ones(300, int), x)
    np.testing.assert_array_equal(acc._unl_hist, labelled._hist.sum(axis=1))


def test_binary_label_predictions_and_pos_label():
    acc = Binary(unlabelled=True)
    acc.update(None, [0, 1, 1, True, 0])
    assert acc._unl_pred.tolist() == [2, 3] and acc._unlabelled() is None  # labels: no probabilities
    named = Binary(pos_label="spam", unlabelled=True)
    named.update(None, ["spam", "ham", "spam"])
    assert named._unl_pred.tolist() == [1, 2]
    with pytest.raises(ValueError, match="pos_label"):
        named.update(None, ["a", "b", "c"])


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_arrays_equal_brute_force(weighted):
    n, k = 400, 4
    p = RNG.dirichlet(np.ones(k), n)
    p[:3] = [[0.25, 0.25, 0.25, 0.25], [0.0, 1.0, 0.0, 0.0], [0.4, 0.4, 0.1, 0.1]]  # ties: the first wins
    w = RNG.random(n) * 2 if weighted else np.ones(n)
    acc = Multiclass(k, bins=5, weighted=weighted, unlabelled=True)
    acc.update(None, p, w if weighted else None)
    pred = np.argmax(p, axis=1)
    counts, prob, var = _cbpe(pred, p, w, k)
    np.testing.assert_allclose(acc._unl_pred, counts, rtol=1e-12)
    np.testing.assert_allclose(acc._unl_prob, prob, rtol=1e-12)
    np.testing.assert_allclose(acc._unl_var, var, rtol=1e-12)
    for c in range(k):
        hist, sums = _hist(p[:, c], acc._bins.edges, w)
        np.testing.assert_allclose(acc._unl_hist[c], hist, rtol=1e-12)
        np.testing.assert_allclose(acc._unl_sums[c], sums, rtol=1e-12)
    unlabelled = acc._unlabelled()
    assert unlabelled is not None and unlabelled.n == pytest.approx(w.sum(), rel=1e-12)
    side = acc._prediction_side()
    np.testing.assert_allclose(side.counts, counts, rtol=1e-12)
    assert side.edges is acc._bins.edges


def test_multiclass_from_logits_labels_and_auto():
    x = RNG.normal(0, 2, (100, 3))
    acc = Multiclass(3, from_logits=True, unlabelled=True)
    acc.update(None, x)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    _, prob, _ = _cbpe(np.argmax(x, axis=1), p, np.ones(100), 3)
    np.testing.assert_allclose(acc._unl_prob, prob, rtol=1e-12)
    named = Multiclass(labels=["cat", "dog", "fox"], unlabelled=True)
    named.update(None, ["dog", "fox", "dog"])
    assert named._unl_pred.tolist() == [0, 2, 1] and named._unlabelled() is None
    auto = Multiclass(labels="auto", unlabelled=True)
    auto.update(["b", "a"], ["b", "b"])
    auto.update(None, ["c", "a", "c"])  # unlabelled predictions bring their labels
    assert auto.labels == ("a", "b", "c") and auto._unl_pred.tolist() == [1, 0, 2]
    assert auto._prediction_side().counts.tolist() == [1, 2, 2] and auto.n_samples == 5 and auto.n_labelled == 2
    assert streameval.from_bytes(auto.to_bytes()) == auto


@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_arrays_equal_brute_force(weighted):
    n, labels = 300, 3
    s = RNG.random((n, labels))
    w = RNG.random(n) * 2 if weighted else np.ones(n)
    acc = Multilabel(labels, bins=4, weighted=weighted, unlabelled=True)
    acc.update(None, s, w if weighted else None)
    assert acc._unl_pred.shape == (labels, 2) and acc._unl_prob.shape == (labels, 2, 2)
    for lab in range(labels):
        col = s[:, lab]
        counts, prob, var = _cbpe((col >= 0.5).astype(int), np.stack([1 - col, col], axis=1), w, 2)
        np.testing.assert_allclose(acc._unl_pred[lab], counts, rtol=1e-12)
        np.testing.assert_allclose(acc._unl_prob[lab], prob, rtol=1e-12)
        np.testing.assert_allclose(acc._unl_var[lab], var, rtol=1e-12)
        hist, sums = _hist(col, acc._bins.edges, w)
        np.testing.assert_allclose(acc._unl_hist[lab], hist, rtol=1e-12)
        np.testing.assert_allclose(acc._unl_sums[lab], sums, rtol=1e-12)
    indicators = Multilabel(2, unlabelled=True)
    indicators.update(None, [[1, 0], [1, 1], [0, 0]])
    assert indicators._unl_pred.tolist() == [[1, 2], [2, 1]] and indicators.n_samples == 3


# --- mixed streams: label metrics read the labelled samples only ------------------------------


def test_mixed_binary_stream_label_metrics_equal_sklearn_on_the_labelled_samples():
    acc = Binary(bins=10, unlabelled=True)
    truth, scores, all_scores = [], [], []
    for i in range(6):
        s = RNG.random(50)
        all_scores.append(s)
        if i % 2:
            acc.update(None, s)
        else:
            y = RNG.integers(0, 2, 50)
            acc.update(y, s)
            truth.append(y)
            scores.append(s)
    y, s = np.concatenate(truth), np.concatenate(scores)
    assert acc.n_samples == 300 and acc.n_labelled == 150
    assert acc.recall() == recall_score(y, s >= 0.5) and acc.accuracy() == accuracy_score(y, s >= 0.5)
    every = np.concatenate(all_scores)
    side = acc._prediction_side()
    assert side.counts.tolist() == [int((every < 0.5).sum()), int((every >= 0.5).sum())] and side.n == 300
    np.testing.assert_array_equal(side.hist[0], _hist(every, acc._bins.edges, np.ones(300))[0])
    assert acc.brier_score() == pytest.approx(np.mean((s - y) ** 2), rel=1e-12)  # labelled only


def test_mixed_multiclass_and_multilabel_streams():
    acc = Multiclass(3, bins=4, unlabelled=True)
    y = RNG.integers(0, 3, 80)
    p = RNG.dirichlet(np.ones(3), 80)
    acc.update(y, p)
    acc.update(None, RNG.dirichlet(np.ones(3), 40))
    assert acc.n_samples == 120 and acc.n_labelled == 80
    assert acc.f1() == pytest.approx(f1_score(y, p.argmax(axis=1), average="macro"), rel=1e-12)
    multi = Multilabel(3, unlabelled=True)
    yt = RNG.integers(0, 2, (60, 3))
    s = RNG.random((60, 3))
    multi.update(yt, s)
    multi.update(None, RNG.random((30, 3)))
    assert multi.n_samples == 90 and multi.n_labelled == 60
    assert multi.accuracy() == accuracy_score(yt, s >= 0.5)
    assert multi.f1(average="samples") == pytest.approx(f1_score(yt, s >= 0.5, average="samples", zero_division=0))


# --- wrappers: the unlabelled side equals the labelled path's prediction side ---------------------


def _pairs(make):
    """(unlabelled accumulator fed y_pred alone, labelled one fed the same y_pred with labels)."""
    return make(True), make(False)


@pytest.mark.parametrize("wrap", [
    lambda u: Windowed(Binary(bins=5, unlabelled=u), 100, buckets=4),
    lambda u: Decayed(Binary(bins=5, weighted=True, unlabelled=u), 30.0),
    lambda u: Windowed(Multilabel(2, bins=3, unlabelled=u), 40, buckets=2),
])
def test_wrappers_count_unlabelled_batches_where_labelled_ones_go(wrap):
    mine, reference = _pairs(wrap)
    multilabel = "Multilabel" in mine._describe()
    for _ in range(5):
        s = RNG.random((37, 2) if multilabel else 37)
        mine.update(None, s)
        reference.update((s > 0.3).astype(int), s)
    current, labelled = mine.snapshot(), reference.snapshot()
    np.testing.assert_allclose(current._unl_hist, labelled._hist.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(current._unl_sums, labelled._score_sums, rtol=1e-12)
    np.testing.assert_allclose(current._prediction_side().counts, labelled._prediction_side().counts, rtol=1e-12)
    assert mine.n_samples == pytest.approx(reference.n_samples) and mine.n_labelled == 0
    assert streameval.from_bytes(mine.to_bytes()) == mine


def test_sliced_counts_unlabelled_batches_per_slice():
    sliced = Sliced(Multiclass(3, unlabelled=True))
    p = RNG.dirichlet(np.ones(3), 60)
    keys = np.array(["a", "b"] * 30)
    sliced.update(None, p, by=keys)
    for key in ("a", "b"):
        expected = np.bincount(p[keys == key].argmax(axis=1), minlength=3)
        assert sliced[key]._unl_pred.tolist() == expected.tolist()


def test_bad_batches_in_a_wrapper_change_nothing():
    window = Windowed(Binary(bins=4, unlabelled=True), 10, buckets=2)
    window.update(None, [0.1, 0.2])
    before = window.copy()
    with pytest.raises(InputError) as error:
        window.update(None, [0.3, 0.4, float("nan")])
    assert error.value.argument == "y_pred" and error.value.index == 2 and window == before


# --- merge, payloads, state vectors -------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: Binary(bins=8, unlabelled=True),
    lambda: Multiclass(3, bins=5, unlabelled=True),
    lambda: Multilabel(3, bins=2, unlabelled=True),
])
def test_merge_payloads_and_state_vectors(make):
    a, b, whole = make(), make(), make()
    multiclass = isinstance(a, Multiclass)
    columns = 3 if isinstance(a, (Multiclass, Multilabel)) else None
    for acc, n in ((a, 30), (b, 20)):
        s = RNG.dirichlet(np.ones(3), n) if multiclass else RNG.random(n if columns is None else (n, columns))
        y = RNG.integers(0, 3 if multiclass else 2, n if not isinstance(a, Multilabel) else (n, 3))
        acc.update(None, s)
        acc.update(y, s)
        whole.update(None, s)
        whole.update(y, s)
    merged = a.copy().merge(b)
    assert merged.n_samples == 100 and merged.n_labelled == 50  # (float sums: added in another order)
    for name in ("_unl_pred", "_unl_prob", "_unl_var", "_unl_hist", "_unl_sums"):
        np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12)
    assert streameval.from_bytes(a.to_bytes()) == a and streameval.from_dict(a.to_dict()) == a
    assert a.to_dict()["config"]["unlabelled"] is True
    loaded = make()
    loaded.load_state_vector(a.state_vector() + b.state_vector())
    assert loaded == merged


def test_the_option_is_in_the_configuration_only_when_set():
    for acc in (Binary(bins=4), Multiclass(3), Multilabel(2)):
        assert "unlabelled" not in acc.to_dict()["config"]
        assert not any(name.startswith("_unl") for name in acc._spec)
    with pytest.raises(streameval.IncompatibleError):
        Binary(bins=4).merge(Binary(bins=4, unlabelled=True))


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("acc", [Binary(), Multiclass(3), Multilabel(2), Windowed(Binary(), 10, buckets=2)])
def test_update_none_without_the_option_raises_naming_it(acc):
    with pytest.raises(ValueError, match="unlabelled=True"):
        acc.update(None, [0.2, 0.3] if not isinstance(acc, Multilabel) else [[0.2, 0.3]])
    assert acc.is_empty


@pytest.mark.parametrize("make, good, bad, index", [
    (lambda: Binary(bins=4, unlabelled=True), [0.2, 0.9], [0.3, 0.5, 1.5], 2),
    (lambda: Binary(unlabelled=True), [1, 0], [1, 2, 0], 1),
    (lambda: Multiclass(3, unlabelled=True), [0, 2], [0, 1, 3], 2),
    (lambda: Multiclass(3, bins=4, unlabelled=True), [[0.2, 0.3, 0.5]], [[0.2, 0.3, 0.5], [0.1, np.nan, 0.2]],
     (1, 1)),
    (lambda: Multilabel(2, unlabelled=True), [[0.2, 0.9]], [[0.2, 0.9], [0.5, -0.1]], (1, 1)),
    (lambda: Multilabel(2, unlabelled=True), [[1, 0]], [[1, 0], [2, 0]], (1, 0)),
])
def test_a_bad_unlabelled_batch_names_y_pred_and_changes_nothing(make, good, bad, index):
    acc = make()
    acc.update(None, good)
    before = acc.copy()
    with pytest.raises(InputError) as error:
        acc.update(None, bad)
    assert error.value.argument == "y_pred" and error.value.index == index
    assert acc == before


def test_a_bad_weight_names_sample_weight_and_changes_nothing():
    acc = Binary(bins=4, weighted=True, unlabelled=True)
    before = acc.copy()
    with pytest.raises(InputError) as error:
        acc.update(None, [0.1, 0.2, 0.3], [1.0, -1.0, 1.0])
    assert error.value.argument == "sample_weight" and error.value.index == 1 and acc == before


def test_unlabelled_counts_on_the_host_only():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="unlabelled=True"):
        Binary(unlabelled=True, device="cpu")
