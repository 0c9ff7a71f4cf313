"""Hostile state: what merges, state vectors, payloads, checkpoints and windows must refuse.

Every refusal is checked for its exception type and message and for leaving the state exactly as
it was. References are scikit-learn and the documented bounds of streameval.limits; memory cases
run in a subprocess under an address-space cap (tests/memlimit.py).
"""

import json
import os
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from memlimit import run_limited
from sklearn.metrics import confusion_matrix, roc_auc_score

import streameval
from streameval import Binary, Decayed, IncompatibleError, Multiclass, Multilabel, SerializationError, Windowed
from streameval import limits, serialization
from streameval.errors import TimestampError

DAY = 86400.0


def _payload(kind: int, config: dict, arrays: list) -> bytes:
    """A payload written field by field, as a forger would."""
    return serialization.encode(kind, json.dumps(config).encode(), [np.asarray(a) for a in arrays])


# --- 1. states that are not sums stay out of the state-vector protocol ------------------------------


def test_summed_exact_tables_would_add_scores_so_the_protocol_refuses_them():
    a, b = Binary(exact=True), Binary(exact=True)
    a.update([1, 0], [0.8, 0.1])
    b.update([1, 0], [0.05, 0.9])
    before = a.to_bytes()
    for call in (a.state_vector, a.fingerprint, lambda: a.load_state_vector(np.zeros(8))):
        with pytest.raises(IncompatibleError, match=r"exact score table.*merge\(\)"):
            call()
    assert a.to_bytes() == before
    # merge() is the exact way, and gives scikit-learn's AUC of the pooled samples
    assert (a + b).roc_auc() == pytest.approx(roc_auc_score([1, 0, 1, 0], [0.8, 0.1, 0.05, 0.9]))  # 0.25


SUMMABLE = [
    lambda: Multiclass(3),
    lambda: Multiclass(labels="auto"),
    lambda: Multiclass(3, bins=4, top_k=2, bootstrap=3),
    lambda: Binary(bins=8, weighted=True),
    lambda: Multilabel(2, bins=4),
    lambda: Windowed(Multiclass(3), 60, unit="seconds", buckets=3),
    lambda: Decayed(Binary(), 30, unit="seconds"),
]
NOT_SUMS = [
    (lambda: Binary(exact=True), "exact score table"),
    (lambda: Binary(exact=True, bootstrap=4, weighted=False), "exact score table"),
    (lambda: Windowed(Multiclass(3), 10, buckets=2), "only unit='seconds'"),
    (lambda: Windowed(Binary(), 4, unit="updates", buckets=2), "only unit='seconds'"),
    (lambda: Decayed(Binary(), 3.0), "only unit='seconds'"),
    (lambda: Decayed(Multiclass(2), 3.0, unit="updates"), "only unit='seconds'"),
]


@pytest.mark.parametrize("make", SUMMABLE)
def test_every_sum_of_counts_says_so(make):
    acc = make()
    assert acc.unsummable_reason() is None
    acc.load_state_vector(acc.state_vector())


@pytest.mark.parametrize("make, reason", NOT_SUMS)
def test_every_state_that_is_not_a_sum_refuses_the_protocol_with_its_reason(make, reason):
    acc = make()
    assert reason in acc.unsummable_reason()
    for call in (acc.state_vector, acc.fingerprint, lambda: acc.load_state_vector([])):
        with pytest.raises(IncompatibleError, match=reason):
            call()


words = st.sampled_from(["ant", "bee", "cat", "dog", "eel"])


@given(first=st.lists(words, min_size=1, max_size=6), second=st.lists(words, min_size=1, max_size=6))
def test_discovered_labels_are_in_the_fingerprint(first, second):
    a, b = Multiclass(labels="auto"), Multiclass(labels="auto")
    a.update(first, first[::-1])
    b.update(second, second[::-1])
    assert (a.fingerprint() == b.fingerprint()) == (a.labels == b.labels)
    if a.labels == b.labels:  # then, and only then, the vectors add up to the merge
        total = a.copy()
        total.load_state_vector(a.state_vector() + b.state_vector())
        assert total == a + b


