"""The worked examples of ../shared/reference/worked_examples.md, at full precision.

The expected values are the exact fractions the reference states (4/6, 250/350, ...), computed
here by Python's fractions, not numbers copied from our own output.
"""

from fractions import Fraction as F

import numpy as np
import pytest

import streameval


def _from_counts(cm):
    """Label arrays whose confusion matrix (rows true, columns predicted) is cm."""
    cm = np.asarray(cm)
    k = cm.shape[0]
    y_true = np.repeat(np.repeat(np.arange(k), k), cm.ravel())
    y_pred = np.repeat(np.tile(np.arange(k), k), cm.ravel())
    return y_true, y_pred


def _close(value, fraction):
    assert value == pytest.approx(float(fraction), rel=1e-12, abs=0)


def test_ten_sample_binary_example():
    acc = streameval.Binary()
    acc.update([1, 0, 1, 1, 0, 1, 0, 0, 1, 1], [1, 0, 1, 0, 0, 1, 0, 1, 1, 0])
    assert acc.confusion_matrix().tolist() == [[3, 1], [2, 4]]  # TN=3, FP=1, FN=2, TP=4
    _close(acc.recall(), F(4, 6))  # the article's 0.714 is wrong
    _close(acc.precision(), F(4, 5))
    _close(acc.f1(), F(8, 11))
    _close(acc.accuracy(), F(7, 10))
    _close(acc.specificity(), F(3, 4))


@pytest.mark.parametrize(
    "tp, tn, fp, fn, expected",
    [
        (250, 600, 100, 50, {"accuracy": F(850, 1000), "precision": F(250, 350), "recall": F(250, 300), "f1": F(500, 650)}),
        (80, 0, 10, 20, {"precision": F(80, 90), "recall": F(80, 100), "f1": F(160, 190)}),
    ],
)
def test_spam_filter_examples(tp, tn, fp, fn, expected):
    y_true, y_pred = _from_counts([[tn, fp], [fn, tp]])
    acc = streameval.Binary()
    acc.update(y_true, y_pred)
    for metric, value in expected.items():
        _close(getattr(acc, metric)(), value)


def test_cat_dog_rabbit():
    names = np.array(["Cat", "Dog", "Rabbit"])
    y_true, y_pred = _from_counts([[40, 5, 5], [10, 35, 5], [5, 5, 40]])
    acc = streameval.Multiclass(labels=list(names))
    # fed in three batches, as a stream
    for part in np.array_split(np.random.default_rng(0).permutation(150), 3):
        acc.update(names[y_true[part]], names[y_pred[part]])
    precision = [F(40, 55), F(35, 45), F(40, 50)]
    recall = [F(40, 50), F(35, 50), F(40, 50)]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]
    for ours, ref in ((acc.precision(average=None), precision), (acc.recall(average=None), recall), (acc.f1(average=None), f1)):
        for value, fraction in zip(ours, ref):
            _close(value, fraction)
    assert acc.support().tolist() == [50, 50, 50]
    for average in ("macro", "weighted"):  # equal supports: weighted == macro
        _close(acc.precision(average=average), sum(precision) / 3)
        _close(acc.recall(average=average), sum(recall) / 3)
        _close(acc.f1(average=average), sum(f1) / 3)
    for metric in ("precision", "recall", "f1"):
        _close(getattr(acc, metric)(average="micro"), F(115, 150))
    _close(acc.accuracy(), F(115, 150))
    # The article's "weighted precision" 0.767 weights by predicted count: that is micro, not weighted.
    assert acc.precision(average="weighted") != pytest.approx(float(F(115, 150)), abs=1e-4)


def test_digits_accuracy_whatever_the_errors():
    rng = np.random.default_rng(5)
    y_true = np.repeat(np.arange(10), 1000)
    y_pred = y_true.copy()
    wrong = rng.choice(10_000, 1000, replace=False)
    y_pred[wrong] = (y_true[wrong] + rng.integers(1, 10, 1000)) % 10
    acc = streameval.Multiclass(10)
    acc.update(y_true, y_pred)
    assert acc.accuracy() == 0.9


def test_threshold_rule():
    scores = [0.5, 0.7, 0.5, 0.2]
    y_true = [1, 1, 0, 0]
    inclusive, keras = streameval.Binary(0.5), streameval.Binary(0.5, inclusive=False)
    inclusive.update(y_true, scores)
    keras.update(y_true, scores)
    assert inclusive.confusion_matrix().tolist() == [[1, 1], [0, 2]]  # 0.5 counts as positive
    assert keras.confusion_matrix().tolist() == [[2, 0], [1, 1]]  # 0.5 counts as negative
