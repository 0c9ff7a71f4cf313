"""Parity with scikit-learn: random streams split into random batches, checked after every batch
against scikit-learn called once on all the data seen so far.

Every metric, every average and the drawn zero_division, with and without weights, for the three
accumulators. Unweighted values must be bit-identical (the same integer counts go through the same
float operations); weighted ones equal to 1e-12 relative (scikit-learn sums weights in another
order). average="samples" sums per-sample fractions in stream order, so it gets the tolerance too.
"""

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from helpers import assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

import streameval

ZERO_DIVISIONS = ["warn", 0.0, 1.0, np.nan]


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@st.composite
def streams(draw, min_classes=2, max_classes=6):
    """(seed, number of classes, batch sizes, weighted, sparse, zero_division)."""
    return (
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(min_classes, max_classes)),
        draw(st.lists(st.integers(0, 30), min_size=1, max_size=4)),
        draw(st.booleans()),
        draw(st.booleans()),  # sparse: a few classes only, so some are absent or never predicted
        draw(st.sampled_from(ZERO_DIVISIONS)),
    )


def _weights(rng, n, weighted):
    if not weighted:
        return None
    w = rng.uniform(0, 3, n)
    w[rng.random(n) < 0.1] = 0.0  # zero weights are valid
    if n:
        w[0] = 1.5  # scikit-learn refuses weights that are all zero
    return w


