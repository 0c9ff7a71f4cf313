"""Hostile and careless inputs to the accumulators' updates (issue 11): no wrong number returned in
silence, no half-applied update, no unbounded memory, a clear error instead of a traceback.

References are scikit-learn, numpy's own comparisons (``scores >= t``, NEP 50) and torch's; never
numbers copied from streameval's output.
"""

from __future__ import annotations

import re
import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

import streameval
import streameval.limits
from streameval import Binary, Multiclass, Multilabel
from streameval import _scores

from helpers import MIXED_LABELS, binary_pool, class_labels, is_plain, layout_of, reads_probabilities
from memlimit import run_limited

torch = pytest.importorskip("torch")

nan, inf = float("nan"), float("inf")


def unchanged(acc, call, exc, match=None):
    """call() raises exc (matching match) with every warning an error, and acc is exactly as before."""
    raw, labels = acc.to_bytes(), getattr(acc, "labels", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc, match=match) as info:
            call()
    assert acc.to_bytes() == raw, "a failed update changed the state"
    assert getattr(acc, "labels", None) == labels
    return info.value


# --- 1. scores that are no probabilities are refused, never read silently ----------------------


def _logits(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(0, 2, n) + 2.0 * y  # logits: well outside [0, 1]


@pytest.mark.configs(where=reads_probabilities)
@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
def test_logits_are_refused_where_probabilities_are_read(configuration, as_tensor):
    acc = configuration.make()
    y, logits = _logits(50)
    if isinstance(acc, Multilabel):  # labels alternate y, 1 - y; their scores logits, -logits
        flip = np.arange(acc.num_labels) % 2
        y, logits = np.abs(y[:, None] - flip), logits[:, None] * (1 - 2 * flip)
    elif isinstance(acc, Multiclass):  # class 1 by the logits, the others against them
        y = y if acc.num_classes == 2 else np.where(y == 1, 1, 0)
        logits = np.where(np.arange(acc.num_classes) == 1, logits[:, None], -logits[:, None])
        y = np.array(acc.labels)[y]
    elif isinstance(acc, Binary):  # its labels: pos_label and another
        y = np.array(binary_pool(layout_of(acc).config))[y]
    w = np.ones(len(y)) if acc.weighted else None
    acc.update(y[:1], np.full((1, *logits.shape[1:]), 0.5), None if w is None else w[:1])
    first = int(np.argmax((logits < 0) | (logits > 1)) // (logits[0].size))
    if as_tensor:  # torch holds no strings: labels that are strings stay numpy
        y = y if y.dtype.kind in "USO" else torch.as_tensor(y)
        logits = torch.as_tensor(logits, dtype=torch.float32)
    error = unchanged(acc, lambda: acc.update(y, logits, w), ValueError)
    message = str(error)
    assert re.match(rf"^y_pred\[{first}(, \d)?\] = -?[\d.e+-]+ is not a probability", message), message
    assert "score_range=(lo, hi)" in message
    if not isinstance(acc, Multiclass):
        assert "threshold=" in message


def test_decision_scores_with_their_range_or_threshold_are_counted_as_numpy_does():
    y, logits = _logits()
    for acc in (Binary(threshold=0.0), Binary(threshold=0.0, score_range=(-10, 10)), Binary(2.0)):
        acc.update(y, logits)
        expected = skm.confusion_matrix(y, (logits >= acc.threshold).astype(int), labels=[0, 1])
        assert acc.confusion_matrix().tolist() == expected.tolist()
    acc = Multilabel(2, threshold=-1.0)
    acc.update(np.stack([y, y], axis=1), np.stack([logits, logits], axis=1))
    assert acc.confusion_matrix()[0].tolist() == skm.confusion_matrix(y, (logits >= -1.0).astype(int)).tolist()


def test_binned_logits_with_their_range_bracket_sklearns_auc():
    """The issue's case: 100 bins on [0, 1] fed logits said 0.870 where sklearn says 0.919. Refused
    now; with the logits' range the bins bracket sklearn's AUC."""
    y, logits = _logits()
    with pytest.raises(ValueError, match="is not a probability"):
        Binary(bins=100).update(y, logits)
    acc = Binary(bins=100, score_range=(-8.0, 10.0))
    acc.update(y, logits)
    lower, upper = acc.roc_auc_bounds()
    auc = skm.roc_auc_score(y, logits)
    assert lower <= auc <= upper and abs(acc.roc_auc() - auc) < 0.005
    assert acc.out_of_range == (int(np.sum(logits < -8.0)), int(np.sum(logits > 10.0)))


def test_score_range_without_bins_is_configuration_only_when_given():
    assert "score_range" not in Binary()._config() and "score_range" not in Multilabel(2)._config()
    for acc in (Binary(0.0, score_range=(-5, 5)), Multilabel(2, 0.0, score_range=(-5, 5))):
        assert acc._config()["score_range"] == [-5.0, 5.0]
        copy = streameval.from_bytes(acc.to_bytes())
        assert copy == acc and copy.score_range == (-5.0, 5.0)
    with pytest.raises(ValueError, match=r"score_range=\(1, 0\) is not valid"):
        Binary(score_range=(1, 0))


# --- 2. integer-valued floats are those integers --------------------------------------------------


def test_float_labels_are_the_integers_they_hold():
    auto = Multiclass(labels="auto")
    auto.update(np.array([1, 2, 2, 1]), np.array([1.0, 2.0, 1.0, 1.0]))
    assert auto.labels == (1, 2) and all(type(v) is int for v in auto.labels)
    assert auto.accuracy() == skm.accuracy_score([1, 2, 2, 1], [1, 2, 1, 1])
    assert str(auto.report()).split()[:5] == ["precision", "recall", "f1-score", "support", "1"]
    fixed = Multiclass(labels=[1.0, 2.0])
    assert fixed.labels == (1, 2)
    fixed.update([1, 2, 2, 1], np.array([1.0, 2.0, 1.0, 1.0]))
    assert fixed.confusion_matrix().tolist() == auto.confusion_matrix().tolist()
    with pytest.raises(ValueError, match=r"labels\[1\] = 1\.0 repeats labels\[0\]"):
        Multiclass(labels=[1, 1.0])
    with pytest.raises(ValueError, match=r"y_true\[0\] = 1\.5 is not one of the labels \[1, 2\]"):
        fixed.update([1.5], [1])


def test_an_integer_that_rounds_onto_2_pow_53_is_not_merged_with_it():
    """2**53 + 1 next to a float in a list: as float64 it would be 2**53 exactly (the example
    hypothesis found for the test below)."""
    big = 2**53
    y_true, y_pred = [0, big + 1, big + 1], [float(big), big + 1, 0]
    expected = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    labels = [0, big, big + 1]
    for t, p in zip(y_true, y_pred):
        expected[labels.index(t)][labels.index(p)] += 1
    auto = Multiclass(labels="auto")
    auto.update(y_true, y_pred)
    assert list(auto.labels) == [0, big, big + 1] and auto.confusion_matrix().tolist() == expected
    fixed = Multiclass(labels=labels)
    fixed.update(np.array(y_true, dtype=np.int64), y_pred)
    assert fixed.confusion_matrix().tolist() == expected


@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1), st.booleans()),
                min_size=1, max_size=30), st.data())
