"""from_logits=True: results equal scikit-learn on the sigmoid / softmax of the same logits; the
score contract (a probability default refuses scores outside [0, 1], naming from_logits=True)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import streameval
from streameval import Binary, InputError, Multiclass, Multilabel

from helpers import assert_same


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def softmax(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


logits_1d = st.lists(st.floats(-30, 30, allow_nan=False, width=32), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(logits_1d, min_size=1, max_size=4), st.integers(0, 2**32 - 1), st.sampled_from([0.5, 0.2, 0.9]))
def test_binary_stream_equals_sklearn_on_sigmoid(batches, seed, threshold):
    rng = np.random.default_rng(seed)
    acc = Binary(threshold, bins=10, from_logits=True)
    ys, xs = [], []
    for values in batches:
        x = np.array(values, dtype=np.float32)
        y = rng.integers(0, 2, len(x))
        acc.update(y, x)
        ys.append(y)
        xs.append(x)
    y, p = np.concatenate(ys), sigmoid(np.concatenate(xs))
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(y, p >= threshold, labels=[0, 1]).tolist()
    assert_same(acc.brier_score(), skm.brier_score_loss(y, p), False)
    x = np.concatenate(xs).astype(np.float64)  # the loss from the logits, stably (sklearn's would clip)
    assert_same(acc.log_loss(), np.mean(np.where(y == 1, np.logaddexp(0, -x), np.logaddexp(0, x))), False)
    fraction, mean = acc.calibration_curve(5)
    ref_fraction, ref_mean = __import__("sklearn.calibration").calibration.calibration_curve(y, p, n_bins=5)
    if not np.isin(p, np.linspace(0, 1, 6)).any():  # (a score on an edge is binned as documented)
        assert_same(fraction, ref_fraction, False)
        assert_same(mean, ref_mean, False)


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_equals_sklearn_on_softmax(weighted):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 5)) * 4
    y = rng.integers(0, 5, 600)
    w = rng.random(600) if weighted else None
    acc = Multiclass(5, bins=20, top_k=3, from_logits=True, weighted=weighted)
    for part in np.array_split(np.arange(600), 4):
        acc.update(y[part], x[part].astype(np.float32), None if w is None else w[part])
    p = softmax(x.astype(np.float32))
    assert_same(acc.confusion_matrix(), skm.confusion_matrix(y, x.astype(np.float32).argmax(1), sample_weight=w),
                not weighted)
    assert_same(acc.log_loss(), skm.log_loss(y, p, sample_weight=w), False, rtol=1e-9)
    assert_same(acc.brier_score(), skm.brier_score_loss(y, p, sample_weight=w, scale_by_half=False)
                if hasattr(skm, "brier_score_loss") and _multiclass_brier() else
                np.average(((p - np.eye(5)[y]) ** 2).sum(1), weights=w), False)
    assert_same(acc.accuracy(top_k=3), skm.top_k_accuracy_score(y, p, k=3, sample_weight=w), not weighted)


def _multiclass_brier() -> bool:
    try:
        skm.brier_score_loss([0, 1, 2], np.eye(3), scale_by_half=False)
    except (TypeError, ValueError):
        return False
    return True


def test_log_loss_is_stable_for_large_logits():
    acc = Binary(bins=4, from_logits=True)
    acc.update([0, 1], [800.0, -800.0])  # probabilities 1 and 0: a clipped loss would give 36 each
    assert acc.log_loss() == pytest.approx(800.0)
    mc = Multiclass(3, bins=4, from_logits=True)
    mc.update([2], [[900.0, 0.0, -100.0]])
    assert mc.log_loss() == pytest.approx(1000.0)


def test_multilabel_equals_sklearn_on_sigmoid():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 4)) * 3
    y = rng.integers(0, 2, (300, 4))
    acc = Multilabel(4, threshold=0.3, bins=[0.1, 0.3, 0.6], from_logits=True)
    acc.update(y, x)
    p = sigmoid(x)
    assert_same(acc.confusion_matrix(), skm.multilabel_confusion_matrix(y, p >= 0.3), True)
    assert_same(acc.f1(average="samples"), skm.f1_score(y, p >= 0.3, average="samples", zero_division=0), False)


def test_threshold_decided_on_the_float64_probability():
    # a float32 logit whose float64 sigmoid is just below / above 0.7: decided as the reference does
    x = np.float32(np.log(0.7 / 0.3))
    acc = Binary(0.7, from_logits=True)
    acc.update([1], np.array([x]))
    assert acc.confusion_matrix()[1, 1] == int(sigmoid(x) >= 0.7)


def test_argmax_of_logits_first_max_on_ties():
    acc = Multiclass(3, from_logits=True)
    acc.update([1, 2], [[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    assert acc.confusion_matrix().tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]


@pytest.mark.parametrize("make, y, x, index", [
    (lambda: Binary(from_logits=True), [0, 1, 1], [0.3, np.inf, np.nan], 1),
    (lambda: Multiclass(3, from_logits=True), [0, 1], [[0.0, 1.0, 2.0], [1.0, np.nan, 0.0]], (1, 1)),
    (lambda: Multiclass(3, bins=4, from_logits=True), [0, 1], [[0.0, 1.0, 2.0], [1.0, -np.inf, 0.0]], (1, 1)),
    (lambda: Multilabel(2, from_logits=True), [[0, 1], [1, 1]], [[0.0, 1.0], [np.nan, 0.0]], (1, 0)),
])
def test_non_finite_logit_is_named(make, y, x, index):
    acc = make()
    before = acc.to_bytes()
    with pytest.raises(InputError) as info:
        acc.update(np.array(y), np.array(x))
    assert info.value.argument == "y_pred" and info.value.index == index
    assert acc.to_bytes() == before


def test_ignored_rows_may_hold_any_logit():
    acc = Multiclass(3, from_logits=True, ignore_index=-100)
    acc.update([-100, 2], [[np.nan, 0.0, 0.0], [0.0, 0.0, 5.0]])
    assert acc.confusion_matrix()[2, 2] == 1


@pytest.mark.parametrize("make, y, x", [
    (lambda: Binary(), [0, 1], [0.2, 2.5]),
    (lambda: Binary(bins=5), [0, 1], [0.2, -1.0]),
    (lambda: Multiclass(2, bins=5), [0, 1], [[0.2, 0.8], [3.0, -1.0]]),
    (lambda: Multilabel(2), [[0, 1]], [[0.2, 4.0]]),
])
def test_scores_outside_unit_name_from_logits(make, y, x):
    with pytest.raises(InputError, match=r"from_logits=True.*score_range=") as info:
        make().update(np.array(y), np.array(x))
    assert info.value.argument == "y_pred"


def test_decision_scores_with_their_range_keep_working():
    acc = Binary(0.0, score_range=(-5, 5), bins=10)
    acc.update([0, 1, 1], [-2.0, 3.0, -0.5])
    assert acc.confusion_matrix().tolist() == [[1, 0], [1, 1]]


def test_configuration_carries_from_logits_only_when_set():
    assert "from_logits" not in Binary().to_dict()["config"]
    assert Multiclass(3, from_logits=True).to_dict()["config"]["from_logits"] is True
    for acc in (Binary(bins=4, from_logits=True), Multiclass(3, bins=4, from_logits=True),
                Multilabel(2, from_logits=True)):
        again = streameval.from_bytes(acc.to_bytes())
        assert again.from_logits and again == acc
    with pytest.raises(TypeError):
        Binary(from_logits=1)
    with pytest.raises(ValueError, match="from_logits"):
        Multiclass(labels="auto", from_logits=True)


def test_merge_of_logit_accumulators_equals_one_stream():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(200, 3)), rng.integers(0, 3, 200)
    a, b, whole = (Multiclass(3, bins=10, from_logits=True) for _ in range(3))
    a.update(y[:120], x[:120])
    b.update(y[120:], x[120:])
    whole.update(y, x)
    merged = a + b
    assert_same(merged.confusion_matrix(), whole.confusion_matrix(), True)
    assert_same(merged.log_loss(), whole.log_loss(), False)


def test_torch_logits():
    torch = pytest.importorskip("torch")
    x = torch.randn(64, 4)
    y = torch.randint(0, 4, (64,))
    acc = Multiclass(4, bins=10, from_logits=True)
    acc.update(y, x)
    p = torch.softmax(x.double(), 1).numpy()
    assert_same(acc.log_loss(), skm.log_loss(y.numpy(), p, labels=range(4)), False, rtol=1e-9)
    binary = Binary(from_logits=True)
    binary.update(torch.tensor([0, 1, 1]), torch.tensor([-1.0, 2.0, -0.1]))
    assert binary.confusion_matrix().tolist() == [[1, 0], [1, 1]]


def test_cli_from_logits(tmp_path, capsys):
    from streameval import cli

    path = tmp_path / "logits.csv"
    path.write_text("y,s\n1,2.0\n0,-1.5\n1,-0.2\n0,0.3\n")
    assert cli.main(["evaluate", str(path), "--y-true", "y", "--score", "s", "--from-logits", "--format", "json",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert '"accuracy": 0.5' in out
    assert cli.main(["evaluate", str(path), "--y-true", "y", "--score", "s", "--no-progress"]) == 1
    assert "--from-logits" in capsys.readouterr().err
