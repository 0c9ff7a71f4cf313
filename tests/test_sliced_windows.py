"""Sliced(Windowed(...)) (issue 16): a window per slice, on one clock, against a one-at-a-time replay.

The reference feeds the samples one at a time in time order to a window kept by hand (the latest
bucket, the samples kept), then asks scikit-learn about each slice's samples in the current window.
Windowed(Sliced(...)) and Sliced(Decayed(...)) raise, naming the supported composition.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix, recall_score

import streameval
from streameval import Binary, Decayed, IncompatibleError, Multiclass, Sliced, TimestampError, Windowed
from streameval._partitions import check_template

T0 = 1_700_000_000
KEYS = st.sampled_from([0, 1, 7, -3, "fr", "us"])
GRIDS = [(60, 6, None), (60, 6, 30), (60, 2, 60), (40, 4, 20)]  # (size, buckets, step): sliding, hopping, tumbling


# --- the reference: one sample at a time -----------------------------------------------------------


class Replay:
    """A window kept by hand: unit "seconds" (times), "samples" or "updates"; samples one at a time."""

    def __init__(self, size, buckets, step, unit="seconds"):
        self.size, self.buckets, self.unit = size, buckets, unit
        self.width = size / buckets if unit == "seconds" else size // buckets
        self.hop = round((self.width if step is None else step) / self.width)
        self.latest = None  # the latest bucket
        self.kept = []  # (bucket, key, y_true, y_pred, weight)
        self.keys = []  # in order of first appearance
        self.counted = 0  # samples (unit samples) or updates (unit updates) so far
        self.dropped = 0

    def late(self, bucket):
        return self.latest is not None and bucket <= self.latest - self.buckets

    def update(self, y_true, y_pred, keys, times=None, weight=None, drop=False):
        """False (nothing changed) when a late sample refuses the batch."""
        n = len(y_true)
        weight = np.ones(n) if weight is None else weight
        if self.unit == "seconds":
            scalar = np.ndim(times) == 0
            buckets = np.floor(np.broadcast_to(np.asarray(times, float), (n,)) / self.width).astype(int)
            if scalar:
                bucket = math.floor(times / self.width)
                if self.late(bucket) and not drop:
                    return False
            elif any(self.late(b) for b in buckets) and not drop:
                return False
        elif self.unit == "samples":
            buckets = (self.counted + np.arange(n)) // self.width
            self.counted += n
        else:
            buckets = np.full(n, self.counted // self.width)
            self.counted += 1
        for key in keys:
            if key not in self.keys:
                self.keys.append(key)
        for i in np.argsort(buckets, kind="stable"):  # in time order
            b = int(buckets[i])
            if self.late(b):
                self.dropped += 1
                continue
            self.latest = b if self.latest is None else max(self.latest, b)
            self.kept.append((b, keys[i], int(y_true[i]), int(y_pred[i]), float(weight[i])))
        if self.unit == "seconds" and np.ndim(times) == 0 and not self.late(math.floor(times / self.width)):
            b = math.floor(times / self.width)
            self.latest = b if self.latest is None else max(self.latest, b)
        elif self.unit == "updates":
            b = (self.counted - 1) // self.width
            self.latest = b if self.latest is None else max(self.latest, b)
        return True

    def advance(self, t):
        b = math.floor(t / self.width)
        self.latest = b if self.latest is None else max(self.latest, b)

    def window(self):
        """The samples of the current window: buckets [(L // hop + 1) * hop - buckets, L]."""
        if self.latest is None:
            return []
        first = (self.latest // self.hop + 1) * self.hop - self.buckets
        return [s for s in self.kept if first <= s[0] <= self.latest]


def _check(sliced, replay, labels=(0, 1)):
    """Each slice (and all) against scikit-learn on the replay's samples in the current window."""
    window = replay.window()
    assert sliced.keys() == replay.keys
    for key in replay.keys:
        rows = [s for s in window if s[1] == key]
        y_true = np.array([s[2] for s in rows], int)
        y_pred = np.array([s[3] for s in rows], int)
        weight = np.array([s[4] for s in rows])
        expected = (confusion_matrix(y_true, y_pred, labels=list(labels), sample_weight=weight) if rows
                    else np.zeros((len(labels), len(labels)), int))
        np.testing.assert_allclose(sliced[key].confusion_matrix(), expected, rtol=1e-12, atol=0)
        if rows and sliced._template.weighted is False:
            ours = sliced.by_slice("recall", zero_division=0.0)[key] if labels == (0, 1) else None
            if ours is not None:
                assert ours == pytest.approx(recall_score(y_true, y_pred, zero_division=0.0), rel=1e-12)
    y_true = np.array([s[2] for s in window], int)
    y_pred = np.array([s[3] for s in window], int)
    weight = np.array([s[4] for s in window])
    expected = confusion_matrix(y_true, y_pred, labels=list(labels), sample_weight=weight) if window else 0
    np.testing.assert_allclose(sliced.overall.confusion_matrix(), expected, rtol=1e-12, atol=0)
    assert sliced.n_samples == pytest.approx(weight.sum() if window else 0, rel=1e-12)


# --- streams ---------------------------------------------------------------------------------------


@st.composite
def timed_batches(draw, max_batches=6):
    """Batches (y_true, y_pred, keys, times, drop): times a scalar or one per sample, moving on
    by up to two windows between batches, late ones included."""
    out = []
    now = T0
    for _ in range(draw(st.integers(1, max_batches))):
        n = draw(st.integers(0, 10))
        y_true = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), int)
        y_pred = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), int)
        keys = draw(st.lists(KEYS, min_size=n, max_size=n))
        now += draw(st.integers(0, 130))
        if draw(st.booleans()):
            times = now - draw(st.integers(0, 70))
        else:
            times = np.array([now - draw(st.integers(0, 90)) for _ in range(n)], np.int64)
        out.append((y_true, y_pred, keys, times, draw(st.booleans())))
    return out


