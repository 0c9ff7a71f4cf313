"""Windowed and Decayed: windows equal fresh accumulators fed exactly the samples they cover,
decayed counts equal scikit-learn with the decayed weights, and merge, serialization and bad
input behave as the accumulators' do.

The references here follow the documented definitions directly (which sample indices, update
indices or times a window covers; which weight a sample has), not the bucket arithmetic.
"""

import json
import math
import pickle
import struct
import threading

import numpy as np
import pytest
from helpers import assert_same
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn import metrics as skm

import streameval
from streameval import (
    Binary,
    Decayed,
    IncompatibleError,
    InputError,
    Multiclass,
    Multilabel,
    SerializationError,
    Windowed,
    serialization,
)


class FakeClock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


@st.composite
def window_shapes(draw, max_size=12):
    """(size, buckets, step): buckets divides size, step None or a multiple of the width <= size."""
    size = draw(st.integers(1, max_size))
    buckets = draw(st.sampled_from([b for b in range(1, size + 1) if size % b == 0]))
    hop = draw(st.one_of(st.none(), st.integers(1, buckets)))
    return size, buckets, None if hop is None else hop * (size // buckets)


def covered_from(n, size, step):
    """First index of the current window after n units: [ceil(n / step) * step - size, n)."""
    return max(0, -(-n // step) * step - size)


def fed(template, *batch):
    fresh = template.copy()
    fresh.update(*batch)
    return fresh


def assert_same_metrics(ours: list[dict], theirs: list[dict], exact=True):
    """Lists of metric dicts alike: same keys in the same order, values equal (NaN equals NaN)."""
    assert [list(d) for d in ours] == [list(d) for d in theirs]
    assert_same([list(d.values()) for d in ours], [list(d.values()) for d in theirs], exact, "metrics")


def assert_window_is(window, reference):
    """Every count and the queries of the window equal the reference accumulator's: integer counts
    exactly, float sums (weights, per-sample sums, scores) to 1e-12, as they are added in another order."""
    snapshot = window.snapshot()
    exact = all(a.dtype.kind == "i" for a in reference._arrays())
    if exact:
        assert snapshot == reference
    for ours, theirs in zip(snapshot._arrays(), reference._arrays()):
        assert_same(ours, theirs, theirs.dtype.kind == "i", "state")
    assert_same(window.n_samples, reference.n_samples, exact, "n_samples")
    if reference.n_samples:
        assert_same_metrics([window.compute()], [reference.compute()], exact)


# --- windows equal fresh accumulators fed the covered samples -------------------------------------


@given(shape=window_shapes(), seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(0, 30), max_size=8))
def test_samples_window_is_a_fresh_multiclass_of_the_covered_samples(shape, seed, sizes):
    size, buckets, step = shape
    rng = np.random.default_rng(seed)
    window = Windowed(Multiclass(4), size, buckets=buckets, step=step)
    y_true, y_pred = np.empty(0, np.int64), np.empty(0, np.int64)
    for n in sizes:
        yt, yp = rng.integers(0, 4, (2, n))
        window.update(yt, yp)
        y_true, y_pred = np.r_[y_true, yt], np.r_[y_pred, yp]
        start = covered_from(len(y_true), size, step or size // buckets)
        assert_window_is(window, fed(Multiclass(4), y_true[start:], y_pred[start:]))


@pytest.mark.filterwarnings("ignore:Only one class is present", "ignore:All-NaN")
@given(shape=window_shapes(), seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(0, 25), max_size=6))
def test_weighted_binary_window_with_bins_is_a_fresh_accumulator_of_the_covered_samples(shape, seed, sizes):
    size, buckets, step = shape
    rng = np.random.default_rng(seed)
    template = Binary(weighted=True, bins=8)
    window = Windowed(template, size, buckets=buckets, step=step)
    y_true, scores, weights = np.empty(0, np.int64), np.empty(0), np.empty(0)
    for n in sizes:
        yt, sc, w = rng.integers(0, 2, n), rng.random(n), rng.random(n) * 3
        window.update(yt, sc, sample_weight=w)
        y_true, scores, weights = np.r_[y_true, yt], np.r_[scores, sc], np.r_[weights, w]
        start = covered_from(len(y_true), size, step or size // buckets)
        reference = fed(template, y_true[start:], scores[start:], weights[start:])
        assert_window_is(window, reference)
        if reference.n_samples:
            assert_same(window.roc_auc(), reference.roc_auc(), False, "roc_auc")


@given(shape=window_shapes(), seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(0, 6), max_size=14))
def test_updates_window_is_a_fresh_binary_of_the_covered_updates(shape, seed, sizes):
    size, buckets, step = shape
    rng = np.random.default_rng(seed)
    window = Windowed(Binary(), size, unit="updates", buckets=buckets, step=step)
    batches = []
    for n in sizes:
        batch = (rng.integers(0, 2, n), rng.random(n))
        window.update(*batch)
        batches.append(batch)
        start = covered_from(len(batches), size, step or size // buckets)
        covered = batches[start:]
        assert_window_is(window, fed(Binary(), np.concatenate([b[0] for b in covered]),
                                     np.concatenate([b[1] for b in covered])))


@given(shape=window_shapes(max_size=8), seed=st.integers(0, 2**32 - 1), origin=st.integers(-200, 200),
       moves=st.lists(st.tuples(st.integers(-12, 40), st.integers(0, 5),
                                st.sampled_from(["update", "clock", "advance"])),
                      max_size=12))
def test_seconds_window_is_a_fresh_accumulator_of_the_covered_times(shape, seed, origin, moves):
    size, buckets, step = shape
    width, step = size / buckets, float(step or size / buckets)
    rng = np.random.default_rng(seed)
    clock = FakeClock()
    # max_skew=None: the clock stands far behind the timestamps here, and only windows are tested
    window = Windowed(Multiclass(3), float(size), unit="seconds", buckets=buckets, step=step, max_skew=None,
                      clock=clock)
    records, latest = [], None  # (time, y_true, y_pred) of counted batches; the latest time
    t = float(origin)
    for delta, n, how in moves:
        t += delta / 4  # a quarter-second grid: times and their bucket boundaries are exact floats
        yt, yp = rng.integers(0, 3, (2, n))
        if how == "advance":
            window.advance(t)
            latest = t if latest is None else max(latest, t)
        else:
            clock.now = t if how == "clock" else -1e9  # the clock is read only without a timestamp
            kwargs = {} if how == "clock" else {"timestamp": t}
            # The ring holds the buckets floor(latest / width) - buckets + 1 .. floor(latest / width).
            if latest is not None and math.floor(t / width) <= math.floor(latest / width) - buckets:
                before = window.to_bytes()
                with pytest.raises(ValueError, match="timestamp=.* is older than the window"):
                    window.update(yt, yp, **kwargs)
                assert window.to_bytes() == before
                continue
            window.update(yt, yp, **kwargs)
            records.append((t, yt, yp))
            latest = t if latest is None else max(latest, t)
        end = (math.floor(latest / step) + 1) * step
        covered = [r for r in records if r[0] >= end - size]
        reference = Multiclass(3)
        for _, yt, yp in covered:
            reference.update(yt, yp)
        assert_window_is(window, reference)


@pytest.mark.filterwarnings("ignore:Only one class is present", "ignore:All-NaN")
def test_multilabel_window_is_a_fresh_accumulator_of_the_covered_samples(rng):
    window = Windowed(Multilabel(3, bins=5), 12, buckets=4, step=6)
    y_true, scores = np.empty((0, 3), np.int64), np.empty((0, 3))
    for n in [5, 0, 9, 1, 17, 3, 4]:
        yt, sc = rng.integers(0, 2, (n, 3)), rng.random((n, 3))
        window.update(yt, sc)
        y_true, scores = np.r_[y_true, yt], np.r_[scores, sc]
        start = covered_from(len(y_true), 12, 6)
        reference = fed(Multilabel(3, bins=5), y_true[start:], scores[start:])
        assert_window_is(window, reference)
        assert_same(window.f1(average="samples", zero_division=0.0), reference.f1(average="samples", zero_division=0.0),
                    False, "f1 samples")
        assert_same(window.roc_auc(), reference.roc_auc(), False, "roc_auc")


def test_text_labels_are_cut_at_bucket_boundaries():
    template = Multiclass(labels=["cat", "dog", "fox"], ignore_index="pad")
    window = Windowed(template, 4, buckets=2)
    window.update(["cat", "pad", "dog"], ["cat", "fox", "fox"])
    window.update(["fox", "dog", "pad", "cat"], ["fox", "dog", "cat", "dog"])  # n = 7: samples [4, 7)
    assert window.snapshot() == fed(template, ["dog", "pad", "cat"], ["dog", "cat", "dog"])


def test_queries_read_the_current_window_and_the_template_is_left_alone():
    template = Binary(threshold=0.3)
    window = Windowed(template, 2, unit="updates", buckets=2)
    accuracy = window.accuracy  # bound before the updates: still reads the current window
    window.update([1, 0], [0.9, 0.4])
    window.update([1], [0.1])
    window.update([0], [0.2])  # the window holds the last two updates
    assert accuracy() == 0.5 and window.n_samples == 2 and window.threshold == 0.3
    assert template.is_empty and window.snapshot().confusion_matrix().tolist() == [[1, 0], [1, 0]]
    with pytest.raises(AttributeError, match="no attribute 'nothing_like_this'"):
        _ = window.nothing_like_this
    with pytest.raises(AttributeError):
        _ = window._cm_hidden


# --- windows that close -------------------------------------------------------------------------


@pytest.mark.parametrize("size, buckets, step", [(6, 2, 6), (6, 3, 2), (6, 6, 4), (5, 5, None)])
def test_closed_sample_windows_are_reported_once_each_with_their_metrics(rng, size, buckets, step):
    window = Windowed(Multiclass(3), size, buckets=buckets, step=step)
    reports = []
    window.on_window(reports.append)
    y_true, y_pred = np.empty(0, np.int64), np.empty(0, np.int64)
    for n in [4, 0, 1, 13, 2, 7, 30]:
        yt, yp = rng.integers(0, 3, (2, n))
        window.update(yt, yp)
        y_true, y_pred = np.r_[y_true, yt], np.r_[y_pred, yp]
    k = step or size // buckets
    expected = []
    for end in range(k, len(y_true) + 1, k):  # every window [end - size, end) that has ended
        start = max(0, end - size)
        expected.append({**fed(Multiclass(3), y_true[start:end], y_pred[start:end]).compute(),
                         "window_start": start, "window_end": end})
    assert_same_metrics(reports, expected)


def test_closed_update_windows_skip_windows_that_counted_nothing(rng):
    window = Windowed(Binary(), 4, unit="updates", step=2)
    reports = []
    window.on_window(reports.append)
    batches = [(rng.integers(0, 2, n), rng.integers(0, 2, n)) for n in [3, 0, 0, 0, 0, 0, 2, 5, 1]]
    for batch in batches:
        window.update(*batch)
    expected = []
    for end in range(2, len(batches) + 1, 2):
        covered = batches[max(0, end - 4):end]
        reference = fed(Binary(), np.concatenate([b[0] for b in covered]), np.concatenate([b[1] for b in covered]))
        if reference.n_samples:
            expected.append({**reference.compute(), "window_start": max(0, end - 4), "window_end": end})
    assert [r["window_end"] for r in reports] == [2, 4, 8]
    assert_same_metrics(reports, expected)


@given(shape=window_shapes(max_size=8), seed=st.integers(0, 2**32 - 1),
       steps=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 4), st.booleans()), max_size=12))