def test_window_and_decay_positions_are_in_the_fingerprint_not_in_the_vector():
    window = Windowed(Multiclass(2), 60, unit="seconds", buckets=3)
    decayed = Decayed(Multiclass(2), 60, unit="seconds")
    for acc, count_cells in ((window, 3 * 4), (decayed, 4)):
        acc.update([0, 1], [0, 0], timestamp=100.0)
        later = acc.copy()
        later.advance(1000.0)
        assert acc.state_vector().size == count_cells  # the position (_position, _time) is not a count
        assert acc.fingerprint() != later.fingerprint()
        same_time = acc.copy()
        same_time.load_state_vector(acc.state_vector() * 0)  # counts change, the position does not
        assert same_time.fingerprint() == acc.fingerprint()


# --- 2. counts that would overflow are refused where they enter -------------------------------------


def _int_counts(total_per_cell: int, k: int = 2) -> Multiclass:
    """A Multiclass(k) holding total_per_cell in cell (0, 0), read from a dict (as a payload would be)."""
    state = np.zeros((k, k), dtype=object)
    state[0, 0] = total_per_cell
    return streameval.from_dict({"format": "streameval", "version": 1, "kind": "Multiclass",
                                 "config": Multiclass(k).to_dict()["config"], "state": [state.tolist()]})


def test_a_vector_beyond_float64s_exact_integers_is_refused_unchanged():
    acc = Multiclass(2)
    acc.update([0, 1], [1, 1])
    before = acc.to_bytes()
    for vector, position in [([1e19, 0, 0, 5], 0), ([0, 0, np.inf, 5], 2), (np.array([0, 2**53 + 1, 0, 0]), 1),
                             ([0, 0, 0, -np.inf], 3), ([0, 0, 0, 2.0**60], 3)]:
        with pytest.raises(OverflowError, match=rf"vector\[{position}\] = .* overflows _cm"):
            acc.load_state_vector(vector)
        assert acc.to_bytes() == before
    acc.load_state_vector(np.array([2**53, 0, 0, 1]))  # the largest exact count is taken
    assert acc.confusion_matrix()[0, 0] == 2**53


def test_a_vector_whose_total_passes_max_count_or_float64_is_refused_unchanged():
    acc = Multiclass(23)  # 529 cells of 2**53 make more than 2**62
    before = acc.to_bytes()
    with pytest.raises(OverflowError, match=r"_cm\) totals more than streameval.limits.MAX_COUNT"):
        acc.load_state_vector(np.full(23 * 23, 2.0**53))
    assert acc.to_bytes() == before
    weighted = Multiclass(2, weighted=True)
    with pytest.raises(OverflowError, match="totals more than float64 holds"):
        weighted.load_state_vector([1e308, 1e308, 0, 0])
    assert weighted.is_empty


def test_an_accumulator_holding_more_than_2_53_in_a_cell_has_no_exact_vector():
    acc = _int_counts(2**53 + 1)
    with pytest.raises(OverflowError, match="above 2\\*\\*53"):
        acc.state_vector()


finite_or_not = st.one_of(
    st.integers(0, 50).map(float),
    st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.5, 1e19, 2.0**53, 2.0**53 + 2, -1e300]),
)


@given(values=st.lists(finite_or_not, min_size=4, max_size=4))
def test_any_vector_either_loads_exactly_or_changes_nothing(values):
    acc = Multiclass(2)
    acc.update([0, 1, 1], [0, 0, 1])
    before = acc.to_bytes()
    vector = np.array(values)
    not_counts = np.isnan(vector) | (vector < 0) & np.isfinite(vector) & (np.abs(vector) <= 2**53) | \
        (vector != np.round(vector)) & np.isfinite(vector)
    overflows = np.isinf(vector) | (np.abs(vector) > 2**53)
    try:
        acc.load_state_vector(vector)
    except (ValueError, OverflowError) as exc:
        assert acc.to_bytes() == before
        assert not_counts.any() or overflows.any()
        if not not_counts.any():
            assert isinstance(exc, OverflowError)
    else:
        assert not (not_counts.any() or overflows.any())
        assert np.array_equal(acc.state_vector(), vector)