def _windowed(grid, acc=None, **options):
    size, buckets, step = grid
    return Sliced(Windowed(acc or Binary(), size, unit="seconds", buckets=buckets, step=step, max_skew=None,
                           **options))


def _feed(sliced, replay, batches):
    for y_true, y_pred, keys, times, drop in batches:
        before = sliced.to_bytes()
        if replay.update(y_true, y_pred, keys, times, drop=drop):
            sliced.update(y_true, y_pred, by=keys, timestamp=times, late="drop" if drop else "refuse")
        else:
            with pytest.raises(TimestampError, match="older than the window"):
                sliced.update(y_true, y_pred, by=keys, timestamp=times)
            assert sliced.to_bytes() == before  # nothing changed: counts, keys, position


# --- tests -----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(timed_batches(), st.sampled_from(GRIDS))
def test_seconds_against_a_replay(batches, grid):
    sliced, replay = _windowed(grid), Replay(*grid)
    _feed(sliced, replay, batches)
    _check(sliced, replay)
    assert sliced.n_dropped == replay.dropped
    # the window moving on without counting
    t = T0 + 10_000
    sliced.advance(t)
    replay.advance(t)
    _check(sliced, replay)


@settings(max_examples=30, deadline=None)
@given(timed_batches(), st.sampled_from(GRIDS))
def test_round_trips_and_copies_keep_counting_alike(batches, grid):
    half = len(batches) // 2
    sliced, replay = _windowed(grid), Replay(*grid)
    _feed(sliced, replay, batches[:half])
    loaded = pickle.loads(pickle.dumps(streameval.from_bytes(streameval.from_dict(sliced.to_dict()).to_bytes())))
    assert loaded == sliced and loaded.to_bytes() == sliced.to_bytes()
    loaded.clock = sliced.clock
    copy = sliced.copy()
    rest = batches[half:]
    _feed(sliced, replay, rest)
    for other in (loaded, copy):
        for y_true, y_pred, keys, times, drop in rest:
            try:
                other.update(y_true, y_pred, by=keys, timestamp=times, late="drop" if drop else "refuse")
            except TimestampError:
                pass
        assert other == sliced
    _check(loaded, replay)