def test_closed_time_windows_are_the_windows_that_ended(shape, seed, steps):
    size, buckets, step = shape
    step = float(step or size / buckets)
    rng = np.random.default_rng(seed)
    window = Windowed(Multiclass(3), float(size), unit="seconds", buckets=buckets, step=step)
    reports = []
    window.on_window(reports.append)
    records, t = [], 1000.0
    for delta, n, advance in steps:
        t += delta / 4  # in time order: every batch is counted
        if advance:
            window.advance(t)
        else:
            yt, yp = rng.integers(0, 3, (2, n))
            window.update(yt, yp, timestamp=t)
            records.append((t, yt, yp))
    expected = []
    end = step * math.ceil(1000.0 / step)
    while end <= t:  # a window closes once a time at or past its end arrives
        inside = [r for r in records if end - size <= r[0] < end]
        reference = Multiclass(3)
        for _, yt, yp in inside:
            reference.update(yt, yp)
        if reference.n_samples:
            expected.append({**reference.compute(), "window_start": end - size, "window_end": end})
        end += step
    assert_same_metrics(reports, expected)


def test_callbacks_run_in_order_after_the_update_and_may_query_the_window():
    window = Windowed(Multiclass(2), 2, step=2)
    seen = []
    window.on_window(lambda m: seen.append(("first", m["window_end"], window.n_samples)))
    assert window.on_window(lambda m: seen.append(("second", m["window_end"]))) is not None
    window.update([0, 1, 1, 0, 1], [0, 1, 0, 0, 1])  # closes [0, 2) and [2, 4)
    assert seen == [("first", 2, 1), ("second", 2), ("first", 4, 1), ("second", 4)]
    assert window.copy()._callbacks == () and streameval.from_bytes(window.to_bytes())._callbacks == ()