@settings(max_examples=60)
def test_large_integer_labels_are_compared_exactly(rows, data):
    """Integers above 2**53 next to floats: no float64 cast may merge them. Each value is given as a
    float where the float holds it exactly, else as the integer."""
    pool = [v for r in rows for v in r[:2]]
    near = [v + d for v in pool for d in (-1, 1) if -(2**63) <= v + d < 2**63]
    y_true = [r[0] for r in rows]
    y_pred = [data.draw(st.sampled_from(pool + near)) for _ in rows]
    as_float = [r[2] and float(v) == v for r, v in zip(rows, y_pred)]
    given_pred = [float(v) if f else v for v, f in zip(y_pred, as_float)]
    labels = sorted(set(y_true) | set(y_pred))
    auto = Multiclass(labels="auto", max_labels=100)
    auto.update(y_true, given_pred)
    assert list(auto.labels) == labels
    position = {label: i for i, label in enumerate(labels)}  # by Python's exact equality
    expected = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        expected[position[t], position[p]] += 1
    assert auto.confusion_matrix().tolist() == expected.tolist()
    fixed = Multiclass(labels=labels)
    fixed.update(np.array(y_true, dtype=np.int64), given_pred)
    assert fixed.confusion_matrix().tolist() == expected.tolist()


def test_a_float_never_matches_an_integer_it_only_rounds_to():
    big = 2**53 + 1
    fixed = Multiclass(labels=[big, 7])
    with pytest.raises(ValueError, match=r"^y_pred\[0\] = 9007199254740992\.0 is not one of the labels"):
        fixed.update([big], np.array([float(big)]))
    fixed.update([big], np.array([big], dtype=np.uint64))
    assert fixed.confusion_matrix().tolist() == [[1, 0], [0, 0]]
    auto = Multiclass(labels="auto")
    auto.update([big, big + 1], [big + 1, 0.5])  # a list of big ints and a float: read exactly, as objects
    assert auto.labels == (0.5, big, big + 1)
    acc = Binary(pos_label=big)
    acc.update([big, big], np.array([float(big), float(big)]))  # float(big) is 2**53, not big: negative
    assert acc.confusion_matrix().tolist() == [[0, 0], [2, 0]]


# --- 3. label traps ----------------------------------------------------------------------------------


def test_integer_floats_with_another_pos_label_are_labels():
    y_true, y_pred = [2, 3, 2, 3], np.array([2.0, 3.0, 3.0, 2.0])
    acc = Binary(pos_label=3)
    acc.update(y_true, y_pred)
    expected = skm.confusion_matrix(y_true, y_pred, labels=[2, 3])  # scikit-learn reads them as labels too
    assert acc.confusion_matrix().tolist() == expected.tolist()
    acc.update([3], np.array([0.75]))  # a fraction: a score against threshold 0.5
    assert acc.confusion_matrix()[1, 1] == expected[1, 1] + 1


@pytest.mark.parametrize("missing", [None, nan, "pd.NA", "pd.NaT"], ids=["None", "nan", "NA", "NaT"])
@pytest.mark.parametrize("where", ["y_true", "y_pred"])
def test_missing_values_are_no_labels(missing, where):
    pd = pytest.importorskip("pandas")
    missing = {"pd.NA": pd.NA, "pd.NaT": pd.NaT}.get(missing, missing)
    bad = np.array(["a", missing, "b"], dtype=object)
    good = np.array(["a", "b", "b"], dtype=object)
    with pytest.raises((ValueError, TypeError)):  # scikit-learn refuses them too
        skm.accuracy_score(bad if where == "y_true" else good, good if where == "y_true" else bad)
    batch = (bad, good) if where == "y_true" else (good, bad)
    for acc in (Multiclass(labels="auto"), Multiclass(labels=["a", "b"]), Binary(pos_label="a")):
        acc.update(["a"], ["b"])
        unchanged(acc, lambda: acc.update(*batch), ValueError,
                  rf"^{where}\[1\] = {re.escape(repr(missing))} is missing \(None, NaN or NA\)")
    numbers = np.array([1, missing, 0], dtype=object)
    for acc in (Binary(), Multiclass(3)):
        unchanged(acc, lambda: acc.update(numbers, [1, 1, 0]), ValueError, r"^y_true\[1\] = .* is (missing|not a class)")