def test_an_int64_merge_that_would_wrap_is_refused_unchanged():
    a, b = _int_counts(2**62), _int_counts(2**62)
    before_a, before_b = a.to_bytes(), b.to_bytes()
    for call in (lambda: a.merge(b), lambda: a + b, lambda: sum([a, b])):
        with pytest.raises(OverflowError, match=r"_cm would total more than streameval.limits.MAX_COUNT"):
            call()
    assert a.to_bytes() == before_a and b.to_bytes() == before_b
    assert (a + _int_counts(0)).confusion_matrix()[0, 0] == 2**62  # reaching the bound is fine


def test_weighted_sums_that_would_reach_inf_are_refused_at_the_merge():
    a = Multiclass(2, weighted=True)
    a.update([0], [1], sample_weight=[1e308])
    b = a.copy()
    with pytest.raises(OverflowError, match="_cm would total more than the largest float64"):
        a.merge(b)
    assert a == b and streameval.from_bytes(a.to_bytes()) == a  # still a valid payload


def test_every_kind_of_merge_checks_its_totals(monkeypatch):
    # Each merge path with a small bound: totals that fit one side but not the sum are refused.
    auto_a, auto_b = Multiclass(labels="auto"), Multiclass(labels="auto")
    auto_a.update(["x"] * 6, ["x"] * 6)
    auto_b.update(["y"] * 6, ["y"] * 6)  # other labels: the merge lays both out again
    exact_a, exact_b = Binary(exact=True), Binary(exact=True)
    exact_a.update([1] * 6, np.linspace(0, 1, 6))
    exact_b.update([0] * 6, np.linspace(0, 1, 6))
    boot_a, boot_b = Multiclass(2, bootstrap=50, seed=1), Multiclass(2, bootstrap=50, seed=2)
    boot_a.update([0, 1], [0, 1])
    boot_b.update([0, 1], [0, 1])
    window_a = Windowed(Multiclass(2), 60, unit="seconds", buckets=2)
    window_a.update([0] * 6, [0] * 6, timestamp=time.time())
    window_b = window_a.copy()
    cases = [(auto_a, auto_b, "_cm"), (exact_a, exact_b, "_cm"), (boot_a, boot_b, "_boot_cm"),
             (window_a, window_b, "_cm")]
    monkeypatch.setattr(limits, "MAX_COUNT", 11)  # boot: about 100 per side; others: 6 per side (12 per bucket)
    for a, b, name in cases:
        before_a, before_b = a.to_bytes(), b.to_bytes()
        with pytest.raises(OverflowError, match=f"counts {name} would total more than"):
            a.merge(b)
        assert a.to_bytes() == before_a and b.to_bytes() == before_b
    decayed_a = Decayed(Multiclass(2, weighted=True), 10, unit="seconds")
    decayed_a.update([0], [0], sample_weight=[1e308], timestamp=time.time())
    decayed_b = decayed_a.copy()
    before = decayed_a.to_bytes()
    with pytest.raises(OverflowError, match="more than the largest float64"):
        decayed_a.merge(decayed_b)
    assert decayed_a.to_bytes() == before


def test_window_and_decay_updates_that_would_overflow_change_nothing():
    window = Windowed(Multiclass(2, weighted=True), 60, unit="seconds", buckets=4)
    window.update([0], [0], sample_weight=[1e307], timestamp=100.0)
    before = window.to_bytes()
    # a bucket may hold a quarter of the largest float64, so that the four always add up
    with pytest.raises(OverflowError, match=r"the largest float64 / 4 \(a bucket's share"):
        window.update([0], [1], sample_weight=[1e308], timestamp=101.0)
    assert window.to_bytes() == before
    window.update([0], [1], sample_weight=[1e307], timestamp=116.0)  # another bucket: fine
    decayed = Decayed(Multiclass(2, weighted=True), 1e9, unit="updates")
    decayed.update([0], [0], sample_weight=[1.5e308])
    before = decayed.to_bytes()
    with pytest.raises(OverflowError, match="more than the largest float64; nothing was counted"):
        decayed.update([1], [1], sample_weight=[1.5e308])
    assert decayed.to_bytes() == before