def test_a_fake_clock_drives_the_time_window():
    clock = FakeClock(100.0)
    window = Windowed(Binary(), 10, unit="seconds", buckets=5, step=10, clock=clock)
    ends = []
    window.on_window(lambda m: ends.append((m["window_start"], m["window_end"], m["recall"])))
    window.update([1, 1], [1, 0])  # counted at clock() = 100
    clock.now = 105.5
    window.update([1], [1])
    assert window.n_samples == 3 and ends == []
    clock.now = 117.0
    window.advance()  # closes [100, 110) without counting; the window [110, 120) is empty
    assert ends == [(100.0, 110.0, 2 / 3)] and window.n_samples == 0
    window.advance(50.0)  # earlier than the latest time: nothing changes
    assert window.n_samples == 0
    decayed = Decayed(Binary(), 2.0, unit="seconds", clock=clock)
    decayed.update([1, 0], [1, 1])
    clock.now += 4.0
    decayed.advance()
    assert decayed.n_samples == 0.5 and decayed.precision() == 0.5


# --- decay equals scikit-learn with the decayed weights -------------------------------------------


def check_decayed_against_sklearn(decayed, labels, y_true, y_pred, weights):
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels, sample_weight=weights)
    assert_same(decayed.confusion_matrix(), cm, False, "confusion matrix")
    assert_same(decayed.n_samples, weights.sum(), False, "n_samples")
    kwargs = {"labels": labels, "sample_weight": weights, "zero_division": 0.0}
    assert_same(decayed.accuracy(), skm.accuracy_score(y_true, y_pred, sample_weight=weights), False, "accuracy")
    for average in (None, "macro", "weighted", "micro"):
        assert_same(decayed.f1(average=average, zero_division=0.0),
                    skm.f1_score(y_true, y_pred, average=average, **kwargs),
                    False, f"f1 {average}")
        assert_same(decayed.precision(average=average, zero_division=0.0),
                    skm.precision_score(y_true, y_pred, average=average, **kwargs), False, f"precision {average}")
    # MCC subtracts products of totals: the decayed counts (multiplied by a factor at every update,
    # one rounding each) and scikit-learn's directly computed weights differ by a few ulps, which
    # that cancellation amplifies (seen: 5e-12 relative with weights spanning 2**17).
    assert_same(decayed.matthews_corrcoef(), skm.matthews_corrcoef(y_true, y_pred, sample_weight=weights), False,
                "mcc", rtol=1e-10)


@pytest.mark.parametrize("half_life", [0.7, 10.0, 123.0])
def test_decay_per_sample_matches_sklearn_weights(rng, half_life):
    decayed = Decayed(Multiclass(4, weighted=True), half_life)
    y_true, y_pred, user = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    for n in [7, 0, 30, 1, 120, 12]:
        yt, yp, w = rng.integers(0, 4, n), rng.integers(0, 4, n), rng.random(n) * 2
        decayed.update(yt, yp, sample_weight=w)
        y_true, y_pred, user = np.r_[y_true, yt], np.r_[y_pred, yp], np.r_[user, w]
        age = np.arange(len(y_true))[::-1]  # sample i of N: N - 1 - i samples came after it
        check_decayed_against_sklearn(decayed, list(range(4)), y_true, y_pred, user * 0.5 ** (age / half_life))


def test_decay_per_update_matches_sklearn_weights(rng):
    decayed = Decayed(Binary(), 3.0, unit="updates")
    batches = [(rng.integers(0, 2, n), rng.integers(0, 2, n)) for n in [5, 0, 9, 3, 1, 20, 4]]
    for m, batch in enumerate(batches, 1):
        decayed.update(*batch)
        weights = np.concatenate([np.full(len(b[0]), 0.5 ** ((m - 1 - u) / 3.0)) for u, b in enumerate(batches[:m])])
        y_true, y_pred = (np.concatenate([b[i] for b in batches[:m]]) for i in (0, 1))
        check_decayed_against_sklearn(decayed, [0, 1], y_true, y_pred, weights)
        reference = skm.recall_score(y_true, y_pred, sample_weight=weights, zero_division=0.0)
        assert_same(decayed.recall(), reference, False, "recall")


@pytest.mark.filterwarnings("ignore:A single label was found")
@given(seed=st.integers(0, 2**32 - 1), times=st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=10),
       half_life=st.floats(0.5, 30))
