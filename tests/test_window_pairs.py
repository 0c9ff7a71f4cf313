"""Windowed's fused path for label pairs (streameval._window_pairs): the same counts, errors and
refusals as the general path (the wrapped accumulator's _count through a SlotView), and
scikit-learn's counts on the samples the window covers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix

from streameval import Binary, Multiclass, Windowed, _window_pairs, limits


REFUSED = -2  # a fused kernel's answer other than -1: the caller takes the general path


def _windows(template, unit, size, buckets):
    return Windowed(template, size, unit=unit, buckets=buckets)


@settings(max_examples=60, deadline=None)
@given(unit=st.sampled_from(["samples", "updates"]), buckets=st.integers(1, 5), width=st.integers(1, 7),
       sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12), ignore=st.booleans(), seed=st.integers(0, 99))
def test_fused_windows_equal_the_general_path_and_sklearn(unit, buckets, width, sizes, ignore, seed):
    rng = np.random.default_rng(seed)
    template = Multiclass(4, ignore_index=-1) if ignore else Multiclass(4)
    fused = _windows(template, unit, buckets * width, buckets)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_window_pairs, "count_pairs_ring", lambda *args: REFUSED)
        reference = _windows(template, unit, buckets * width, buckets)
    truth, predicted, batch_of = [], [], []
    for i, n in enumerate(sizes):
        y_true = rng.integers(-1 if ignore else 0, 4, n)
        y_pred = rng.integers(0, 4, n)
        before = _window_pairs.count_pairs_ring
        fused.update(y_true, y_pred)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_window_pairs, "count_pairs_ring", lambda *args: REFUSED)
            reference.update(y_true, y_pred)
        assert _window_pairs.count_pairs_ring is before
        assert fused == reference
        truth.append(y_true)
        predicted.append(y_pred)
        batch_of.append(np.full(n, i))
    y_true, y_pred, batches = np.concatenate(truth), np.concatenate(predicted), np.concatenate(batch_of)
    if unit == "samples":  # the current window: the last buckets' samples (the latest bucket may be partial)
        done = len(y_true)
        first = max(0, ((done - 1) // width - buckets + 1) * width) if done else 0
        covered = slice(first, done)
    else:
        updates = len(sizes)
        first_update = max(0, ((updates - 1) // width - buckets + 1) * width)
        covered = batches >= first_update
    kept = y_true[covered] != -1
    expected = (confusion_matrix(y_true[covered][kept], y_pred[covered][kept], labels=range(4)) if kept.any()
                else np.zeros((4, 4), np.int64))  # (sklearn refuses empty input)
    np.testing.assert_array_equal(fused.confusion_matrix(), expected)


@pytest.mark.parametrize("unit", ["samples", "updates"])
def test_a_bad_label_changes_nothing_and_names_the_sample_as_the_general_path_does(unit):
    rng = np.random.default_rng(1)
    window = Windowed(Binary(), 12, unit=unit, buckets=4)
    for _ in range(5):
        window.update(rng.integers(0, 2, 7), rng.integers(0, 2, 7))
    before = window.copy()
    y_true, y_pred = rng.integers(0, 2, 20), rng.integers(0, 2, 20)  # spans buckets, empties some
    y_pred[17] = 2
    with pytest.raises(ValueError, match=r"y_pred\[17\]"):
        window.update(y_true, y_pred)
    assert window == before
    window.update(y_true, y_pred % 2)  # and counts on
    assert window.n_samples > 0


LIMIT = limits.MAX_COUNT // 4  # a bucket's share of the bounds, in a ring of 4 buckets
MORE = np.zeros(1000, np.int64)  # past the float rounding of the general path's bounds (~2**60 / 2**52)


def test_a_bucket_that_would_pass_its_bound_is_refused_by_the_general_path():
    window = Windowed(Multiclass(3), 8000, buckets=4)  # buckets of 2000 samples
    window.update(np.array([0]), np.array([0]))  # bucket 0 (slot 0): fused
    window._storage.host("_cm")[0, 2, 2] = LIMIT - 1  # slot 0 now holds its share
    before = window.copy()
    with pytest.raises(OverflowError):
        window.update(MORE, MORE)  # into bucket 0: refused by the fused path, then by the general one
    assert window == before


def test_the_general_path_after_the_fused_one_reads_the_bounds_again():
    """The fused path counts without the view's per-slot bounds, so it drops the view: a batch it
    does not take (lists) then bounds its slot from the counts."""
    window = Windowed(Multiclass(3), 8000, buckets=4)
    window.update([0], [0])  # general (lists): makes the view, slot 0's bound known (1)
    window.update(np.array([1]), np.array([1]))  # fused: bucket 0 again
    assert "_counting" not in window.__dict__
    window._storage.host("_cm")[0, 2, 2] = LIMIT - 2  # slot 0 holds its share
    with pytest.raises(OverflowError):
        window.update(MORE.tolist(), MORE.tolist())  # general: bucket 0
    assert window._storage.host("_cm")[0].sum() == LIMIT


def test_other_windows_take_the_general_path(monkeypatch):
    calls = []
    kernel = _window_pairs.count_pairs_ring
    monkeypatch.setattr(_window_pairs, "count_pairs_ring", lambda *a: calls.append(1) or kernel(*a))
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.integers(0, 2, 30), rng.integers(0, 2, 30)
    callbacks = Windowed(Binary(), 10, buckets=2)
    callbacks.on_window(lambda metrics: None)
    others = [
        callbacks,
        Windowed(Multiclass(2, bootstrap=3, seed=0), 10, buckets=2),
        Windowed(Multiclass(2, weighted=True), 10, buckets=2),
        Windowed(Binary(), 10, unit="seconds", buckets=2),
    ]
    for window in others:
        window.update(y_true, y_pred)
    Windowed(Binary(bins=10), 10, buckets=2).update(y_true, y_pred / 2.0)  # score histograms
    named = Windowed(Multiclass(labels=["a", "b"]), 10, buckets=2)
    named.update(np.array(["a", "b"])[y_true], np.array(["a", "b"])[y_pred])
    assert calls == []
    Windowed(Binary(), 10, buckets=2).update(y_true, y_pred)
    assert calls == [1]