@settings(max_examples=40, deadline=None)
@given(timed_batches(), timed_batches(), st.sampled_from(GRIDS))
def test_merge_is_both_streams_in_one_window(first, second, grid):
    a, b = _windowed(grid), _windowed(grid)
    ra, rb = Replay(*grid), Replay(*grid)
    _feed(a, ra, first)
    _feed(b, rb, second)
    a_bytes, b_bytes = a.to_bytes(), b.to_bytes()
    merged = a + b
    assert a.to_bytes() == a_bytes and b.to_bytes() == b_bytes  # a + b leaves both as they were
    # The reference: the samples each worker kept, the keys ours then theirs, the later latest bucket.
    replay = Replay(*grid)
    replay.keys = ra.keys + [k for k in rb.keys if k not in ra.keys]
    latest = [r.latest for r in (ra, rb) if r.latest is not None]
    replay.latest = max(latest) if latest else None
    replay.kept = ra.kept + rb.kept
    _check(merged, replay)
    assert streameval.from_bytes(merged.to_bytes()) == merged
    in_place = a.copy()
    in_place.merge(b)
    assert in_place == merged


@pytest.mark.parametrize("unit, grids", [("samples", [(12, 4, None), (12, 3, 8), (12, 2, 12)]),
                                         ("updates", [(3, 3, None), (4, 2, 4), (4, 4, 2)])])
@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 10_000)), min_size=1, max_size=8), st.data())
def test_samples_and_updates_against_a_replay(unit, grids, sizes, data):
    size, buckets, step = data.draw(st.sampled_from(grids))
    sliced = Sliced(Windowed(Multiclass(3), size, unit=unit, buckets=buckets, step=step))
    replay = Replay(size, buckets, step, unit)
    for n, seed in sizes:
        rng = np.random.default_rng(seed)
        y_true, y_pred = rng.integers(0, 3, n), rng.integers(0, 3, n)
        keys = rng.choice(np.array([3, 5, 11]), n)
        replay.update(y_true, y_pred, keys.tolist())
        sliced.update(y_true, y_pred, by=keys)
        _check(sliced, replay, labels=(0, 1, 2))
    with pytest.raises(IncompatibleError, match="unit='seconds'"):
        sliced.merge(sliced.copy())
    with pytest.raises(ValueError, match="timestamp"):
        sliced.update([0], [0], by=[3], timestamp=T0)


def test_weighted_multiclass_per_event_times():
    rng = np.random.default_rng(7)
    sliced = Sliced(Windowed(Multiclass(3, weighted=True), 3600, unit="seconds", buckets=12, max_skew=None))
    replay = Replay(3600, 12, None)
    for start in range(T0, T0 + 5 * 3600, 1800):
        n = 500
        y_true, y_pred = rng.integers(0, 3, n), rng.integers(0, 3, n)
        weight = rng.random(n)
        keys = rng.choice(["fr", "us", "de", "jp"], n).tolist()
        times = start + rng.integers(-600, 1800, n)
        replay.update(y_true, y_pred, keys, times, weight=weight, drop=True)
        sliced.update(y_true, y_pred, weight, by=keys, timestamp=times, late="drop")
        _check(sliced, replay, labels=(0, 1, 2))


def test_recall_per_country_over_the_last_hour():
    """The monitoring guide's example: datetime64 times, strings, the window moving on."""
    by_country = Sliced(Windowed(Binary(), 3600, unit="seconds", buckets=60, max_skew=None))
    times = np.array(["2024-05-01T10:00", "2024-05-01T10:20", "2024-05-01T10:59", "2024-05-01T11:30"],
                     dtype="datetime64[s]")
    by_country.update([1, 1, 1, 1], [1, 0, 1, 1], by=["FR", "US", "US", "FR"], timestamp=times)
    # the last hour ends at 11:30: it holds 10:31 to 11:30 (buckets of a minute)
    assert by_country.by_slice("recall") == {"FR": 1.0, "US": 1.0}
    assert by_country["US"].n_samples == 1 and by_country.overall.n_samples == 2


def test_new_keys_after_the_window_moved_on_and_other_slice():
    s = Sliced(Windowed(Binary(), 60, unit="seconds", buckets=6, max_skew=None), max_slices=2, overflow="other")
    s.update([1, 0], [1, 1], by=["a", "b"], timestamp=T0)
    s.update([1], [0], by=["c"], timestamp=T0 + 600)  # the window moved on; "c" goes to the other slice
    assert s.keys() == ["a", "b", streameval.sliced.OTHER]
    assert s["a"].is_empty and s["b"].is_empty and s[streameval.sliced.OTHER].n_samples == 1
    assert s.by_slice("recall", zero_division=0.0) == {"a": 0.0, "b": 0.0, "__other__": 0.0}
    assert s.worst("accuracy", min_support=1)[0].key == streameval.sliced.OTHER