def test_decay_in_time_matches_sklearn_weights_in_any_order(seed, times, half_life):
    # Weights below 2**-12 of the largest make MCC ill-conditioned (it then hangs on terms near the
    # rounding of the large ones), whatever computes it: keep the comparison meaningful.
    assume(max(times) - min(times) <= 12 * half_life)
    rng = np.random.default_rng(seed)
    decayed = Decayed(Multiclass(3, weighted=True), half_life, unit="seconds")
    y_true, y_pred, stamps, user = [], [], [], []
    for t in times:
        n = int(rng.integers(1, 6))
        yt, yp, w = *rng.integers(0, 3, (2, n)), rng.random(n)
        decayed.update(yt, yp, sample_weight=w, timestamp=t)
        y_true += list(yt)
        y_pred += list(yp)
        user += list(w)
        stamps += [t] * n
    weights = np.array(user) * 0.5 ** ((max(times) - np.array(stamps)) / half_life)
    check_decayed_against_sklearn(decayed, [0, 1, 2], np.array(y_true), np.array(y_pred), weights)


def test_decayed_multilabel_samples_average_matches_sklearn(rng):
    decayed = Decayed(Multilabel(3), 4.0)
    y_true, y_pred = rng.integers(0, 2, (25, 3)), rng.integers(0, 2, (25, 3))
    for lo, hi in [(0, 6), (6, 7), (7, 25)]:
        decayed.update(y_true[lo:hi], y_pred[lo:hi])
    weights = 0.5 ** (np.arange(24, -1, -1) / 4.0)
    for average in ("samples", "macro"):
        assert_same(decayed.f1(average=average, zero_division=0.0),
                    skm.f1_score(y_true, y_pred, average=average, sample_weight=weights, zero_division=0.0),
                    False, average)
    assert_same(decayed.accuracy(), skm.accuracy_score(y_true, y_pred, sample_weight=weights), False, "accuracy")


# --- merge ------------------------------------------------------------------------------------------


@given(shape=window_shapes(max_size=8), seed=st.integers(0, 2**32 - 1),
       stream=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 4), st.integers(0, 2)), max_size=14))
def test_merged_time_windows_equal_one_window_fed_both_streams(shape, seed, stream):
    size, buckets, step = shape
    rng = np.random.default_rng(seed)
    workers = [Windowed(Multiclass(3), float(size), unit="seconds", buckets=buckets, step=step) for _ in range(3)]
    single = workers[0].copy()
    t = 5000.0
    for delta, n, worker in stream:
        t += delta / 4
        yt, yp = rng.integers(0, 3, (2, n))
        workers[worker].update(yt, yp, timestamp=t)
        single.update(yt, yp, timestamp=t)
    before = [w.to_bytes() for w in workers]
    assert workers[0] + workers[1] + workers[2] == single
    assert sum(reversed(workers)) == single
    assert [w.to_bytes() for w in workers] == before  # + leaves its operands alone
    merged = workers[2].copy()
    assert merged.merge(workers[0]).merge(workers[1]) is merged and merged == single
    if single.n_samples:
        assert_same_metrics([merged.compute()], [single.compute()])


def test_merged_decayed_counts_equal_one_decayed_fed_both_streams(rng):
    a, b = Decayed(Binary(weighted=True), 5.0, unit="seconds"), Decayed(Binary(weighted=True), 5.0, unit="seconds")
    single = a.copy()
    for t in rng.uniform(0, 40, 12):
        batch = (rng.integers(0, 2, 4), rng.integers(0, 2, 4), rng.random(4))
        (a if rng.random() < 0.5 else b).update(*batch, timestamp=t)
        single.update(*batch, timestamp=t)
    for merged in (a + b, b + a, sum([a, b])):
        for ours, theirs in zip(merged._arrays(), single._arrays()):
            assert_same(ours, theirs, False, "decayed state")


def test_only_time_windows_configured_alike_merge():
    samples = Windowed(Multiclass(3), 4, buckets=2)
    with pytest.raises(IncompatibleError, match="only unit='seconds' merges"):
        samples.merge(samples.copy())
    with pytest.raises(IncompatibleError, match="only unit='seconds' merges"):
        Decayed(Binary(), 2, unit="updates") + Decayed(Binary(), 2, unit="updates")
    timed = Windowed(Multiclass(3), 4, unit="seconds", buckets=2)
    timed.update([0], [1], timestamp=1.0)
    before = timed.to_bytes()
    for other in (Windowed(Multiclass(3), 4, unit="seconds", buckets=4),
                  Windowed(Multiclass(4), 4, unit="seconds", buckets=2),
                  Windowed(Multiclass(3, weighted=True), 4, unit="seconds", buckets=2), Multiclass(3), "text"):
        with pytest.raises(IncompatibleError, match="Cannot merge"):
            timed.merge(other)
    assert timed.to_bytes() == before
    with pytest.raises(TypeError):
        timed + Multiclass(3)


# --- serialization ----------------------------------------------------------------------------------


def mixed_batches(rng, n_batches, unit):
    for i in range(n_batches):
        n = int(rng.integers(0, 9))
        batch = (rng.integers(0, 2, n), rng.random(n), rng.random(n))
        yield batch, ({"timestamp": 100.0 + 7.5 * i + rng.uniform(-8, 0)} if unit == "seconds" else {})


# Declared once, in tests/helpers.py CONFIGURATIONS.
WRAPPERS = ("windowed-samples-binary-bins-weighted", "windowed-updates-binary-weighted",
            "windowed-seconds-binary-bins-weighted", "decayed-samples-binary-bins", "decayed-updates-binary-weighted",
            "decayed-seconds-binary-weighted")


@pytest.mark.configs(*WRAPPERS)
def test_round_trips_keep_the_state_and_the_read_copy_carries_on_identically(configuration, tmp_path, rng):
    make = configuration.make
    original = make()
    unit = original.unit
    batches = list(mixed_batches(rng, 14, unit))
    for batch, kwargs in batches[:7]:
        original.update(*batch, **kwargs)
    path = tmp_path / "window.sevl"
    original.save(path)
    copies = [streameval.from_bytes(original.to_bytes()),
              streameval.from_dict(json.loads(json.dumps(original.to_dict()))),
              pickle.loads(pickle.dumps(original)), streameval.load(path)]
    for copy in copies:
        assert type(copy) is type(original) and copy == original and copy.to_bytes() == original.to_bytes()
    assert make() != original and original != original.snapshot()
    for batch, kwargs in batches[7:]:
        original.update(*batch, **kwargs)
        for copy in copies:
            copy.update(*batch, **kwargs)
    for copy in copies:
        assert copy == original
        assert_same_metrics([copy.compute()], [original.compute()])