def test_a_misspelt_pos_label_is_refused_as_scikit_learn_refuses_it():
    with pytest.raises(ValueError, match="pos_label=spma is not a valid label"):
        skm.precision_score(["spam", "ham"], ["ham", "ham"], pos_label="spma")
    acc = Binary(pos_label="spma")
    unchanged(acc, lambda: acc.update(["spam", "ham"], ["ham", "ham"]), ValueError,
              r"^this batch holds the labels \['ham', 'spam'\] but Binary\(pos_label='spma'\) counts pos_label "
              "against one other label")
    unchanged(acc, lambda: acc.update(["ham", "eggs"], np.array([0.2, 0.9])), ValueError, "pos_label='spma'")
    unchanged(acc, lambda: acc.update([2, 3], [2, 2]), TypeError, "holds numbers")
    acc.update(["ham", "ham"], ["ham", "ham"])  # one label: a batch without positives, as streams have
    acc.update(["spma", "ham"], ["ham", "ham"])
    assert acc.confusion_matrix().tolist() == [[3, 0], [1, 0]]
    numbers = Binary(pos_label=7)
    unchanged(numbers, lambda: numbers.update([1, 2], [2, 2]), ValueError, r"labels \[1, 2\] but Binary\(pos_label=7\)")


def test_three_labels_are_multiclass_data_as_scikit_learn_says():
    with pytest.raises(ValueError, match="multiclass"):
        skm.precision_score(["spam", "ham", "eggs"], ["spam", "ham", "ham"], pos_label="spam")
    acc = Binary(pos_label="spam")
    unchanged(acc, lambda: acc.update(["spam", "ham", "eggs"], ["spam", "ham", "ham"]), ValueError,
              r"labels \['spam', 'eggs', 'ham'\] but .* use Multiclass for more than two classes")
    unchanged(acc, lambda: acc.update(["spam", "ham"], ["eggs", "ham"]), ValueError, "eggs")  # y_pred counts too
    acc.update(["spam", "ham"], ["ham", "ham"])
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(["spam", "ham"], ["ham", "ham"],
                                                                    labels=["ham", "spam"]).tolist()


@pytest.mark.parametrize("make", [lambda: Binary(bins=10), lambda: Binary(exact=True)], ids=["bins", "exact"])
def test_log_loss_clips_at_the_scores_own_eps(make):
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.0, 1.0, 0.5, 1.0, 0.25], dtype=np.float16)
    eps = float(np.finfo(np.float16).eps)
    clipped = np.clip(np.where(y == 1, p.astype(np.float64), 1 - p.astype(np.float64)), eps, 1 - eps)
    acc = make()
    acc.update(y, p)
    assert acc.log_loss() == pytest.approx(-np.mean(np.log(clipped)), rel=1e-12)
    assert acc.log_loss() == pytest.approx(skm.log_loss(y, p), rel=1e-3)  # sklearn computes in float16
    tensor = make()
    tensor.update(torch.as_tensor(y), torch.as_tensor(p))
    assert tensor.log_loss() == acc.log_loss()


# --- 4. thresholds and bin edges meet scores in the scores' dtype --------------------------------


FLOATS = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


@given(st.sampled_from(list(FLOATS)), st.lists(st.floats(0, 1), min_size=1, max_size=40),
       st.one_of(st.floats(0.001, 0.999), st.sampled_from([0.1, 0.3, 0.7, 0.9, 0.35])), st.booleans())
@settings(max_examples=150)
def test_thresholds_compare_as_numpy_compares_in_the_scores_dtype(dtype, values, threshold, inclusive):
    scores = np.array(values, dtype=FLOATS[dtype])
    scores[0] = FLOATS[dtype](threshold)  # the score a threshold rounds to, in the scores' dtype
    y = np.arange(len(scores)) % 2
    predicted = (scores >= threshold) if inclusive else (scores > threshold)  # NEP 50: in the scores' dtype
    expected = skm.confusion_matrix(y, predicted.astype(int), labels=[0, 1]).tolist()
    binary = Binary(threshold, inclusive=inclusive)
    binary.update(y, scores)
    assert binary.confusion_matrix().tolist() == expected
    multilabel = Multilabel(1, threshold, inclusive=inclusive)
    multilabel.update(y[:, None], scores[:, None])
    assert multilabel.confusion_matrix()[0].tolist() == expected


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_thresholds_compare_as_torch_compares_its_tensors(dtype):
    rng = np.random.default_rng(3)
    values = torch.as_tensor(np.r_[rng.random(500), [0.7, 0.3, 0.6999, 0.7001]]).to(dtype)
    y = torch.as_tensor(rng.integers(0, 2, len(values)))
    for threshold in (0.7, 0.3, 0.6999, 0.5):
        acc = Binary(threshold)
        acc.update(y, values)
        expected = skm.confusion_matrix(y.numpy(), (values >= threshold).numpy().astype(int), labels=[0, 1])
        assert acc.confusion_matrix().tolist() == expected.tolist(), (dtype, threshold)


def test_the_issue_case_float32_point_seven():
    s = np.array([0.7], dtype=np.float32)
    assert (s >= 0.7).all()  # numpy's idiom
    for acc in (Binary(0.7), Binary(0.7, bins=10), Binary(0.7, exact=True), Binary(0.7, bootstrap=2)):
        acc.update([1], s)
        assert acc.confusion_matrix().tolist() == [[0, 0], [0, 1]]


def _awkward(edges64, dtype, rng, n=300):
    """Rounded edges, their neighbours in dtype, and random scores around them, all in dtype."""
    rounded = edges64.astype(dtype)
    finite = rounded[np.isfinite(rounded)]
    near = np.concatenate([finite, np.nextafter(finite, dtype(-np.inf)), np.nextafter(finite, dtype(np.inf))])
    span = float(edges64[-1] - edges64[0]) or 1.0
    random = rng.uniform(edges64[0] - span / 4, edges64[-1] + span / 4, n).astype(dtype)
    scores = np.concatenate([near, random])
    return scores[np.isfinite(scores)]


@given(st.sampled_from(list(FLOATS)), st.integers(1, 6000), st.floats(-1e4, 1e4), st.floats(1e-6, 1e4),
       st.booleans(), st.integers(0, 2**32 - 1))
