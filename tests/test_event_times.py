"""Per-event timestamps (issue 16): Windowed and Decayed updates whose timestamp= holds one time
per sample equal feeding the samples one at a time in time order (sorted by time, stable), the
reference here; a batch refused (a time too old for the ring, too far ahead, not a time) leaves
the state exactly as it was. datetime64, pandas and pyarrow times equal their epoch seconds.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from helpers import assert_same, assert_same_state
from hypothesis import strategies as st

from streameval import Binary, Decayed, InputError, Multiclass, Multilabel, TimestampError, Windowed
from streameval._event_times import times_of

WEIGHTS = np.array([0.0, 0.5, 1.0, 2.0, 2.5])  # dyadic: sums of a few are exact in any order


class FakeClock:
    def __init__(self, now=1e6):
        self.now = now

    def __call__(self):
        return self.now


# (factory, kind of batch, weighted, span of times drawn)
WINDOWS = {
    "multiclass": (lambda: Windowed(Multiclass(4), 40, unit="seconds", buckets=4, clock=FakeClock()), "classes",
                   False),
    "multiclass-weighted-hopping": (lambda: Windowed(Multiclass(4, weighted=True), 40.0, unit="seconds", buckets=8,
                                                     step=20.0, clock=FakeClock()), "classes", True),
    "binary-bins": (lambda: Windowed(Binary(bins=4), 30, unit="seconds", buckets=3, clock=FakeClock()), "scores",
                    False),
    "binary-bins-weighted": (lambda: Windowed(Binary(bins=[0.2, 0.7], weighted=True), 30, unit="seconds",
                                              buckets=6, step=10, clock=FakeClock()), "scores", True),
    "multilabel": (lambda: Windowed(Multilabel(3), 20, unit="seconds", buckets=2, clock=FakeClock()), "multilabel",
                   False),
    "multilabel-weighted": (lambda: Windowed(Multilabel(3, weighted=True), 12.5, unit="seconds", buckets=5,
                                             clock=FakeClock()), "multilabel", True),
}
DECAYS = {
    "multiclass": (lambda: Decayed(Multiclass(4), 10.0, unit="seconds", clock=FakeClock()), "classes", False),
    "binary-bins-weighted": (lambda: Decayed(Binary(bins=4, weighted=True), 5.0, unit="seconds", clock=FakeClock()),
                             "scores", True),
    "multilabel": (lambda: Decayed(Multilabel(3), 7.0, unit="seconds", clock=FakeClock()), "multilabel", False),
}


def draw_batch(kind, rng, n):
    if kind == "classes":
        return rng.integers(0, 4, n), rng.integers(0, 4, n)
    if kind == "scores":
        return rng.integers(0, 2, n), rng.integers(0, 9, n) / 8
    return rng.integers(0, 2, (n, 3)), rng.integers(0, 2, (n, 3))


def too_old(window, t):
    """Documented: a time before the start of the oldest bucket the ring keeps, (floor(T / width)
    - buckets + 1) * width, T the latest time seen (none yet: nothing is too old)."""
    seen = window._latest_seen()
    if seen is None:
        return np.zeros(np.shape(t), dtype=bool)
    width = window.size / window.buckets
    latest = round(seen / width) - 1
    return np.asarray(t) < (latest - window.buckets + 1) * width


def sample(arr, i):
    return None if arr is None else arr[i:i + 1]


def one_at_a_time(acc, y, p, w, t):
    """The reference: a batch with one time counted as it is; one with a time per sample, its
    samples one at a time in time order."""
    if np.ndim(t) == 0:
        acc.update(y, p, w, timestamp=t)
        return
    for i in np.argsort(t, kind="stable"):
        acc.update(y[i:i + 1], p[i:i + 1], sample(w, i), timestamp=float(t[i]))


@st.composite
def streams(draw, span):
    """Batches (seed, size, times: one scalar or an array on a quarter-second grid, which go back
    in time now and then)."""
    batches = []
    base = 1000.0
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(0, 12))
        base += draw(st.integers(-int(2 * span), int(3 * span))) / 4
        if draw(st.booleans()) and n:
            times = base + np.array(draw(st.lists(st.integers(-int(6 * span), int(6 * span)), min_size=n,
                                                  max_size=n))) / 4
        else:
            times = base
        batches.append((draw(st.integers(0, 2**31)), n, times))
    return batches


def assert_same_metrics(ours, theirs):
    """Lists of metric dicts alike: same keys, values equal to 1e-12 (NaN equals NaN)."""
    assert [list(d) for d in ours] == [list(d) for d in theirs]
    for a, b in zip(ours, theirs):
        assert_same(list(a.values()), list(b.values()), False, "reported window")


@pytest.mark.parametrize("name", sorted(WINDOWS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_windowed_equals_one_at_a_time(name, data):
    make, kind, weighted = WINDOWS[name]
    ours, reference = make(), make()
    reported, expected = [], []
    if data.draw(st.booleans(), "callbacks"):  # the bucket-by-bucket path: windows closing within a batch
        ours.on_window(reported.append)
        reference.on_window(expected.append)
    for seed, n, times in data.draw(streams(ours.size), "stream"):
        rng = np.random.default_rng(seed)
        y, p = draw_batch(kind, rng, n)
        w = WEIGHTS[rng.integers(0, 5, n)] if weighted and rng.random() < 0.8 else None
        if too_old(ours, times).any():
            before = ours.to_bytes()
            with pytest.raises(TimestampError) as error:
                ours.update(y, p, w, timestamp=times)
            assert error.value.reason == "late" and error.value.argument == "timestamp"
            if np.ndim(times):
                assert error.value.index == int(np.argmax(too_old(ours, times)))
            assert ours.to_bytes() == before
            continue
        ours.update(y, p, w, timestamp=times)
        one_at_a_time(reference, y, p, w, times)
        assert_same_state(ours, reference)  # counts (integers, dyadic weights: exact), ring and position
    assert_same_metrics(reported, expected)


@pytest.mark.parametrize("name", sorted(DECAYS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_decayed_equals_one_at_a_time(name, data):
    make, kind, weighted = DECAYS[name]
    ours, reference = make(), make()
    for seed, n, times in data.draw(streams(ours.half_life * 4), "stream"):
        rng = np.random.default_rng(seed)
        y, p = draw_batch(kind, rng, n)
        w = WEIGHTS[rng.integers(0, 5, n)] if weighted and rng.random() < 0.8 else None
        ours.update(y, p, w, timestamp=times)
        one_at_a_time(reference, y, p, w, times)
        assert ours._time.tolist() == reference._time.tolist()
        assert_same_state(ours, reference)


def test_every_bucket_in_one_pass():
    """A batch landing in every bucket of the ring (and some samples that leave it within the
    batch) is counted in one kernel call, equal to one at a time."""
    rng = np.random.default_rng(5)
    ours = Windowed(Multiclass(5), 60, unit="seconds", buckets=6, clock=FakeClock())
    reference = ours.copy()
    times = 1_000_000 / 10 + rng.permutation(np.arange(0, 90, 0.5))  # 90 s: 9 buckets of 10 s, 3 of them leave
    y, p = rng.integers(0, 5, times.size), rng.integers(0, 5, times.size)
    ours.update(y, p, timestamp=times)
    one_at_a_time(reference, y, p, None, times)
    assert ours.to_bytes() == reference.to_bytes()
    assert (ours._cm.reshape(6, -1).sum(axis=1) == 20).all()  # every bucket holds its 20 samples
    assert ours.n_samples == 120


def test_refused_batches_change_nothing():
    clock = FakeClock(10_000.0)
    w = Windowed(Multiclass(3), 60, unit="seconds", buckets=6, max_skew=100.0, clock=clock)
    d = Decayed(Multiclass(3), 30.0, unit="seconds", max_skew=100.0, clock=clock)
    for acc in (w, d):
        acc.update([0, 1, 2], [0, 1, 1], timestamp=np.array([9000.0, 9010.0, 9005.0]))
        before = acc.to_bytes()
        cases = [
            (np.array([9000.0, 10_200.0, 10_050.0]), TimestampError, 1),  # more than max_skew ahead of both
            (np.array([9000.0, np.nan, 9001.0]), InputError, 1),
            (np.array([9000.0, 9001.0, np.inf]), InputError, 2),
            (np.array(["2024-01-01T00:00", "NaT", "2024-01-01T00:00"], dtype="datetime64[s]"), InputError, 1),
            (np.array([9000.0, "soon", 9000.0], dtype=object), InputError, 1),
        ]
        if acc is w:
            cases.append((np.array([9000.0, 8000.0, 8900.0]), TimestampError, 1))  # older than the ring
        for times, error, index in cases:
            with pytest.raises(error) as raised:
                acc.update([0, 1, 2], [0, 1, 1], timestamp=times)
            assert raised.value.argument == "timestamp" and raised.value.index == index, raised.value
            assert f"timestamp[{index}]" in str(raised.value)
            assert acc.to_bytes() == before
        with pytest.raises(ValueError, match="expected one per sample"):
            acc.update([0, 1, 2], [0, 1, 1], timestamp=np.array([9000.0, 9001.0]))
        with pytest.raises(InputError) as raised:  # a bad label, the window moving on: nothing changes
            acc.update([0, 1, 7], [0, 1, 1], timestamp=np.array([9000.0, 9050.0, 9100.0]))
        assert raised.value.argument == "y_true" and raised.value.index == 2
        assert acc.to_bytes() == before


def test_future_is_relative_to_the_time_before_the_batch():
    """The bounds are those of the state before the batch: a batch cannot vouch for its own
    times (one wrong time far ahead, then another further still)."""
    w = Windowed(Multiclass(3), 60, unit="seconds", buckets=6, max_skew=100.0, clock=FakeClock(0.0))
    with pytest.raises(TimestampError) as raised:
        w.update([0, 0], [0, 0], timestamp=np.array([90.0, 180.0]))
    assert raised.value.reason == "future" and raised.value.index == 1
    assert w.is_empty


def test_other_units_refuse_time_arrays():
    for acc in (Windowed(Multiclass(3), 6, buckets=2), Decayed(Multiclass(3), 2.0, unit="updates")):
        unit = acc.unit
        with pytest.raises(ValueError, match=f"counts {unit}"):
            acc.update([0, 1], [0, 1], timestamp=np.array([1.0, 2.0]))
        assert acc.is_empty


def test_late_drop():
    w = Windowed(Multiclass(3), 60, unit="seconds", buckets=6, clock=FakeClock())
    reference = w.copy()
    w.update([0], [0], timestamp=10_000.0)
    reference.update([0], [0], timestamp=10_000.0)
    times = np.array([10_001.0, 9000.0, 9990.0, 8000.0, 10_030.0])
    y, p = np.array([0, 1, 2, 1, 2]), np.array([0, 1, 1, 1, 2])
    w.update(y, p, timestamp=times, late="drop")
    kept = times >= 9950.0  # the oldest bucket kept starts at 9950
    one_at_a_time(reference, y[kept], p[kept], None, times[kept])
    assert w.to_bytes() == reference.to_bytes() and w.n_dropped == 2
    w.update([0, 0], [0, 0], timestamp=5000.0, late="drop")  # one time, too old: the batch is dropped
    assert w.to_bytes() == reference.to_bytes() and w.n_dropped == 4
    with pytest.raises(ValueError, match="late="):
        w.update([0], [0], timestamp=10_000.0, late="count")


def test_inputs_of_any_rank_share_their_row_time():
    rng = np.random.default_rng(2)
    ours = Windowed(Multiclass(3), 60, unit="seconds", buckets=6, clock=FakeClock())
    reference = ours.copy()
    y, p = rng.integers(0, 3, (8, 2, 3)), rng.integers(0, 3, (8, 2, 3))
    times = 10_000 + rng.integers(0, 120, 8).astype(float)
    ours.update(y, p, timestamp=times)
    for i in np.argsort(times, kind="stable"):
        reference.update(y[i:i + 1], p[i:i + 1], timestamp=float(times[i]))
    assert ours.to_bytes() == reference.to_bytes()
    d, d_ref = Decayed(Multiclass(3), 20.0, unit="seconds", clock=FakeClock()), None
    d_ref = d.copy()
    d.update(y, p, timestamp=times)
    for i in np.argsort(times, kind="stable"):
        d_ref.update(y[i:i + 1], p[i:i + 1], timestamp=float(times[i]))
    np.testing.assert_allclose(d._cm, d_ref._cm, rtol=1e-12)


SECONDS = np.array([1_700_000_000.25, 1_700_000_003.5, 1_699_999_990.0, 1_700_000_030.75])


def datetime_forms():
    """(name, the times SECONDS in another form)."""
    ns = (SECONDS * 4).astype(np.int64) * 250_000_000
    forms = [
        ("datetime64[ns]", ns.astype("datetime64[ns]")),
        ("datetime64[us]", (ns // 1000).astype("datetime64[us]")),
        ("datetime64[ms]", (ns // 10**6).astype("datetime64[ms]")),
        ("float32 list", [float(t) for t in SECONDS]),
    ]
    pd = pytest.importorskip("pandas")
    index = pd.to_datetime(ns, unit="ns")
    forms += [
        ("pandas DatetimeIndex", index),
        ("pandas Series", pd.Series(index)),
        ("pandas Series tz-aware", pd.Series(index.tz_localize("UTC").tz_convert("Asia/Tokyo"))),
        ("pandas Series of seconds", pd.Series(SECONDS)),
    ]
    pa = pytest.importorskip("pyarrow")
    forms += [
        ("pyarrow timestamp[ms, tz]", pa.array(ns // 10**6, pa.timestamp("ms", tz="Europe/Paris"))),
        ("pyarrow timestamp[ns]", pa.array(ns, pa.timestamp("ns"))),
        ("pyarrow chunked", pa.chunked_array([pa.array(ns[:2] // 1000, pa.timestamp("us")),
                                             pa.array(ns[2:] // 1000, pa.timestamp("us"))])),
    ]
    return forms


def test_datetimes_are_their_epoch_seconds():
    for name, form in datetime_forms():
        np.testing.assert_array_equal(times_of(form), SECONDS, err_msg=name)
        for make in (lambda: Windowed(Multiclass(3), 60, unit="seconds", buckets=6),
                     lambda: Decayed(Binary(), 10.0, unit="seconds")):
            ours, theirs = make(), make()
            ours.update([0, 1, 1, 0], [0, 1, 0, 0], timestamp=form)
            theirs.update([0, 1, 1, 0], [0, 1, 0, 0], timestamp=SECONDS)
            assert ours.to_bytes() == theirs.to_bytes(), name
    # Scalars: a datetime64 (any unit), a pandas Timestamp, a pyarrow TimestampScalar
    pd, pa = pytest.importorskip("pandas"), pytest.importorskip("pyarrow")
    for scalar in (np.datetime64(1_700_000_000_250, "ms"), np.datetime64("2023-11-14T22:13:20.250"),
                   pd.Timestamp(1_700_000_000.25, unit="s"), pd.Timestamp(1_700_000_000.25, unit="s", tz="UTC"),
                   pa.scalar(1_700_000_000_250, pa.timestamp("ms"))):
        assert times_of(scalar) == 1_700_000_000.25, scalar
    assert times_of(np.array(["2024"], dtype="datetime64[Y]"))[0] == 1_704_067_200.0
    assert math.isnan(times_of(np.datetime64("NaT")))