def test_window_vectors_and_payloads_keep_each_bucket_within_its_share():
    window = Windowed(Multiclass(2, weighted=True), 60, unit="seconds", buckets=4)
    window.update([0], [0], sample_weight=[1.0], timestamp=100.0)
    before = window.to_bytes()
    for value, error in ((np.inf, r"vector\[0\] = inf overflows _cm"),
                         (1e308, r"largest float64 / 4.*nothing was loaded")):
        vector = window.state_vector()
        vector[0] = value
        with pytest.raises(OverflowError, match=error):
            window.load_state_vector(vector)
        assert window.to_bytes() == before
    forged = window.to_dict()
    forged["state"][0][0][0][0] = 1e308  # one bucket of four: the ring's sum could reach inf
    with pytest.raises(SerializationError, match=r"a bucket of _cm totals more than its share \(1 / 4\)"):
        streameval.from_dict(forged)


def test_payloads_whose_counts_total_more_than_max_count_are_corrupt():
    config = Multiclass(2).to_dict()["config"]
    for state in ([[[2**62, 2**50], [0, 0]]], [[[2**61 * 3, 2**61 * 3], [0, 0]]]):  # the second wraps int64
        with pytest.raises(SerializationError, match="total more than limits.MAX_COUNT"):
            streameval.from_dict({"format": "streameval", "version": 1, "kind": "Multiclass", "config": config,
                                  "state": state})
        payload = _payload(2, config, [np.array(state[0], dtype=np.int64)])
        with pytest.raises(SerializationError, match="total more than limits.MAX_COUNT"):
            streameval.from_bytes(payload)
    weighted = Multiclass(2, weighted=True).to_dict()["config"]
    with pytest.raises(SerializationError, match="total more than the largest float64"):
        streameval.from_bytes(_payload(2, weighted, [np.array([[1e308, 1e308], [0, 0]])]))


cells = st.one_of(st.integers(-3, 2**64), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=2),
                  st.lists(st.integers(0, 3), max_size=2))


@given(state=st.lists(st.lists(cells, min_size=0, max_size=3), min_size=0, max_size=3))
def test_from_dict_takes_exact_counts_or_raises_serialization_error(state):
    d = {"format": "streameval", "version": 1, "kind": "Multiclass", "config": Multiclass(2).to_dict()["config"],
         "state": [state]}
    try:
        acc = streameval.from_dict(d)
    except SerializationError:
        return
    # accepted: exactly the whole, non-negative numbers given (no bool, no wrap-around, no rounding)
    flat = [v for row in state for v in row]
    assert all(type(v) in (int, float) and v >= 0 and v == int(v) for v in flat)
    assert acc.confusion_matrix().ravel().tolist() == [int(v) for v in flat]
    assert sum(int(v) for v in flat) <= limits.MAX_COUNT


def test_deeply_nested_dicts_are_corrupt_not_a_recursion_error():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    for d in ({"format": "streameval", "version": 1, "kind": "Binary", "config": deep, "state": []},
              {"format": "streameval", "version": 1, "kind": "Binary", "config": {}, "state": [deep]}):
        with pytest.raises(SerializationError):
            streameval.from_dict(d)


# --- 3. small inputs that would allocate without bound -----------------------------------------------


def test_bootstrap_is_bounded_in_the_constructor_and_in_payloads():
    for make in (lambda r: Binary(bootstrap=r), lambda r: Multiclass(3, bootstrap=r),
                 lambda r: Multilabel(2, bootstrap=r)):
        with pytest.raises(ValueError, match="more replicates than streameval.limits.MAX_BOOTSTRAP = 10,000"):
            make(limits.MAX_BOOTSTRAP + 1)
        make(limits.MAX_BOOTSTRAP)
    # The 184-byte payload of the issue: labels="auto", zero-size arrays, bootstrap=10**8.
    config = {"num_classes": None, "labels": "auto", "ignore_index": None, "weighted": False, "discovered": [],
              "bootstrap": 10**8}
    payload = _payload(2, config, [np.zeros((0, 0), np.int64), np.zeros((10**8, 0, 0), np.int64)])
    assert len(payload) < 200
    with pytest.raises(SerializationError, match="MAX_BOOTSTRAP"):
        streameval.from_bytes(payload)