def test_bad_batches_change_nothing():
    s = Sliced(Windowed(Binary(), 60, unit="seconds", buckets=6, max_skew=100, clock=lambda: float(T0)))
    s.update([1, 0, 1], [1, 1, 0], by=["a", "b", "a"], timestamp=[T0 - 5, T0 - 40, T0])
    before, keys = s.to_bytes(), s.keys()
    bad = [
        dict(y_true=[1, 2], y_pred=[1, 1], by=["z", "a"], timestamp=T0 + 30),  # a label out of range
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z", None], timestamp=T0 + 30),  # a bad key
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z"], timestamp=T0 + 30),  # keys of another length
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z", "a"], timestamp=[T0 + 30]),  # times of another length
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z", "a"], timestamp=[T0 + 30, math.nan]),  # not a time
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z", "a"], timestamp=[T0 + 30, T0 - 3600]),  # late
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z", "a"], timestamp=[T0 + 30, T0 + 9999]),  # too far ahead
        dict(y_true=[1, 1], y_pred=[1, 1], by=["z", "a"], timestamp=T0 - 3600),  # late, one time
        dict(y_true=[1, 0], y_pred=[1, 0], by=["z", "a"], timestamp=[T0 + 500, T0 + 30], late="bad"),
    ]
    for batch in bad:
        with pytest.raises((ValueError, TypeError)) as info:
            s.update(**batch)
        assert s.to_bytes() == before and s.keys() == keys, (batch, info.value)
    # a bad sample in the part that leaves the window within the batch is still refused
    with pytest.raises(ValueError, match=r"y_true\[0\]"):
        s.update([5, 1], [1, 1], by=["z", "a"], timestamp=[T0 + 10, T0 + 90])
    assert s.to_bytes() == before


def test_the_other_compositions_raise_naming_the_supported_one():
    with pytest.raises(TypeError, match=r"Sliced\(Windowed\(accumulator, \.\.\.\)\)"):
        Windowed(Sliced(Binary()), 60, buckets=6)
    with pytest.raises(TypeError, match=r"Sliced\(Windowed\(accumulator, \.\.\.\)\)"):
        Decayed(Sliced(Binary()), 10)
    with pytest.raises(TypeError, match=r"Sliced\(Windowed\(\.\.\.\)\)"):
        Sliced(Decayed(Binary(), 10))
    with pytest.raises(TypeError, match="Sliced wraps"):
        Sliced(Sliced(Binary()))
    used = Windowed(Binary(), 4, buckets=2)
    used.update([1], [1])
    with pytest.raises(ValueError, match="new Windowed"):
        Sliced(used)
    with pytest.raises(ValueError, match="bootstrap"):
        Sliced(Windowed(Binary(bootstrap=3), 4, buckets=2))
    with pytest.raises(TypeError, match="follows one stream's order"):
        check_template(Sliced(Windowed(Binary(), 4, buckets=2)))
    with pytest.raises(ValueError, match="advance"):
        Sliced(Binary()).advance(T0)
    with pytest.raises(ValueError, match="keeps no window"):
        Sliced(Binary()).update([1], [1], by=[1], timestamp=T0)


def test_configuration_and_bounds():
    w = Windowed(Binary(bins=4), 60, unit="seconds", buckets=6, step=30, max_skew=600.0)
    s = Sliced(w, max_slices=5)
    assert s.to_dict()["config"]["accumulator"] == {"kind": "Windowed", "config": w._config()}
    assert "Windowed(Binary" in repr(s) and s.unit == "seconds" and s.max_skew == 600.0
    with pytest.raises(ValueError, match="MAX_STATE_BYTES"):
        Sliced(Windowed(Multiclass(100), 60, unit="seconds", buckets=600), max_slices=10_000)
    with pytest.raises(IncompatibleError):
        s.merge(Sliced(Windowed(Binary(bins=4), 60, unit="seconds", buckets=6, max_skew=600.0), max_slices=5))
    s.update([1, 0], [0.9, 0.2], by=["a", "b"], timestamp=T0)
    s.reset()
    assert s.n_slices == 0 and s.is_empty and s == Sliced(w, max_slices=5)
    # the plain Sliced's configuration is as before: no window key
    assert set(Sliced(Binary()).to_dict()["config"]) == {"accumulator", "max_slices", "overflow", "keys"}