def forge(kind, config, arrays):
    return serialization.encode(kind, json.dumps(config).encode(), arrays)


def window_payload():
    window = Windowed(Multiclass(2), 4, unit="seconds", buckets=2)
    window.update([0, 1, 1], [0, 1, 0], timestamp=3.0)
    return window


def test_truncated_or_flipped_payloads_raise_serialization_error():
    for wrapper in (window_payload(), Decayed(Multiclass(2), 3.0, unit="seconds")):
        payload = wrapper.to_bytes()
        for cut in range(len(payload)):
            with pytest.raises(SerializationError):
                streameval.from_bytes(payload[:cut])
        for i in range(len(payload)):
            flipped = bytearray(payload)
            flipped[i] ^= 0x10
            with pytest.raises(SerializationError):
                streameval.from_bytes(bytes(flipped))


MULTICLASS = {"kind": "Multiclass",
              "config": {"num_classes": 2, "labels": None, "ignore_index": None, "weighted": False}}
WINDOW = {"accumulator": MULTICLASS, "size": 4.0, "unit": "seconds", "buckets": 2, "step": 2.0}


@pytest.mark.parametrize("change", [
    {"unit": "minutes"}, {"size": 0}, {"size": -4.0}, {"size": 1e999}, {"size": "4"}, {"buckets": 3.5}, {"buckets": 0},
    {"step": 3.0}, {"step": 8.0}, {"extra": 1}, {"accumulator": {"kind": "Windowed", "config": WINDOW}},
    {"accumulator": {"kind": "Binary", "config": {"exact": True}}},
    {"accumulator": {"kind": "Multiclass", "config": {"labels": "auto"}}},
    {"accumulator": {"kind": "Multiclass", "config": {"num_classes": "2"}}},
    {"accumulator": {"kind": "Nope", "config": {}}},
    {"accumulator": [1, 2]}, {"accumulator": {"kind": 2, "config": {}}}, {"accumulator": {"kind": "Multiclass"}},
])
def test_forged_window_configurations_raise_serialization_error(change):
    window = window_payload()
    with pytest.raises(SerializationError):
        streameval.from_bytes(forge(4, {**WINDOW, **change}, window._arrays()))


@pytest.mark.parametrize("arrays", [
    lambda cm, pos: [cm, np.array([2, 1])],  # started is not 0 or 1
    lambda cm, pos: [cm, np.array([0, 5])],  # no time seen, yet a position
    lambda cm, pos: [cm, np.array([1, 1 << 62])],  # a position past any timestamp
    lambda cm, pos: [-cm, pos],  # negative counts
    lambda cm, pos: [cm[:1], pos],  # one bucket short
    lambda cm, pos: [cm.astype(np.float64), pos],  # float counts in an unweighted window
    lambda cm, pos: [cm],
])
def test_forged_window_state_raises_serialization_error(arrays):
    window = window_payload()
    with pytest.raises(SerializationError):
        streameval.from_bytes(forge(4, window._config(), arrays(window._cm, window._position)))
    samples = Windowed(Multiclass(2), 4, buckets=2)
    with pytest.raises(SerializationError):  # samples counted but not started
        streameval.from_bytes(forge(4, samples._config(), [samples._cm, np.array([0, 3])]))


def test_forged_decay_state_raises_serialization_error():
    decayed = Decayed(Multiclass(2), 3.0, unit="seconds")
    config = decayed._config()
    for time_state in ([0.5, 1.0], [0.0, 7.0], [1.0, np.nan]):
        with pytest.raises(SerializationError):
            streameval.from_bytes(forge(5, config, [decayed._cm, np.array(time_state)]))
    for change in ({"half_life": 0}, {"half_life": float("nan")}, {"unit": 3}, {"seconds": True}):
        with pytest.raises(SerializationError):
            streameval.from_bytes(forge(5, {**config, **change}, decayed._arrays()))
    with pytest.raises(SerializationError):  # decayed counts are float64, whatever the template
        streameval.from_bytes(forge(5, config, [decayed._cm.astype(np.int64), decayed._time]))


@given(position=st.integers(0, 400), byte=st.integers(0, 255))
def test_any_byte_of_a_resealed_configuration_reads_back_or_raises_serialization_error(position, byte):
    window = window_payload()
    config = bytearray(json.dumps(window._config()).encode())
    config[position % len(config)] = byte
    try:
        read = streameval.from_bytes(serialization.encode(4, bytes(config), window._arrays()))
    except SerializationError:
        return
    assert isinstance(read, Windowed)