@settings(max_examples=150)
def test_uniform_bins_equal_searchsorted_on_the_edges_rounded_to_the_scores_dtype(dtype, bins, lo, width,
                                                                                   inclusive, seed):
    """The cell arithmetic plus its correction (or, where the rounded edges crowd or collide, a
    search) puts every score where np.searchsorted on the dtype-rounded edges puts it."""
    score_range = (lo, lo + width)
    try:
        edges, uniform = _scores.make_edges(bins, score_range)
    except ValueError:  # edges closer than float64 tells apart: refused when the accumulator is made
        return
    scores = _awkward(edges, FLOATS[dtype], np.random.default_rng(seed))
    if score_range == (0.0, 1.0):  # the default range reads probabilities
        scores = scores[(scores >= 0) & (scores <= 1)]
    with np.errstate(over="ignore"):
        rounded = edges.astype(FLOATS[dtype])
    cells = np.searchsorted(rounded, scores, side="right" if inclusive else "left")
    acc = Multilabel(1, 0.0, inclusive=inclusive, bins=bins, score_range=score_range)
    acc.update(np.zeros((len(scores), 1), dtype=int), scores[:, None])
    assert np.array_equal(acc._hist[0, 0], np.bincount(cells, minlength=bins + 2))


@given(st.sampled_from(list(FLOATS)), st.lists(st.floats(-50, 50), min_size=1, max_size=30, unique=True),
       st.booleans(), st.integers(0, 2**32 - 1))
@settings(max_examples=100)
def test_explicit_bins_equal_searchsorted_on_the_edges_rounded_to_the_scores_dtype(dtype, edges, inclusive, seed):
    edges = np.unique(np.array(edges))
    scores = _awkward(edges, FLOATS[dtype], np.random.default_rng(seed))
    with np.errstate(over="ignore"):
        cells = np.searchsorted(edges.astype(FLOATS[dtype]), scores, side="right" if inclusive else "left")
    acc = Binary(0.0, inclusive=inclusive, bins=edges.tolist(), score_range=(-100, 100))
    acc.update(np.zeros(len(scores), dtype=int), scores)
    assert np.array_equal(acc._hist[0, 0], np.bincount(cells, minlength=len(edges) + 1))
    for t in edges.tolist():  # at every edge, the count of numpy's comparison with the edge (a Python float)
        above = (scores >= t) if inclusive else (scores > t)
        assert acc.at_threshold(t).confusion_matrix()[0, 1] == int(above.sum())


def test_colliding_rounded_edges_in_float16():
    acc = Binary(bins=5000)  # 1/5000 apart: float16 holds about 1/2048 near 1, so edges collide
    scores = np.linspace(0, 1, 4001).astype(np.float16)
    acc.update(np.zeros(len(scores), dtype=int), scores)
    rounded = np.linspace(0, 1, 5001).astype(np.float16)
    assert len(np.unique(rounded)) < len(rounded)
    cells = np.searchsorted(rounded, scores, side="right")
    assert np.array_equal(acc._hist[0, 0], np.bincount(cells, minlength=5002))


def test_an_exact_table_compares_in_float64_unless_given_a_float32_threshold():
    """Documented: the table keeps every score exactly; at_threshold compares a Python float in
    float64 (as numpy compares float64 scores); np.float32(t) compares as float32 scores do."""
    s = np.array([0.7, 0.2], dtype=np.float32)
    acc = Binary(exact=True)
    acc.update([1, 0], s)
    assert acc.at_threshold(0.7).confusion_matrix()[1, 1] == int((s.astype(np.float64) >= 0.7)[0])
    assert acc.at_threshold(np.float32(0.7)).confusion_matrix()[1, 1] == int((s >= np.float32(0.7))[0])


# --- 5. no half-applied update: every configuration against a corpus of bad batches ----------------


def _y(n=5):
    return np.array([0, 1, 1, 0, 1][:n])


P = np.array([0.1, 0.8, 0.6, 0.3, 0.9])
P3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3], [0.5, 0.25, 0.25]])


def _good(configuration) -> tuple:
    """Five valid samples of a plain registered configuration (tests/helpers.py CONFIGURATIONS), of
    its input kind; sample 3 is counted (never ignored), and cell [3, 1] exists."""
    layout, kind = layout_of(configuration.make()), configuration.batches
    picks, guesses = _y(), np.array([0, 1, 0, 0, 1])
    if kind in ("scores", "labels", "text"):
        pool = np.array(binary_pool(layout.config))
        return pool[picks], P if kind == "scores" else pool[guesses]
    if kind in ("classes", "matrix"):
        labels = np.array(class_labels(layout))
        k = len(labels)
        y = labels[np.array([0, 1, 2, 1, 0]) % k]
        if kind == "classes":
            return y, labels[np.array([0, 2, 2, 1, 1]) % k]
        # probabilities of k classes, a different class ahead in each row
        return y, np.array([np.roll(np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))], i) for i in range(5)])
    if kind == "auto":
        return np.array(["x", "y", "x", "y", "x"]), np.array(["x", "x", "y", "z", "x"])
    if kind == "auto-mixed":
        labels = np.array(MIXED_LABELS, dtype=object)
        return labels[[0, 1, 2, 1, 0]], labels[[0, 0, 1, 2, 0]]
    n_labels = layout.config["num_labels"]
    cells = np.arange(5 * n_labels).reshape(5, n_labels)
    return (cells * 7 % 3 == 0).astype(int), np.round(cells * 0.37 % 1, 2)


def _replace(arr, index, value, dtype=None):
    out = np.array(arr, dtype=dtype if dtype is not None else (object if isinstance(value, str) else None))
    if out.dtype.kind in "iu" and isinstance(value, float):
        out = out.astype(np.float64)
    if out.dtype.kind in "US" and not isinstance(value, str):  # a string array would hold NaN as "n"
        out = out.astype(object)
    out[index] = value
    return out