def test_hostile_payloads_fail_fast_under_a_memory_cap():
    result = run_limited("""
        import json, numpy as np, streameval
        from streameval import serialization
        from streameval.errors import SerializationError
        def payload(kind, config, arrays):
            return serialization.encode(kind, json.dumps(config).encode(), arrays)
        auto = {"num_classes": None, "labels": "auto", "ignore_index": None, "weighted": False, "discovered": []}
        cases = [
            payload(2, {**auto, "bootstrap": 10**9}, [np.zeros((0, 0), np.int64), np.zeros((10**9, 0, 0), np.int64)]),
            payload(2, {**auto, "discovered": list(range(100_000))}, [np.zeros((0, 0), np.int64)]),
            payload(2, {"num_classes": 10**6, "labels": None, "ignore_index": None, "weighted": False},
                    [np.zeros((0, 0), np.int64)]),
            payload(4, {"accumulator": {"kind": "Multiclass", "config": {"num_classes": 100}}, "size": 10**9,
                        "unit": "samples", "buckets": 10**7, "step": None}, []),
            payload(1, {"threshold": 0.5, "bins": 10**9}, []),
        ]
        for data in cases:
            try:
                streameval.from_bytes(data)
            except SerializationError as exc:
                print("refused:", str(exc)[:80].replace("\\n", " "))
    """, 400 << 20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("refused:") == 5, result.stdout


def test_every_configuration_is_bounded_by_max_state_bytes():
    for make in (lambda: Multiclass(20_000), lambda: Multilabel(10**8), lambda: Binary(bins=10**9),
                 lambda: Multiclass(labels=list(range(20_000))),
                 lambda: Windowed(Multiclass(100), 10**7, buckets=10**6),
                 lambda: Windowed(Binary(bins=1000), 1e9, unit="seconds", buckets=10**6)):
        with pytest.raises(ValueError, match="bytes of count state, more than streameval.limits.MAX_STATE_BYTES"):
            make()


def test_the_bound_is_a_setting(monkeypatch):
    monkeypatch.setattr(limits, "MAX_STATE_BYTES", 100)
    with pytest.raises(ValueError, match="MAX_STATE_BYTES = 100"):
        Multiclass(4)  # 128 bytes
    Multiclass(3)


def test_loading_dev_zero_is_refused_at_the_magic_bytes():
    result = run_limited("""
        import streameval
        try:
            streameval.load("/dev/zero")
        except streameval.SerializationError as exc:
            print(exc)
    """, 64 << 20, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "magic mismatch" in result.stdout


def test_load_reads_no_more_than_max_payload_bytes(monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "MAX_PAYLOAD_BYTES", 1 << 16)
    fifo = tmp_path / "endless"
    os.mkfifo(fifo)
    written = [0]

    def endless():  # a valid start, then bytes for ever (until the reader closes the pipe)
        try:
            with open(fifo, "wb") as f:
                f.write(Multiclass(2).to_bytes()[:8])
                while written[0] < 1 << 30:
                    f.write(b"\0" * 4096)
                    written[0] += 4096
        except BrokenPipeError:  # also when the file is closed
            pass

    writer = threading.Thread(target=endless, daemon=True)
    writer.start()
    with pytest.raises(SerializationError, match="more than streameval.limits.MAX_PAYLOAD_BYTES = 65,536"):
        streameval.load(fifo)
    writer.join(timeout=30)
    assert written[0] < 1 << 20  # stopped at the bound (plus what the pipe buffered), not at the end


def test_large_payloads_leave_no_prototype_behind():
    serialization._prototype.cache_clear()
    small, large = Multiclass(3), Multiclass(600)  # 2.9 MB of counts
    for acc in (small, large):
        assert streameval.from_bytes(acc.to_bytes()) == acc
    assert serialization._prototype.cache_info().currsize == 1  # only the small one is kept for reuse


def test_payloads_over_max_payload_bytes_are_neither_written_nor_read(monkeypatch, tmp_path):
    acc = Multiclass(50)
    payload = acc.to_bytes()
    monkeypatch.setattr(limits, "MAX_PAYLOAD_BYTES", len(payload) - 1)
    with pytest.raises(SerializationError, match="larger than streameval.limits.MAX_PAYLOAD_BYTES"):
        streameval.from_bytes(payload)
    with pytest.raises(SerializationError, match="from_bytes and streameval.load refuse"):
        acc.to_bytes()
    path = tmp_path / "big.sevl"
    with pytest.raises(SerializationError):
        acc.save(path)
    assert os.listdir(tmp_path) == []  # no checkpoint, no temporary file


# --- 4. far-future timestamps ------------------------------------------------------------------------


def test_one_far_future_timestamp_no_longer_disables_a_window():
    now = time.time()
    window = Windowed(Multiclass(2), 60, unit="seconds", buckets=6)
    decayed = Decayed(Multiclass(2), 60, unit="seconds")
    for acc in (window, decayed):
        acc.update([0], [0], timestamp=now)
        before = acc.to_bytes()
        with pytest.raises(TimestampError, match="more than max_skew=86400.0 seconds ahead") as caught:
            acc.update([1], [1], timestamp=99999999999)
        assert caught.value.reason == "future" and acc.to_bytes() == before
        with pytest.raises(TimestampError):
            acc.advance(99999999999)
        acc.update([1], [1], timestamp=now + 1)  # the real lines are still counted
    np.testing.assert_array_equal(window.confusion_matrix(), confusion_matrix([0, 1], [0, 1]))
    assert decayed.n_samples == pytest.approx(1 + 0.5 ** (1 / 60))


@pytest.mark.parametrize("make", [lambda **kw: Windowed(Multiclass(2), 60, unit="seconds", buckets=3, **kw),
                                  lambda **kw: Decayed(Multiclass(2), 60, unit="seconds", **kw)])
def test_a_far_future_position_does_not_come_in_through_a_merge(make):
    now = time.time()
    ours, forged = make(), make(max_skew=None)
    ours.update([0], [0], timestamp=now)
    forged.update([1], [1], timestamp=99999999999)
    forged = streameval.from_dict({**forged.to_dict(), "config": ours.to_dict()["config"]})  # a worker's payload
    before = ours.to_bytes()
    with pytest.raises(TimestampError, match="latest time of the merged one.*more than max_skew") as caught:
        ours.merge(forged)
    assert caught.value.reason == "future" and ours.to_bytes() == before
    later = lambda: now + 10 * DAY  # noqa: E731  (ours paused for ten days; the clock moved on)
    recent = make(clock=later)
    recent.update([1], [1], timestamp=later())
    ours.clock = later
    expected = recent.copy().merge(ours)
    assert ours.merge(recent) == expected


def test_late_samples_raise_a_timestamp_error_with_the_old_message():
    window = Windowed(Binary(), 10, unit="seconds", buckets=2)
    window.update([1], [1], timestamp=1000.0)
    with pytest.raises(TimestampError, match=r"timestamp=980.0 is older than the window: the oldest bucket kept "
                                             r"starts at 995.0") as caught:
        window.update([1], [1], timestamp=980.0)
    assert caught.value.reason == "late" and isinstance(caught.value, ValueError)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@given(steps=st.lists(st.tuples(st.floats(-10, 3 * DAY), st.booleans()), min_size=1, max_size=12))
def test_the_skew_bound_follows_the_latest_time_and_the_clock(steps):
    """A timestamp is refused (as future) exactly when it is more than max_skew ahead of both the end
    of the latest bucket and the clock; a refusal changes nothing; the clock may run ahead (a pause)."""
    clock = Clock(0.0)
    window = Windowed(Multiclass(2), 100, unit="seconds", buckets=4, max_skew=DAY, clock=clock)
    reference = Windowed(Multiclass(2), 100, unit="seconds", buckets=4, max_skew=None, clock=clock)
    latest_t = None  # the latest time counted; the window knows the end of its bucket (25 s wide)
    for offset, pause in steps:
        if pause:
            clock.now += offset  # the process slept; the stream resumes from the clock's time
        t = clock.now + offset if pause else (latest_t or 0.0) + offset
        latest_end = clock.now if latest_t is None else (np.floor(latest_t / 25) + 1) * 25
        ahead = t > max(latest_end, clock.now) + DAY
        before = window.to_bytes()
        try:
            window.update([0], [0], timestamp=t)
        except TimestampError as exc:
            assert (exc.reason == "future") == ahead and window.to_bytes() == before
            continue
        assert not ahead
        reference.update([0], [0], timestamp=t)
        latest_t = t if latest_t is None else max(latest_t, t)
    assert window.snapshot() == reference.snapshot()


def test_max_skew_is_configuration_written_only_when_not_the_default():
    default = Windowed(Binary(), 10, unit="seconds", buckets=2)
    assert "max_skew" not in default.to_dict()["config"]
    assert b"max_skew" not in default.to_bytes()  # payloads of earlier versions stay the same
    for value in (60.0, None):
        for acc in (Windowed(Binary(), 10, unit="seconds", buckets=2, max_skew=value),
                    Decayed(Binary(), 10, unit="seconds", max_skew=value)):
            assert acc.to_dict()["config"]["max_skew"] == value
            back = streameval.from_bytes(acc.to_bytes())
            assert back == acc and back.max_skew == value
            with pytest.raises(IncompatibleError):
                acc.merge(type(acc)(Binary(), 10, unit="seconds", **({"buckets": 2} if acc._KIND == 4 else {})))
    unbounded = Windowed(Binary(), 10, unit="seconds", buckets=2, max_skew=None)
    unbounded.update([1], [1], timestamp=1e15)  # no bound: the caller knows its times
    for bad in (0, -1.0, float("nan"), float("inf"), "1 day", True):
        with pytest.raises(ValueError, match="max_skew="):
            Windowed(Binary(), 10, unit="seconds", buckets=2, max_skew=bad)
    with pytest.raises(ValueError, match="max_skew=60.0 is for unit='seconds'"):
        Windowed(Binary(), 10, buckets=2, max_skew=60.0)


# --- 5. adding what is not an accumulator -------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: Multiclass(2), lambda: Binary(exact=True),
                                  lambda: Windowed(Binary(), 4, buckets=2), lambda: Decayed(Binary(), 2.0)])