def test_the_serialization_kinds_are_registered():
    assert serialization.REGISTRY[4] is Windowed and serialization.REGISTRY[5] is Decayed
    assert struct.unpack_from("<4sHH", Decayed(Binary(), 1.0).to_bytes())[2] == 5


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make, error, words", [
    (lambda: Windowed(Multiclass(3), 0, buckets=1), ValueError, "size=0"),
    (lambda: Windowed(Multiclass(3), 4.5, buckets=1), ValueError, "size=4.5"),
    (lambda: Windowed(Multiclass(3), True, buckets=1), ValueError, "size=True"),
    (lambda: Windowed(Multiclass(3), float("nan"), unit="seconds", buckets=1), ValueError, "size=nan"),
    (lambda: Windowed(Multiclass(3), 10), ValueError, "buckets= is needed"),
    (lambda: Windowed(Multiclass(3), 10, buckets=3), ValueError, "buckets=3 does not divide size=10"),
    (lambda: Windowed(Multiclass(3), 10, buckets=0), ValueError, "buckets=0"),
    (lambda: Windowed(Multiclass(3), 10, step=4), ValueError, "size=10 is not a multiple of step=4"),
    (lambda: Windowed(Multiclass(3), 10, buckets=5, step=3), ValueError, "step=3 is not a multiple"),
    (lambda: Windowed(Multiclass(3), 10, buckets=5, step=12), ValueError, "step=12 is larger than size=10"),
    (lambda: Windowed(Multiclass(3), 1.0, unit="seconds", buckets=4, step=0.3), ValueError, "step=0.3"),
    (lambda: Windowed(Multiclass(3), 10, unit="minutes", buckets=2), ValueError, "unit='minutes'"),
    (lambda: Windowed(Multiclass(3), 10, buckets=2, clock=5), TypeError, "clock=5"),
    (lambda: Windowed(Binary(exact=True), 10, buckets=2), ValueError, "exact=True"),
    (lambda: Windowed(Multiclass(labels="auto"), 10, buckets=2), ValueError, 'labels="auto"'),
    (lambda: Windowed("Multiclass", 10, buckets=2), TypeError, "accumulator='Multiclass'"),
    (lambda: Windowed({"kind": "Wrong", "config": {}}, 10, buckets=2), ValueError, "kind 'Wrong'"),
    (lambda: Decayed(Multiclass(3), 0), ValueError, "half_life=0"),
    (lambda: Decayed(Multiclass(3), "1"), ValueError, "half_life='1'"),
    (lambda: Decayed(Multiclass(3), 1, unit="hours"), ValueError, "unit='hours'"),
    (lambda: Decayed(Binary(exact=True), 1), ValueError, "exact=True"),
])
def test_bad_configurations_raise_naming_the_argument(make, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace("?", r"\?")):
        make()


def test_a_template_with_counts_is_refused_and_a_description_accepted():
    used = Multiclass(3)
    used.update([0], [0])
    with pytest.raises(ValueError, match="holds counts"):
        Windowed(used, 4, buckets=2)
    described = Windowed({"kind": "Multiclass", "config": {"num_classes": 3}}, 4, buckets=2)
    assert described == Windowed(Multiclass(3), 4, buckets=2)


def unchanged_after(wrapper, call, error, words, watch=True):
    """call raises error matching words, and leaves wrapper's bytes, queries and (watch) callbacks as they were."""
    before, reports = wrapper.to_bytes(), []
    if watch and isinstance(wrapper, Windowed):
        wrapper.on_window(reports.append)
    n_samples = wrapper.n_samples
    with pytest.raises(error, match=words):
        call()
    assert wrapper.to_bytes() == before and wrapper.n_samples == n_samples and reports == []


def test_a_bad_batch_cut_across_buckets_names_the_users_position_and_changes_nothing():
    window = Windowed(Multiclass(3), 4, buckets=2, step=2)
    window.update([0, 1, 2], [0, 1, 1])
    bad = [0, 1, 2, 7, 0]  # samples 3..7 fall in buckets 1, 2 and 3: the bad one is in bucket 3
    unchanged_after(window, lambda: window.update([0] * 5, bad), ValueError, r"y_pred\[3\] = 7 is not a class")
    unchanged_after(window, lambda: window.update([0] * 5, [0] * 4), ValueError,
                    "y_pred has 4 samples but y_true has 5")
    unchanged_after(window, lambda: window.update(0, 0), ValueError, "y_true has shape")
    unchanged_after(window, lambda: window.update([0] * 5, [0] * 5, sample_weight=[1] * 5), ValueError, "weighted=True")
    unchanged_after(window, lambda: window.update([0], [0], timestamp=3.0), ValueError, "timestamp=3.0 was given")
    unchanged_after(window, lambda: window.advance(), ValueError, "advance\\(\\) is for unit='seconds'")
    unchanged_after(window, lambda: window.update([0] * 50, [0] * 49 + [9]), ValueError, r"y_pred\[49\] = 9")
    quiet = Windowed(Multiclass(3), 4, buckets=2)  # without callbacks, buckets that leave the ring are only checked
    quiet.update([0], [1])
    unchanged_after(quiet, lambda: quiet.update([0] * 50, [0, 0, 9] + [0] * 47), ValueError, r"y_pred\[2\] = 9",
                    watch=False)
    weighted = Windowed(Binary(weighted=True), 4, buckets=4)
    weighted.update([0], [0], sample_weight=[1.0])
    unchanged_after(weighted, lambda: weighted.update([1] * 6, [1] * 6, sample_weight=[1, 1, 1, 1, -2, 1]),
                    ValueError, r"sample_weight\[4\] = -2")


def test_bad_times_change_nothing():
    clock = FakeClock(10.0)
    window = Windowed(Binary(), 4, unit="seconds", buckets=2, clock=clock)
    window.update([1], [1])
    for timestamp, words in [(float("nan"), "timestamp=nan"), ("now", "timestamp='now'"), (True, "timestamp=True"),
                             (-1e300, "too far from epoch 0"), (1e300, "more than max_skew=86400.0 seconds ahead"),
                             (5.9, "older than the window")]:
        unchanged_after(window, lambda t=timestamp: window.update([1], [0], timestamp=t), ValueError, words)
    clock.now = None
    unchanged_after(window, lambda: window.update([1], [0]), ValueError, r"clock\(\)=None")
    unchanged_after(window, lambda: window.advance(), ValueError, r"clock\(\)=None")
    unchanged_after(window, lambda: window.update([1, 1], [1, 3], timestamp=30.0), ValueError, r"y_pred\[1\] = 3")
    window.update([1], [0], timestamp=8.5)  # older than the latest, but its bucket [8, 10) is still held
    assert window.n_samples == 2
    updates = Windowed(Binary(), 2, unit="updates", buckets=2)
    updates.update([1], [1])
    unchanged_after(updates, lambda: updates.update([1, 2], [1, 1]), ValueError, r"y_true\[1\] = 2")