def _bad_batches(configuration, acc):
    """(case, y_true, y_pred, sample_weight, exception, regex naming the argument and position)."""
    kind = configuration.batches
    y, p = _good(configuration)
    w = np.ones(len(y)) if acc.weighted else None
    at = (3, 1) if np.ndim(p) == 2 else 3
    where = r"\[3, 1\]" if np.ndim(p) == 2 else r"\[3\]"
    true_at = r"\[3, 1\]" if np.ndim(y) == 2 else r"\[3\]"
    # a label that is no class (none for text, whose other labels are negatives, nor for auto labels)
    bad_label = None if kind in ("text", "auto", "auto-mixed") else 7
    if kind in ("classes", "matrix"):
        labels = class_labels(layout_of(acc))
        bad_label = "zzz" if all(isinstance(c, str) for c in labels) else max(labels) + 1
    cases = [("length", y, p[:4], w, ValueError, r"^y_pred has 4 samples but y_true has 5"),
             ("y_pred 3-d", y, p.reshape(5, 1, -1), w, ValueError, r"^y_pred has shape \(5, 1, ")]
    shown = re.escape(repr(bad_label))
    bad_true, bad_pred = rf"^y_true{true_at} = {shown} is not", rf"^y_pred\[3\] = {shown} is not"
    if isinstance(acc, Binary) and acc.pos_label != 1:  # a third label is a fault of the batch, not of one argument
        bad_true = bad_pred = rf"^this batch holds the labels \[.*{shown}\] but Binary\(pos_label="
    if bad_label is not None:
        cases.append(("bad y_true", _replace(y, (3, 1) if np.ndim(y) == 2 else 3, bad_label), p, w, ValueError,
                      bad_true))
    if kind in ("labels", "classes"):
        cases.append(("bad y_pred", y, _replace(p, 3, bad_label), w, ValueError, bad_pred))
        cases.append(("nan y_pred", y, _replace(p, 3, nan), w, ValueError, r"^y_pred\[3\] = nan is"))
    if kind in ("scores", "matrix", "multilabel"):
        for value in (nan, inf):
            cases.append((f"{value} score", y, _replace(p, at, value), w, ValueError, rf"^y_pred{where} = {value} is not"))
        if reads_probabilities(configuration):
            cases.append(("logit", y, _replace(p, at, 3.5), w, ValueError, rf"^y_pred{where} = 3\.5 is not a probability"))
        if acc.bins is not None or getattr(acc, "exact", False):
            cases.append(("int scores", y, (p > 0.5).astype(int), w, TypeError, r"^y_pred has dtype int"))
            cases.append(("bool scores", y, p > 0.5, w, TypeError, r"^y_pred has dtype bool"))
    if kind in ("text", "auto", "auto-mixed"):
        cases.append(("missing y_true", _replace(y, 3, None, object), p, w, ValueError, r"^y_true\[3\] = None is missing"))
        cases.append(("missing y_pred", y, _replace(p, 3, nan, object), w, ValueError, r"^y_pred\[3\] = nan is missing"))
    if kind in ("auto", "auto-mixed"):
        cases.append(("unhashable", y, _replace(p, 3, [1], object), w, TypeError, r"^y_pred\[3\] = \[1\] is not a label"))
        if acc.max_labels == 4:
            cases.append(("max_labels", y, np.array(["a", "b", "c", "d", "e"]), w, ValueError, r"more than max_labels=4"))
    if acc.weighted:
        for value in (-2.0, nan, inf):
            cases.append((f"weight {value}", y, p, _replace(w, 3, value), ValueError,
                          rf"^sample_weight\[3\] = {value} is not a valid weight"))
        cases.append(("weights sum to inf", y, p, np.full(len(y), 1e308), OverflowError, r"sample_weight|would take"))
    else:
        cases.append(("weights", y, p, np.ones(len(y)), ValueError, r"^sample_weight was given to an unweighted"))
    if getattr(acc, "max_distinct", None) == 6:
        cases.append(("compaction warning", _y(5), np.array([0.11, 0.12, 0.13, 0.14, 0.15]), w, UserWarning,
                      r"max_distinct=6"))
    return cases


def _case_names(configuration) -> list[str]:
    return [case[0] for case in _bad_batches(configuration, configuration.make())]


@pytest.mark.configs(where=is_plain, each=_case_names)
def test_a_failed_update_changes_nothing(configuration, case):
    acc = configuration.make()
    y, p = _good(configuration)
    acc.update(y, p, np.ones(len(y)) if acc.weighted else None)
    acc.update(y, p, np.ones(len(y)) if acc.weighted else None)
    (_, y_true, y_pred, w, exc, match), = [c for c in _bad_batches(configuration, acc) if c[0] == case]
    if exc is OverflowError and match == r"sample_weight|would take":
        match = r"would take the total of _\w+ past the largest float64"
    unchanged(acc, lambda: acc.update(y_true, y_pred, w), exc, match)
    if acc.bootstrap is not None:  # a refused batch draws no replicate: the next valid one draws as if it never came
        twin = configuration.make()
        for _ in range(3):
            twin.update(y, p)
        acc.update(y, p)
        assert acc.to_bytes() == twin.to_bytes()


@pytest.mark.configs(where=is_plain)
def test_counts_past_max_count_are_refused_before_anything_is_counted(configuration, monkeypatch):
    acc = configuration.make()
    y, p = _good(configuration)
    if acc.weighted:  # float64 sums have no limit to lower: weights whose sum is inf
        acc.update(y, p, np.ones(len(y)))
        unchanged(acc, lambda: acc.update(y, p, np.full(len(y), 1e308)), OverflowError,
                  r"would take the total of _\w+ past the largest float64")
        return
    acc.update(y, p)
    monkeypatch.setattr(streameval.limits, "MAX_COUNT", acc.n_samples + 4)  # one sample short of this batch
    unchanged(acc, lambda: acc.update(y, p), OverflowError, r"would take the total of _\w+ past streameval.limits.MAX_COUNT")