def test_adding_something_else_is_a_type_error(make):
    acc = make()
    acc.update([1, 0], [0.9, 0.6] if isinstance(acc, Binary) else [1, 1])
    before = acc.to_bytes()
    for add in (lambda: acc + 1, lambda: acc + "x", lambda: 1.0 + acc, lambda: acc + True, lambda: sum([acc, 1]),
                lambda: acc + np.zeros(2).tolist()):
        with pytest.raises(TypeError, match="unsupported operand") as caught:
            add()
        assert not isinstance(caught.value, IncompatibleError)
    other = acc
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \+=") as caught:
        other += 1
    assert not isinstance(caught.value, IncompatibleError) and other is acc
    other += 0
    assert other is acc and acc.to_bytes() == before
    with pytest.raises(IncompatibleError, match=r"with 1 \(type int\): merge\(\) takes another"):
        acc.merge(1)
    assert acc.to_bytes() == before


# --- siblings --------------------------------------------------------------------------------------


def test_a_tiny_half_life_decays_to_zero_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for unit in ("samples", "updates"):
            decayed = Decayed(Binary(), 5e-324, unit=unit)
            decayed.update([1, 0, 1], [1, 0, 0])
            decayed.update([1], [1])
            assert decayed.n_samples == 1.0  # only the newest sample keeps its weight


def test_a_checkpoint_file_over_max_payload_bytes_is_refused(monkeypatch, tmp_path):
    path = tmp_path / "big.sevl"
    Multiclass(50).save(path)
    monkeypatch.setattr(limits, "MAX_PAYLOAD_BYTES", os.path.getsize(path) - 1)
    with pytest.raises(SerializationError, match="more than streameval.limits.MAX_PAYLOAD_BYTES"):
        streameval.load(path)  # refused by its size, before it is read