def _labels(rng, n, k, sparse):
    if sparse:
        present = rng.choice(k, size=max(1, k // 2), replace=False)
        return rng.choice(present, n)
    return rng.integers(0, k, n)


def _weighted_mean(values, support):
    """Support-weighted mean of per-class values, NaN excluded (the reference for
    specificity / npv / fpr, whose "weighted" average weights each class by its support)."""
    keep = ~np.isnan(values)
    if not keep.any():
        return np.nan
    if support[keep].sum() == 0:
        return np.mean(values[keep])
    return np.average(values[keep], weights=support[keep])


# --- reference: one-vs-rest identities for the metrics scikit-learn has no function for -------
#   specificity(c) = recall of "not c"       npv(c) = precision of "not c"
#   fpr(c) = recall of predicting c among the true "not c"     fnr(c) = recall of "not predicting c" among c


def _complement_refs(Yt, Yp, average, zd, w, support):
    calls = {
        "specificity": (skm.recall_score, 1 - Yt, 1 - Yp),
        "npv": (skm.precision_score, 1 - Yt, 1 - Yp),
        "fpr": (skm.recall_score, 1 - Yt, Yp),
        "fnr": (skm.recall_score, Yt, 1 - Yp),
    }
    out = {}
    for name, (fn, a, b) in calls.items():
        if average == "weighted":
            per_class = fn(a, b, average=None, zero_division=zd, sample_weight=w)
            out[name] = _weighted_mean(per_class, support)
        else:
            out[name] = fn(a, b, average=average, zero_division=zd, sample_weight=w)
    return out


def _onehot(y, k):
    return np.eye(k, dtype=np.int64)[y]


def check_multiclass(acc, yt, yp, w, k, zd, exact):
    if len(yt) == 0 or (w is not None and not w.any()):  # scikit-learn refuses empty input and all-zero weights
        assert acc.is_empty
        return
    labels = list(range(k))
    Yt, Yp = _onehot(yt, k), _onehot(yp, k)
    support = Yt.T @ (np.ones(len(yt)) if w is None else w)
    for average in (None, "micro", "macro", "weighted"):
        kw = dict(labels=labels, average=average, zero_division=zd, sample_weight=w)
        refs = {
            "precision": skm.precision_score(yt, yp, **kw),
            "recall": skm.recall_score(yt, yp, **kw),
            "f1": skm.f1_score(yt, yp, **kw),
            "fbeta(0.5)": skm.fbeta_score(yt, yp, beta=0.5, **kw),
            "fbeta(2)": skm.fbeta_score(yt, yp, beta=2, **kw),
            **_complement_refs(Yt, Yp, average, zd, w, support),
        }
        if not (isinstance(zd, float) and np.isnan(zd)):  # jaccard_score takes no NaN
            refs["jaccard"] = skm.jaccard_score(yt, yp, **kw)
        for name, ref in refs.items():
            ours = _call(acc, name, average, zd)
            # "weighted" references are rebuilt by numpy for the complement metrics: not bit-identical.
            assert_same(ours, ref, exact, f"{name} average={average} zd={zd}")
    assert_same(acc.accuracy(), skm.accuracy_score(yt, yp, sample_weight=w), exact, "accuracy")
    assert_same(acc.hamming_loss(), skm.hamming_loss(yt, yp, sample_weight=w), exact, "hamming")
    assert_same(acc.matthews_corrcoef(), skm.matthews_corrcoef(yt, yp, sample_weight=w), exact, "mcc")
    for adjusted in (False, True):
        ref = skm.balanced_accuracy_score(yt, yp, sample_weight=w, adjusted=adjusted)
        assert_same(acc.balanced_accuracy(adjusted=adjusted), ref, exact, f"balanced_accuracy {adjusted}")
    for weights in (None, "linear", "quadratic"):
        ref = skm.cohen_kappa_score(yt, yp, labels=labels, weights=weights, sample_weight=w)
        assert_same(acc.cohen_kappa(weights=weights), ref, exact, f"kappa {weights}")
    for normalize in (None, "true", "pred", "all"):
        ref = skm.confusion_matrix(yt, yp, labels=labels, sample_weight=w, normalize=normalize)
        assert_same(acc.confusion_matrix(normalize=normalize), ref, exact, f"confusion {normalize}")
    _check_report(acc, yt, yp, w, zd, labels=labels, target_names=[str(c) for c in acc.labels])
    assert_same(acc.support(), support, exact, "support")


def _call(acc, name, average, zd):
    if name.startswith("fbeta"):
        return acc.fbeta(float(name[6:-1]), average=average, zero_division=zd)
    return getattr(acc, name)(average=average, zero_division=zd)


def _check_report(acc, yt, yp, w, zd, **kw):
    # The text must match character for character, except where scikit-learn prints a float
    # support column: with weights (a float sum whose last digits depend on the order) and when
    # no prediction is right (its "pathological case" builds the counts from float zeros).
    any_right = np.any(np.asarray(yt) * np.asarray(yp) if np.ndim(yt) == 2 else np.asarray(yt) == np.asarray(yp))
    # The "samples avg" line is a mean of per-sample fractions summed in another order: it may
    # round differently in the last printed digit, and is compared in the dict below.
    for digits in (2, 4) if w is None and any_right else ():
        ref = skm.classification_report(yt, yp, sample_weight=w, zero_division=zd, digits=digits, **kw)
        ours = str(acc.report(digits=digits, zero_division=zd))
        assert _without_samples_avg(ours) == _without_samples_avg(ref)
    ref = skm.classification_report(yt, yp, sample_weight=w, zero_division=zd, output_dict=True, **kw)
    ours = acc.report(zero_division=zd).to_dict()
    assert ours.keys() == ref.keys()
    for key in ref:
        if isinstance(ref[key], dict):
            assert ours[key].keys() == ref[key].keys()
            for metric in ref[key]:
                assert_same(ours[key][metric], ref[key][metric], False, f"report {key} {metric}")
        else:
            assert_same(ours[key], ref[key], False, f"report {key}")


def _without_samples_avg(text):
    return [line for line in text.splitlines() if not line.strip().startswith("samples avg")]


def _stream(seed, sizes):
    rng = np.random.default_rng(seed)
    return rng, [(sum(sizes[:i]), sum(sizes[: i + 1])) for i in range(len(sizes))]


@given(streams())
def test_multiclass_stream(stream):
    seed, k, sizes, weighted, sparse, zd = stream
    rng, bounds = _stream(seed, sizes)
    n = bounds[-1][1]
    yt, yp = _labels(rng, n, k, sparse), _labels(rng, n, k, sparse)
    agree = rng.random(n) < 0.5  # make predictions better than chance
    yp[agree] = yt[agree]
    w = _weights(rng, n, weighted)
    acc = streameval.Multiclass(k, weighted=weighted)
    for lo, hi in bounds:
        acc.update(yt[lo:hi], yp[lo:hi], None if w is None else w[lo:hi])
        check_multiclass(acc, yt[:hi], yp[:hi], None if w is None else w[:hi], k, zd, exact=not weighted)


@given(streams())
def test_multiclass_scores_and_string_labels(stream):
    """(N, K) scores reduce by argmax; string labels and ignore_index map to the same counts."""
    seed, k, sizes, weighted, sparse, zd = stream
    rng, bounds = _stream(seed, sizes)
    n = bounds[-1][1]
    yt = _labels(rng, n, k, sparse)
    scores = rng.integers(0, 4, (n, k)).astype(np.float32)  # small integers: ties happen
    yp = scores.argmax(axis=1)
    names = np.array([f"class-{c}" for c in range(k)])
    ignored = rng.random(n) < 0.2
    yt_named = np.where(ignored, "void", names[yt])
    w = _weights(rng, n, weighted)
    acc = streameval.Multiclass(labels=list(names), ignore_index="void", weighted=weighted)
    for lo, hi in bounds:
        acc.update(yt_named[lo:hi], scores[lo:hi], None if w is None else w[lo:hi])
    keep = ~ignored
    check_multiclass(acc, yt[keep], yp[keep], None if w is None else w[keep], k, zd, exact=not weighted)


def test_ignore_index_integer_labels(rng):
    yt = rng.integers(0, 4, 500)
    yt[rng.random(500) < 0.3] = 255
    yp = rng.integers(0, 4, 500)
    yp[yt == 255] = 77  # predictions at ignored positions are never read
    acc = streameval.Multiclass(4, ignore_index=255)
    acc.update(yt.astype(np.uint8), yp)
    keep = yt != 255
    ref = skm.confusion_matrix(yt[keep], yp[keep], labels=range(4))
    assert (acc.confusion_matrix() == ref).all()


def check_binary(acc, yt, yp, w, zd, exact, target_names=("0", "1")):
    """yt, yp: 0/1 arrays after thresholding."""
    if len(yt) == 0 or (w is not None and not w.any()):  # scikit-learn refuses empty input and all-zero weights
        assert acc.is_empty
        return
    support = np.array([np.sum((yt == c) * (1 if w is None else w)) for c in (0, 1)], dtype=float)
    Yt, Yp = _onehot(yt, 2), _onehot(yp, 2)
    for average in ("binary", None, "micro", "macro", "weighted"):
        kw = dict(average=average, zero_division=zd, sample_weight=w)
        if average != "binary":
            kw["labels"] = [0, 1]
        refs = {
            "precision": skm.precision_score(yt, yp, **kw),
            "recall": skm.recall_score(yt, yp, **kw),
            "f1": skm.f1_score(yt, yp, **kw),
            "fbeta(2)": skm.fbeta_score(yt, yp, beta=2, **kw),
        }
        if not (isinstance(zd, float) and np.isnan(zd)):
            refs["jaccard"] = skm.jaccard_score(yt, yp, **kw)
        if average == "binary":
            comp = _complement_refs(Yt, Yp, None, zd, w, support)
            refs.update({name: value[1] for name, value in comp.items()})
        else:
            refs.update(_complement_refs(Yt, Yp, average, zd, w, support))
        for name, ref in refs.items():
            assert_same(_call(acc, name, average, zd), ref, exact, f"{name} average={average} zd={zd}")
    assert_same(acc.accuracy(), skm.accuracy_score(yt, yp, sample_weight=w), exact, "accuracy")
    assert_same(acc.matthews_corrcoef(), skm.matthews_corrcoef(yt, yp, sample_weight=w), exact, "mcc")
    ref = skm.cohen_kappa_score(yt, yp, labels=[0, 1], sample_weight=w)
    assert_same(acc.cohen_kappa(), ref, exact, "kappa")
    ref = skm.confusion_matrix(yt, yp, labels=[0, 1], sample_weight=w)
    assert_same(acc.confusion_matrix(), ref, exact, "confusion")
    _check_report(acc, yt, yp, w, zd, labels=[0, 1], target_names=list(target_names))


@given(streams(), st.sampled_from([0.5, 0.25, 0.75]), st.booleans())
def test_binary_scores_stream(stream, threshold, inclusive):
    seed, _, sizes, weighted, sparse, zd = stream
    rng, bounds = _stream(seed, sizes)
    n = bounds[-1][1]
    yt = rng.integers(0, 2, n) if not sparse else np.ones(n, dtype=np.int64)
    # Scores on a grid of quarters, so that some sit exactly on the threshold.
    scores = rng.integers(0, 5, n) / 4
    w = _weights(rng, n, weighted)
    acc = streameval.Binary(threshold, inclusive=inclusive, weighted=weighted)
    for lo, hi in bounds:
        acc.update(yt[lo:hi], scores[lo:hi], None if w is None else w[lo:hi])
        yp = (scores[:hi] >= threshold) if inclusive else (scores[:hi] > threshold)
        check_binary(acc, yt[:hi], yp.astype(np.int64), None if w is None else w[:hi], zd, exact=not weighted)


@given(streams())
def test_binary_labels_with_pos_label(stream):
    seed, _, sizes, weighted, _, zd = stream
    rng, bounds = _stream(seed, sizes)
    n = bounds[-1][1]
    names = np.array(["ham", "spam"])
    yt, yp = names[rng.integers(0, 2, n)], names[rng.integers(0, 2, n)]
    w = _weights(rng, n, weighted)
    acc = streameval.Binary(pos_label="spam", weighted=weighted)
    for lo, hi in bounds:
        acc.update(yt[lo:hi], yp[lo:hi], None if w is None else w[lo:hi])
    yt01, yp01 = (yt == "spam").astype(int), (yp == "spam").astype(int)
    check_binary(acc, yt01, yp01, w, zd, exact=not weighted, target_names=("not spam", "spam"))


def check_multilabel(acc, Yt, Yp, w, zd, exact):
    n, n_labels = Yt.shape
    if n == 0 or (w is not None and not w.any()):  # scikit-learn refuses empty input and all-zero weights
        assert acc.is_empty
        return
    support = Yt.T @ (np.ones(n) if w is None else w)
    for average in (None, "micro", "macro", "weighted", "samples"):
        kw = dict(average=average, zero_division=zd, sample_weight=w)
        refs = {
            "precision": skm.precision_score(Yt, Yp, **kw),
            "recall": skm.recall_score(Yt, Yp, **kw),
            "f1": skm.f1_score(Yt, Yp, **kw),
        }
        if average != "samples":
            refs["fbeta(0.5)"] = skm.fbeta_score(Yt, Yp, beta=0.5, **kw)
            refs.update(_complement_refs(Yt, Yp, average, zd, w, support))
        if not (isinstance(zd, float) and np.isnan(zd)):
            refs["jaccard"] = skm.jaccard_score(Yt, Yp, **kw)
        for name, ref in refs.items():
            same_order = exact and average != "samples"
            assert_same(_call(acc, name, average, zd), ref, same_order, f"{name} average={average} zd={zd}")
    if n == 0 or (w is not None and w.sum() == 0):
        return
    assert_same(acc.accuracy(), skm.accuracy_score(Yt, Yp, sample_weight=w), False, "subset accuracy")
    assert_same(acc.hamming_loss(), skm.hamming_loss(Yt, Yp, sample_weight=w), False, "hamming")
    ref = skm.multilabel_confusion_matrix(Yt, Yp, sample_weight=w)
    assert_same(acc.confusion_matrix(), ref, exact, "multilabel confusion")
    per_label = {
        "matthews_corrcoef": lambda a, b: skm.matthews_corrcoef(a, b, sample_weight=w_of(a)),
        "cohen_kappa": lambda a, b: skm.cohen_kappa_score(a, b, labels=[0, 1], sample_weight=w_of(a)),
    }

    def w_of(a):
        return None if w is None else (w if len(a) == n else np.tile(w, n_labels))

    for name, fn in per_label.items():
        values = np.array([fn(Yt[:, j], Yp[:, j]) for j in range(n_labels)])
        assert_same(getattr(acc, name)(average=None), values, exact, f"{name} per label")
        assert_same(getattr(acc, name)(average="micro"), fn(Yt.T.ravel(), Yp.T.ravel()), exact, f"{name} micro")
    _check_report(acc, Yt, Yp, w, zd)


@settings(max_examples=20)  # scikit-learn's multilabel checks are slow (~0.3 s per prefix)
@given(streams(min_classes=2, max_classes=5), st.booleans())  # sklearn reads one column as binary
def test_multilabel_stream(stream, as_scores):
    seed, n_labels, sizes, weighted, sparse, zd = stream
    rng, bounds = _stream(seed, sizes)
    n = bounds[-1][1]
    density = 0.15 if sparse else 0.5
    Yt = (rng.random((n, n_labels)) < density).astype(np.int64)
    scores = rng.random((n, n_labels))
    Yp = (scores >= 0.5).astype(np.int64)
    w = _weights(rng, n, weighted)
    acc = streameval.Multilabel(n_labels, weighted=weighted)
    for lo, hi in bounds:
        acc.update(Yt[lo:hi], scores[lo:hi] if as_scores else Yp[lo:hi], None if w is None else w[lo:hi])
        check_multilabel(acc, Yt[:hi], Yp[:hi], None if w is None else w[:hi], zd, exact=not weighted)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"])
def test_every_label_dtype(dtype, rng):
    yt, yp = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    acc = streameval.Multiclass(5)
    acc.update(yt.astype(dtype), yp.astype(dtype))
    acc.update(yt.astype(dtype)[::3], yp.astype(dtype)[::3])  # non-contiguous views
    ref = skm.confusion_matrix(np.r_[yt, yt[::3]], np.r_[yp, yp[::3]], labels=range(5))
    assert (acc.confusion_matrix() == ref).all()


def test_bool_and_list_inputs():
    acc = streameval.Binary()
    acc.update(np.array([True, False, True]), np.array([True, True, False]))
    acc.update([1, 0], [1, 0])
    ref = skm.confusion_matrix([1, 0, 1, 1, 0], [1, 1, 0, 1, 0], labels=[0, 1])
    assert (acc.confusion_matrix() == ref).all()


def test_array_protocol_and_dlpack_objects():
    class ArrayLike:  # what pandas Series and JAX arrays offer
        def __init__(self, data):
            self.data = np.asarray(data)

        def __array__(self, dtype=None, copy=None):
            return self.data

    class DLPackOnly:  # what a framework tensor offers without __array__
        def __init__(self, data):
            self.data = np.asarray(data)

        def __dlpack__(self, **kwargs):
            return self.data.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.data.__dlpack_device__()

    yt, yp = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    acc = streameval.Multiclass(3)
    acc.update(ArrayLike(yt), DLPackOnly(yp))
    assert (acc.confusion_matrix() == skm.confusion_matrix(yt, yp, labels=range(3))).all()


def test_threshold_rule_at_the_threshold():
    """A score exactly at the threshold is positive by default, negative with inclusive=False (Keras)."""
    scores = np.array([0.5, 0.5, 0.49, 0.51])
    yt = np.array([1, 0, 1, 0])
    inclusive, strict = streameval.Binary(0.5), streameval.Binary(0.5, inclusive=False)
    inclusive.update(yt, scores)
    strict.update(yt, scores)
    assert (inclusive.confusion_matrix() == skm.confusion_matrix(yt, scores >= 0.5, labels=[0, 1])).all()
    assert (strict.confusion_matrix() == skm.confusion_matrix(yt, scores > 0.5, labels=[0, 1])).all()


def test_large_batches_take_the_parallel_path_and_stay_exact(rng):
    """Batches of PARALLEL_MIN samples or more are split over threads: same counts, same errors."""
    from streameval._threads import PARALLEL_MIN

    n = PARALLEL_MIN + 17
    yt, yp = rng.integers(0, 7, n), rng.integers(0, 7, n)
    acc = streameval.Multiclass(7)
    acc.update(yt, yp)
    assert (acc.confusion_matrix() == np.bincount(yt * 7 + yp, minlength=49).reshape(7, 7)).all()
    before = acc.copy()
    yp[n - 3] = 7
    with pytest.raises(ValueError, match=rf"y_pred\[{n - 3}\] = 7 is not a class"):
        acc.update(yt, yp)
    assert acc == before
    binary = streameval.Binary(0.3)
    scores = rng.random(n).astype(np.float32)
    binary.update(yt % 2, scores)
    assert (binary.confusion_matrix() == skm.confusion_matrix(yt % 2, scores >= 0.3, labels=[0, 1])).all()


@given(streams(min_classes=1, max_classes=12), st.sampled_from([0.0, 1.0, "warn", np.nan]))
def test_compute_equals_the_metric_methods(stream, zero_division):
    """compute() takes a one-kernel fast path; its floats must be the methods' floats (exactly
    for integer counts), which the tests above tie to scikit-learn."""
    seed, k, sizes, weighted, sparse, _ = stream
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    w = _weights(rng, n, weighted)
    for acc in (streameval.Multiclass(k, weighted=weighted), streameval.Binary(weighted=weighted)):
        kk = 2 if isinstance(acc, streameval.Binary) else k
        acc.update(_labels(rng, n, kk, sparse), _labels(rng, n, kk, sparse), w)
        fast = acc.compute(zero_division=zero_division)
        slow = streameval.Accumulator.compute(acc, zero_division=zero_division)
        assert fast.keys() == slow.keys()
        for key in slow:
            if weighted:  # every value is a ratio of scale 1; kappa = 1 - x with x near 1 can sit at +-1e-16
                np.testing.assert_allclose(fast[key], slow[key], rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=key)
            else:
                assert_same(fast[key], slow[key], True, key)


def test_torch_tensors_are_read_in_place():
    """CPU tensors (also requiring grad, also bfloat16 scores) count like their numpy arrays."""
    torch = pytest.importorskip("torch")
    y_true = torch.tensor([0, 1, 2, 2, 1])
    logits = torch.tensor([[2.0, 0.1, 0.3], [0.2, 1.0, 0.1], [0.1, 0.2, 3.0], [1.0, 0.5, 0.2], [0.1, 0.9, 0.3]],
                          requires_grad=True)
    acc = streameval.Multiclass(3)
    acc.update(y_true, logits)
    acc.update(y_true, logits.argmax(dim=1))
    ref = skm.confusion_matrix(y_true.numpy(), logits.detach().numpy().argmax(axis=1), labels=range(3))
    assert (acc.confusion_matrix() == 2 * ref).all()
    binary = streameval.Binary(0.5)
    scores = torch.tensor([0.25, 0.75, 0.5, 1.0], dtype=torch.bfloat16)  # exact in bfloat16
    binary.update(torch.tensor([0, 1, 0, 1]), scores)
    assert binary.confusion_matrix().tolist() == [[1, 1], [0, 2]]
    binary.update(torch.tensor([0, 1]), np.array([0.2, 0.9]))  # a tensor and an array together
    assert binary.confusion_matrix().tolist() == [[2, 1], [0, 3]]