def test_a_score_matrix_of_integers_or_booleans_is_refused_before_the_confusion_matrix():
    """The issue's case: Multiclass(3, bins=10) counted the matrix and histograms of an int score
    matrix, then failed in the calibration sums, leaving n_samples and the Brier score wrong."""
    acc = Multiclass(3, bins=10)
    acc.update([0, 1], P3[:2])
    for scores in (np.eye(3, dtype=int)[[0, 1]], np.eye(3, dtype=bool)[[0, 1]]):
        unchanged(acc, lambda: acc.update([0, 1], scores), TypeError, r"needs float scores")
    assert acc.n_samples == 2
    assert acc.brier_score() == pytest.approx(skm.brier_score_loss([1, 0, 0, 0, 1, 0], P3[:2].ravel()) * 3, rel=1e-12)
    plain = Multiclass(3)  # argmax of booleans or integers needs no probability
    plain.update([0, 1, 2], np.eye(3, dtype=bool)[[0, 2, 2]])
    assert plain.confusion_matrix().tolist() == skm.confusion_matrix([0, 1, 2], [0, 2, 2]).tolist()


def test_compaction_warning_under_simplefilter_error_then_compaction():
    acc = Binary(exact=True, max_distinct=8)
    acc.update(_y(4), np.array([0.1, 0.2, 0.3, 0.4]))
    many = np.linspace(0.01, 0.99, 20)
    y = np.arange(20) % 2
    unchanged(acc, lambda: acc.update(y, many), UserWarning, "max_distinct=8")
    with pytest.warns(UserWarning, match="max_distinct=8"):
        acc.update(y, many)
    assert not acc.is_exact and acc.n_samples == 24
    lower, upper = acc.roc_auc_bounds()
    assert lower <= skm.roc_auc_score(np.r_[_y(4), y], np.r_[[0.1, 0.2, 0.3, 0.4], many]) <= upper


def test_a_merge_whose_table_compacts_changes_nothing_when_the_warning_raises():
    a, b = Binary(exact=True, max_distinct=8), Binary(exact=True, max_distinct=8)
    a.update(_y(4), np.array([0.1, 0.2, 0.3, 0.4]))
    b.update(_y(4), np.array([0.5, 0.6, 0.7, 0.8]))
    b.update(_y(2), np.array([0.55, 0.65]))
    unchanged(a, lambda: a.merge(b), UserWarning, "max_distinct=8")


def test_threaded_chunks_change_nothing_on_a_late_bad_sample():
    n = streameval._threads.PARALLEL_MIN + 10
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, n), rng.random(n)
    s[-3] = 1.25
    for acc in (Binary(), Binary(bins=16), Binary(weighted=True)):
        acc.update(y[:10], s[:10], np.ones(10) if acc.weighted else None)
        unchanged(acc, lambda: acc.update(y, s, np.ones(n) if acc.weighted else None), ValueError,
                  rf"^y_pred\[{n - 3}\] = 1\.25 is not a probability")


# --- 6. sums that would overflow ----------------------------------------------------------------


def test_weights_that_would_reach_inf_are_refused():
    """The issue's case, weights of 1e308 twice; with calibration sums (a log loss term of up to
    36 per unit of weight) a single such weight is refused."""
    for acc in (Binary(weighted=True), Multiclass(2, weighted=True), Multiclass(labels="auto", weighted=True)):
        acc.update([1, 0], [1, 0], [1e308, 1.0])
        unchanged(acc, lambda: acc.update([1, 0], [1, 0], [1e308, 1.0]), OverflowError, "largest float64")
        assert np.isfinite(acc.n_samples) and acc.n_samples == 1e308 + 1.0
    for acc in (Binary(bins=4, weighted=True), Binary(exact=True, weighted=True)):
        unchanged(acc, lambda: acc.update([1, 0], [0.9, 0.1], [1e308, 1.0]), OverflowError, "total of _calib")
        acc.update([1, 0], [0.9, 0.1], [1e300, 1.0])
        assert np.isfinite(acc.log_loss())


def test_huge_scores_on_an_explicit_range_are_refused_before_their_sums_overflow():
    acc = Binary(0.0, bins=4, score_range=(-1e307, 1e307))
    acc.update([1, 0], [5e307, -5e307])
    unchanged(acc, lambda: acc.update([1] * 8, [1e308] * 8), OverflowError, r"total of _score_sums")
    acc.update([1], [1e307])  # still room for this one
    assert np.isfinite(acc._score_sums).all() and np.isfinite(acc._calib).all()
    mc = Multiclass(2, bins=4, score_range=(-1e307, 1e307))
    unchanged(mc, lambda: mc.update([0] * 4, np.full((4, 2), 1e308)), OverflowError, r"total of _\w*sums")


# --- 7. labels="auto" is bounded ------------------------------------------------------------------