def test_bad_batches_leave_decayed_counts_unchanged():
    decayed = Decayed(Multiclass(3, weighted=True), 2.0)
    decayed.update([0, 1], [0, 1], sample_weight=[1.0, 2.0])
    unchanged_after(decayed, lambda: decayed.update([0, 1, 2], [0, 1, 2], sample_weight=[1, -1.5, 1]),
                    ValueError, r"sample_weight\[1\] = -1.5 is not a valid weight")  # the user's weight, not decayed
    unchanged_after(decayed, lambda: decayed.update([0, 5], [0, 1]), ValueError, r"y_true\[1\] = 5")
    unchanged_after(decayed, lambda: decayed.update(1, 1), ValueError, "y_true has shape")
    unchanged_after(decayed, lambda: decayed.update([0], [0], timestamp=1.0), ValueError, "timestamp=1.0 was given")
    unweighted = Decayed(Binary(), 2.0, unit="seconds")
    unchanged_after(unweighted, lambda: unweighted.update([1], [1], sample_weight=[2.0], timestamp=0.0),
                    ValueError, "weighted=True")
    unchanged_after(unweighted, lambda: unweighted.update([1], [1], timestamp=float("inf")), ValueError,
                    "timestamp=inf")


# --- the rest of the state layer -----------------------------------------------------------------


def test_copy_reset_equality_and_repr():
    window = Windowed(Multiclass(3), 4, unit="updates", buckets=2)
    window.update([0, 1], [0, 2])
    copy = window.copy()
    copy.update([2], [2])
    assert copy != window and window.n_samples == 2 and copy.n_samples == 3
    window.reset()
    assert window == Windowed(Multiclass(3), 4, unit="updates", buckets=2) and window.is_empty
    window.update([0, 1], [0, 2])
    assert "Windowed(Multiclass(num_classes=3" in repr(window) and "n_samples=2" in repr(window)
    assert "half_life=2.0" in repr(Decayed(Binary(), 2))
    assert Windowed(Multiclass(3), 4, buckets=2) == Windowed(Multiclass(3), 4, buckets=2, step=2)
    with pytest.raises(TypeError):
        hash(window)


def test_threads_share_a_window():
    window = Windowed(Multiclass(3), 1000, unit="updates", buckets=10)
    seen = []
    window.on_window(lambda m: seen.append(window.n_samples))  # the lock is reentrant

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(25):
            window.update(*rng.integers(0, 3, (2, 10)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert window.n_samples == 1000 and seen == [1000]  # the window [-900, 100) closed at the 100th update


# --- the slot protocol: one pass per batch, queries written out ------------------------------------


def test_a_batch_spanning_buckets_is_counted_in_one_kernel_call(monkeypatch):
    """Samples 0..9 of a window of 12 in buckets of 3 fall in 4 buckets: one call of the fused
    ring kernel (streameval._window_pairs), each piece into its bucket's slot; the window equals
    sklearn on the samples it covers."""
    from streameval import _window_pairs

    calls = []

    def counted(*args, kernel=_window_pairs.count_pairs_ring):
        calls.append(args[6:12])  # first_slot, first_end, width, skipped, n_empty, empty_slot
        return kernel(*args)

    monkeypatch.setattr(_window_pairs, "count_pairs_ring", counted)
    rng = np.random.default_rng(3)
    window = Windowed(Multiclass(3), 12, buckets=4, step=3)
    y_true, y_pred = rng.integers(0, 3, (2, 10))
    window.update(y_true, y_pred)
    assert calls == [(0, 3, 3, 0, 4, 0)]  # the first bucket ends at sample 3; the whole ring emptied
    assert np.array_equal(window._cm.sum(axis=(1, 2)), [3, 3, 3, 1])
    assert np.array_equal(window.confusion_matrix(), skm.confusion_matrix(y_true, y_pred, labels=[0, 1, 2]))
    more_true, more_pred = rng.integers(0, 3, (2, 2))  # inside the latest bucket: no slot emptied
    calls.clear()
    window.update(more_true, more_pred)
    assert calls == [(3, 2, 3, 0, 0, 0)]
    covered = slice(0, 12)
    assert np.array_equal(window.confusion_matrix(), skm.confusion_matrix(
        np.r_[y_true, more_true][covered], np.r_[y_pred, more_pred][covered], labels=[0, 1, 2]))


@pytest.mark.parametrize("unit", ["samples", "updates", "seconds"])
def test_windows_of_batches_spanning_buckets_equal_sklearn_on_the_covered_samples(unit):
    """Multiclass with top-k ranks, weighted binned Binary and Multilabel with bins: after each
    update the window's counts equal scikit-learn's (and numpy's histogram) on the samples it covers."""
    rng = np.random.default_rng(11)
    size = {"samples": 24, "updates": 4, "seconds": 40.0}[unit]
    windows = [Windowed(Multiclass(4, top_k=2), size, unit=unit, buckets=4),
               Windowed(Binary(weighted=True, bins=5), size, unit=unit, buckets=4),
               Windowed(Multilabel(3, bins=4), size, unit=unit, buckets=4)]
    seen: list[tuple] = []  # (time or update index, first sample index, batch)
    for step in range(12):
        n = int(rng.integers(0, 15))
        scores = rng.random((n, 4))
        labels, weights, indicators = rng.integers(0, 4, n), rng.random(n) * 2, rng.integers(0, 2, (n, 3))
        t = 10.0 * step + float(rng.random()) if unit == "seconds" else None
        windows[0].update(labels, scores, timestamp=t)
        windows[1].update(labels % 2, scores[:, 0], sample_weight=weights, timestamp=t)
        windows[2].update(indicators, scores[:, :3], timestamp=t)
        seen.append((t, labels, scores, weights, indicators))
        # The covered samples, by the documented definitions of each unit (buckets of size / 4).
        if unit == "samples":
            total = sum(len(b[1]) for b in seen)
            start = covered_from(total, 24, 6)
            covered = [np.r_[tuple(b[i] for b in seen)] if i != 2 else np.concatenate([b[2] for b in seen])
                       for i in (1, 2, 3, 4)]
            covered = [part[start:] for part in covered]
        else:
            if unit == "updates":
                first = covered_from(len(seen), 4, 1)
                batches = seen[first:]
            else:
                latest = max(b[0] for b in seen)
                start_time = (math.floor(latest / 10.0) + 1) * 10.0 - 40.0
                batches = [b for b in seen if b[0] >= start_time]
            covered = [np.concatenate([b[i] for b in batches]) if batches else np.empty((0,) + seen[0][i].shape[1:])
                       for i in (1, 2, 3, 4)]
        labels_c, scores_c, weights_c, indicators_c = covered
        labels_c = labels_c.astype(np.int64)
        pred = scores_c.argmax(axis=1) if len(scores_c) else np.empty(0, np.int64)
        assert np.array_equal(windows[0].confusion_matrix(), skm.confusion_matrix(labels_c, pred, labels=range(4)))
        if len(labels_c):
            ranks = (scores_c > scores_c[np.arange(len(labels_c)), labels_c][:, None]).sum(axis=1)
            assert windows[0].accuracy(top_k=2) == pytest.approx(float(np.mean(ranks < 2)))
        binary = windows[1].confusion_matrix()
        reference = skm.confusion_matrix(labels_c % 2, scores_c[:, 0] >= 0.5, labels=[0, 1],
                                         sample_weight=weights_c) if len(labels_c) else np.zeros((2, 2))
        np.testing.assert_allclose(binary, reference, rtol=1e-12, atol=1e-12)
        for positive in (0, 1):
            mine = labels_c % 2 == positive
            histogram = np.histogram(scores_c[mine, 0], bins=np.linspace(0, 1, 6), weights=weights_c[mine])[0]
            np.testing.assert_allclose(windows[1]._current()._hist[0, positive, 1:-1], histogram, rtol=1e-12,
                                       atol=1e-12)
        assert np.array_equal(windows[2].confusion_matrix(), skm.multilabel_confusion_matrix(
            indicators_c, scores_c[:, :3] >= 0.5, labels=range(3)) if len(labels_c) else np.zeros((3, 2, 2)))


def test_wrappers_write_out_every_query_of_the_accumulators():
    """The queries are members of the wrapper classes (help, dir, IDEs, type checkers see them),
    with no __getattr__; the list covers every public member of the accumulators that the
    wrappers do not define themselves, and each one works on a wrapper as on the accumulator."""
    from streameval._slots import Queries

    own = {"update", "merge", "reset", "copy", "to_bytes", "to_dict", "save", "snapshot", "state_vector",
           "fingerprint", "load_state_vector", "unsummable_reason", "_follows_stream_order",
           "device", "to"}  # (wrappers keep their slots on the host: no device)
    public = set()
    for acc in (Binary(), Multiclass(2), Multilabel(1)):
        public |= {name for name in dir(acc) if not name.startswith("_")}
    assert public - own == {name for name in vars(Queries) if not name.startswith("_")}
    for cls in (Windowed, Decayed):
        assert "__getattr__" not in {name for klass in cls.__mro__ for name in vars(klass)}
        assert {"accuracy", "roc_auc", "n_samples", "num_classes"} <= set(dir(cls))
        assert cls.accuracy.__doc__ == Multiclass.accuracy.__doc__ or "accuracy" in cls.accuracy.__doc__
    window = Windowed(Multiclass(3), 4, buckets=2)
    window.update([0, 1, 2], [0, 1, 1])
    assert window.num_classes == 3 and window.labels == (0, 1, 2) and window.f1(average=None).shape == (3,)
    assert not hasattr(window, "threshold_for") and not hasattr(window, "pos_label")  # a Multiclass has none
    binary = Decayed(Binary(bins=4), 2.0)
    binary.update([1, 0], [0.9, 0.2])
    assert binary.pos_label == 1 and binary.roc_auc() == 1.0 and not hasattr(binary, "num_classes")
    assert window._follows_stream_order and binary._follows_stream_order and not Multiclass._follows_stream_order


def test_the_split_modules_keep_the_import_paths():
    import streameval.decay
    import streameval.windows

    assert streameval.windows.Decayed is streameval.decay.Decayed is streameval.Decayed
    assert streameval.windows.Windowed is streameval.Windowed


@pytest.mark.parametrize("unit", ["samples", "updates"])
@pytest.mark.parametrize("ignore_index", [None, 3])
def test_decayed_multiclass_labels_match_the_definition(unit, ignore_index):
    # Decayed(Multiclass) on plain integer labels (counted in place in one kernel call) against the
    # documented weights 0.5 ** (age / half_life), summed with numpy
    rng = np.random.default_rng(7)
    k, half_life = 6, 2.5
    d = Decayed(streameval.Multiclass(k, ignore_index=ignore_index), half_life, unit=unit)
    batches = [(rng.integers(0, k, n), rng.integers(0, k, n)) for n in (5, 0, 17, 1, 40, 3)]
    for yt, yp in batches:
        d.update(yt, yp)
    yt_all, yp_all = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    if unit == "samples":
        age = np.arange(len(yt_all) - 1, -1, -1, dtype=np.float64)
    else:
        age = np.concatenate([np.full(len(b[0]), len(batches) - 1 - u, dtype=np.float64)
                              for u, b in enumerate(batches)])
    w = 0.5 ** (age / half_life)
    keep = yt_all != ignore_index if ignore_index is not None else np.ones(len(yt_all), bool)
    expected = np.zeros((k, k))
    np.add.at(expected, (yt_all[keep], yp_all[keep]), w[keep])
    np.testing.assert_allclose(d.snapshot().confusion_matrix(), expected, rtol=1e-12, atol=0)
    assert d.n_samples == pytest.approx(w[keep].sum(), rel=1e-12)
    np.testing.assert_allclose(d.recall(average="macro", zero_division=0),
                               skm.recall_score(yt_all[keep], yp_all[keep], labels=range(k), average="macro",
                                                sample_weight=w[keep], zero_division=0), rtol=1e-12)
    # a bad label (out of range in y_pred, after good samples) raises naming it and changes nothing
    before = d.to_bytes()
    with pytest.raises(InputError) as info:
        d.update(np.array([1, 2, 0]), np.array([0, 1, k]))
    assert info.value.argument == "y_pred" and info.value.index == 2
    assert d.to_bytes() == before