def test_max_labels_refuses_a_batch_that_brings_too_many_labels():
    acc = Multiclass(labels="auto", max_labels=5)
    acc.update([1, 2, 3], [1, 2, 3])
    unchanged(acc, lambda: acc.update([4, 5, 6], [4, 5, 6]), ValueError,
              r"bring 3 new labels \(\[4, 5, 6\]\) to the 3 .* more than max_labels=5: nothing was counted")
    acc.update([4, 5], [4, 5])
    assert acc.labels == (1, 2, 3, 4, 5)
    assert acc._config()["max_labels"] == 5 and "max_labels" not in Multiclass(labels="auto")._config()
    assert streameval.from_bytes(acc.to_bytes()) == acc
    with pytest.raises(ValueError, match=r"discovered holds 6 labels, more than max_labels=5"):
        Multiclass(labels="auto", max_labels=5, discovered=[1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match=r'max_labels=5 is for labels="auto"'):
        Multiclass(3, max_labels=5)
    a, b = Multiclass(labels="auto", max_labels=3), Multiclass(labels="auto", max_labels=3)
    a.update([1, 2], [1, 2])
    b.update([3, 4], [3, 4])
    unchanged(a, lambda: a.merge(b), ValueError, r"are 4 together, more than max_labels=3; nothing was merged")


def test_a_configuration_whose_largest_state_passes_the_limit_is_refused_when_made():
    with pytest.raises(ValueError, match=r"max_labels=1000, bootstrap=300\) may grow to 2,408,000,000 bytes.*"
                                         r"lower max_labels or bootstrap, or raise the limit"):
        Multiclass(labels="auto", bootstrap=300)
    Multiclass(labels="auto", bootstrap=300, max_labels=500)
    with pytest.raises(ValueError, match=r"max_labels=100000\) may grow .* lower max_labels, or raise"):
        Multiclass(labels="auto", max_labels=100_000)


def test_twelve_thousand_labels_under_a_memory_cap():
    """The issue's case: 12,000 distinct labels took a 1.15 GB matrix. The default max_labels refuses
    them at once, well inside 200 MB of address space."""
    result = run_limited("""
        import numpy as np
        from streameval import Multiclass
        acc = Multiclass(labels="auto")
        labels = np.arange(12_000)
        try:
            acc.update(labels, labels)
        except ValueError as exc:
            assert "more than max_labels=1000" in str(exc), exc
            print("refused", acc.num_classes)
        for start in range(0, 1000, 100):  # up to the cap, batch by batch
            acc.update(labels[start:start + 100], labels[start:start + 100])
        print("grown", acc.num_classes, acc.n_samples)
    """, 200 << 20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused", "0", "grown", "1000", "1000"]


def test_a_long_text_label_takes_no_fixed_width_memory():
    """One 3,000-character label among 60,000 (a list, or an object array as pandas gives) would be
    720 MB as a numpy string array, each label as wide as the longest."""
    result = run_limited("""
        import numpy as np
        from streameval import Binary, Multiclass
        n = 60_000
        names = ["cat", "dog", "owl"]
        y = [names[i % 3] for i in range(n)]
        p = [names[(i * 7) % 3] for i in range(n)]
        long = "x" * 3000
        y[n // 2] = long
        yb, pb = (["cat" if v == "cat" else long for v in labels] for labels in (y, p))  # pos_label and one other
        for y_true, y_pred, y_bin, p_bin in ((y, p, yb, pb), tuple(np.array(a, dtype=object) for a in (y, p, yb, pb))):
            auto = Multiclass(labels="auto")
            auto.update(y_true, y_pred)
            fixed = Multiclass(labels=names + [long])
            fixed.update(y_true, y_pred)
            binary = Binary(pos_label="cat")
            binary.update(y_bin, p_bin)
            assert auto.n_samples == fixed.n_samples == binary.n_samples == n
        print("ok", auto.num_classes, int(auto.confusion_matrix()[3].sum()))
    """, 150 << 20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "4", "1"]


# --- 8. clear errors instead of tracebacks ----------------------------------------------------------


@pytest.mark.parametrize("make, match", [
    (lambda: Multiclass(3, ignore_index=2**70), r"^ignore_index=1180591620717411303424 is not valid"),
    (lambda: Multiclass(labels=["a", "b"], ignore_index=-(2**64)), r"^ignore_index=-18446744073709551616 is not"),
    (lambda: Multiclass(2**70), r"needs \d[\d,]* bytes of count state"),
    (lambda: Multiclass(3, top_k=2**70), r"needs \d[\d,]* bytes of count state"),
    (lambda: Multiclass(3, bins=2**70), r"needs \d[\d,]* bytes of count state"),
    (lambda: Binary(bins=2**62), r"needs \d[\d,]* bytes of count state"),
    (lambda: Binary(exact=True, max_distinct=2**70), r"a full exact table: lower max_distinct"),
    (lambda: Multilabel(2**40), r"needs \d[\d,]* bytes of count state"),
    (lambda: Multiclass(labels="auto", max_labels=2**70), r"may grow to"),
    (lambda: Binary(bins=10**6, score_range=(1e15, 1e15 + 1)), r"too close for float64"),
    (lambda: Multiclass(np.int64(0)), r"^num_classes=0 is not valid"),
    (lambda: Binary(threshold=np.float64(nan)), r"^threshold=nan is not valid"),
    (lambda: Multiclass(labels="auto", max_labels=np.int64(-1)), r"^max_labels=-1 is not valid"),
])
def test_huge_or_odd_integer_arguments_get_a_clear_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_ignore_index_accepts_numpy_and_float_integers():
    for ignore in (np.int64(-100), -100.0):
        acc = Multiclass(3, ignore_index=ignore)
        assert acc.ignore_index == -100 and type(acc.ignore_index) is int
        acc.update(np.array([0, -100, 2]), np.array([0, 1, 2]))
        assert acc.n_samples == 2


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
def test_rows_ignore_index_skips_are_not_read(as_tensor):
    scores = np.array([[0.2, 0.8, 0.0], [nan, inf, -inf], [0.1, 0.1, 0.8]])
    y = np.array([1, -100, 2])
    if as_tensor:
        scores, y = torch.as_tensor(scores), torch.as_tensor(y)
    for acc in (Multiclass(3, ignore_index=-100), Multiclass(3, ignore_index=-100, bins=4, top_k=2),
                Multiclass(3, ignore_index=-100, weighted=True)):
        acc.update(y, scores)
        assert acc.confusion_matrix().tolist() == skm.confusion_matrix([1, 2], [1, 2], labels=[0, 1, 2]).tolist()


def test_messages_print_plain_numbers():
    acc = Binary(weighted=True)
    with pytest.raises(ValueError, match=r"^sample_weight\[1\] = -2\.0 is not a valid weight"):
        acc.update([0, 1], [0.1, 0.9], np.array([1.0, -2.0]))
    messages = []
    for call in (lambda: Multiclass(np.int64(-3)), lambda: Multiclass(3, top_k=np.int64(0)),
                 lambda: Binary(threshold=np.float32(inf)), lambda: Binary(inclusive=np.int8(1)),
                 lambda: Multiclass(3).update(np.array([0, 5]), np.array([0, 1])),
                 lambda: Binary().update(np.array([0, 1], np.int16), np.array([0.5, np.float32(2)], np.float32)),
                 lambda: Multiclass(labels=[np.int64(1), np.int64(1)])):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        messages.append(str(info.value))
    assert not [m for m in messages if "np." in m or "numpy" in m], messages


# --- siblings: odd arrays -------------------------------------------------------------------------


def test_zero_dimensional_inputs_are_refused_with_their_shape():
    for acc, y, p in ((Binary(), 1, 0.5), (Multiclass(3), 1, 1), (Multilabel(2), 1, 1)):
        unchanged(acc, lambda: acc.update(y, p), ValueError, r"^y_true has shape \(\)")
        unchanged(acc, lambda: acc.update(torch.tensor(y), torch.tensor(p)), ValueError, r"^y_true has shape \(\)")


def test_empty_batches_count_nothing_and_keep_their_checks():
    for acc, p in ((Multiclass(3, bins=4), np.zeros((0, 3))), (Multilabel(3, bins=4), np.zeros((0, 3))),
                   (Binary(bins=4), np.zeros(0))):
        y = np.zeros((0, 3), dtype=int) if isinstance(acc, Multilabel) else np.zeros(0, dtype=int)
        acc.update(y, p)
        assert acc.is_empty
        unchanged(acc, lambda: acc.update(y, p.astype(int)), TypeError, "float scores")
    unchanged(Multiclass(3), lambda: Multiclass(3).update(np.zeros(0), np.zeros((0, 4))), ValueError, "3 columns")


def test_strided_and_reversed_views_count_what_their_copies_count():
    rng = np.random.default_rng(5)
    y, s = rng.integers(0, 3, 400), rng.random((400, 3))
    s /= s.sum(axis=1, keepdims=True)
    views = [(y[::-2], s[::-2]), (y[::3], s[::3, :]), (y[:100], np.asfortranarray(s)[:100]),
             (y[::-1], s[::-1, ::-1])]
    for make in (lambda: Multiclass(3, bins=5, top_k=2), lambda: Multilabel(3, bins=5), lambda: Binary(bins=5),
                 lambda: Binary(exact=True), lambda: Multiclass(labels="auto")):
        for yv, sv in views:
            a, b = make(), make()
            if isinstance(a, Multilabel):
                yv = (sv > 0.3).astype(int)
            elif isinstance(a, Binary):
                yv, sv = yv % 2, sv[:, 0]
            elif a._auto:
                sv = yv[::-1]
            a.update(yv, sv)
            b.update(np.ascontiguousarray(yv), np.ascontiguousarray(sv))
            assert a.to_bytes() == b.to_bytes()
            ta, tb = make(), make()
            ta.update(torch.as_tensor(np.ascontiguousarray(yv)).flip(0).flip(0), torch.as_tensor(sv.copy()).t().t())
            tb.update(np.ascontiguousarray(yv), np.ascontiguousarray(sv))
            assert ta.to_bytes() == tb.to_bytes()


def test_object_arrays_of_numbers_and_long_doubles_are_numbers():
    y, p = [0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6]
    reference = Binary(bins=4)
    reference.update(y, p)
    for yv, pv in ((np.array(y, dtype=object), np.array(p, dtype=object)),
                   (np.array(y, dtype=np.int64), np.array(p, dtype=np.longdouble))):
        acc = Binary(bins=4)
        acc.update(yv, pv)
        assert acc == reference
    mc = Multiclass(2)
    mc.update(np.array([0, 1], dtype=object), np.array([[0.2, 0.8], [0.6, 0.4]], dtype=object))
    assert mc.confusion_matrix().tolist() == [[0, 1], [1, 0]]


def test_bool_predictions_are_labels_or_refused():
    acc = Binary()
    acc.update(np.array([True, False, True]), np.array([True, True, False]))
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix([1, 0, 1], [1, 1, 0]).tolist()
    tensor = Binary()
    tensor.update(torch.tensor([True, False, True]), torch.tensor([True, True, False]))
    assert tensor == acc
    for scored in (Binary(bins=4), Binary(exact=True), Multilabel(2, bins=4)):
        y = np.array([[1, 0]]) if isinstance(scored, Multilabel) else np.array([1])
        unchanged(scored, lambda: scored.update(y, y.astype(bool)), TypeError, "float scores")


def test_torch_tensors_that_need_care():
    acc, reference = Binary(bins=8), Binary(bins=8)
    y = torch.tensor([0, 1, 1, 0])
    s = torch.tensor([0.2, 0.7, 0.9, 0.4], requires_grad=True)
    acc.update(y, s * 1.0)
    reference.update(y.numpy(), s.detach().numpy())
    assert acc == reference
    scores = torch.stack([s, 1 - s], dim=1)  # requires grad: the general path reads it detached
    for made, truth in ((Multilabel(2, bins=4), torch.tensor([[0, 1], [1, 0], [1, 1], [0, 0]])),
                        (Multiclass(2, top_k=1), y)):
        detached = made.copy()
        made.update(truth, scores)
        detached.update(truth.numpy(), scores.detach().numpy())
        assert made == detached
    unchanged(acc, lambda: acc.update(y, torch.tensor([0.2, 1.7, 0.9, 0.4])), ValueError, r"y_pred\[1\] = 1\.7")
    mc = Multiclass(3, ignore_index=-100)
    mc.update(torch.tensor([0, -100]), torch.tensor([[0.9, 0.05, 0.05], [float("nan")] * 3]))
    assert mc.n_samples == 1


def test_huge_k_with_tiny_batches_allocates_nothing_of_the_matrix_size():
    """A (K, K) matrix of 2000 classes is 32 MB; an update of 8 samples must not allocate or copy
    anything of that size (no per-batch table, no copy for a check)."""
    acc = Multiclass(2000)
    y = np.arange(8)
    acc.update(y, y)  # the first update counts the matrix's total once
    tracemalloc.start()
    try:
        for _ in range(20):
            acc.update(y, y)
            acc.update(list(y), list(y))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak
    assert acc.n_samples == 8 * 41
