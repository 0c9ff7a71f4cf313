"""Sliced (issue 16): per-slice counts against fairlearn's MetricFrame and scikit-learn per slice."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

import streameval
from streameval import Binary, Multiclass, Multilabel, Sliced, Windowed

fairlearn = pytest.importorskip("fairlearn.metrics")
pd = pytest.importorskip("pandas")

KEYS = st.sampled_from([0, 1, 2, 7, -3])
STR_KEYS = st.sampled_from(["fr", "de", "us", "jp"])


def _batch(draw, n, key_strategy, weighted=False):
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y_pred = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    keys = draw(st.lists(key_strategy, min_size=n, max_size=n))
    return np.array(y_true), np.array(y_pred), keys


@st.composite
def streams(draw, key_strategy=KEYS):
    sizes = draw(st.lists(st.integers(0, 30), min_size=1, max_size=5))
    return [_batch(draw, n, key_strategy) for n in sizes]


def _joined(batches):
    y_true = np.concatenate([b[0] for b in batches]).astype(int)
    y_pred = np.concatenate([b[1] for b in batches]).astype(int)
    keys = [k for b in batches for k in b[2]]
    return y_true, y_pred, keys


def _feed(sliced, batches):
    for y_true, y_pred, keys in batches:
        sliced.update(y_true, y_pred, by=keys)
    return sliced


def _frame(y_true, y_pred, keys, metric=recall_score):
    return fairlearn.MetricFrame(metrics=lambda t, p: metric(t, p, zero_division=0.0), y_true=y_true, y_pred=y_pred,
                                 sensitive_features=pd.Series(keys, dtype=object))


def _same(a, b):
    assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-15), (a, b)


@settings(max_examples=40, deadline=None)
@given(streams(), st.integers(1, 3))
def test_against_metricframe(batches, n_workers):
    """Several updates, spread over workers, merged and round-tripped, equal MetricFrame's answers."""
    workers = [Sliced(Binary()) for _ in range(n_workers)]
    for i, batch in enumerate(batches):
        _feed(workers[i % n_workers], [batch])
    merged = sum(workers[1:], workers[0].copy())
    sliced = pickle.loads(pickle.dumps(streameval.from_bytes(streameval.from_dict(merged.to_dict()).to_bytes())))
    y_true, y_pred, keys = _joined(batches)
    if not keys:
        assert sliced.n_slices == 0 and sliced.overall.is_empty
        return
    frame = _frame(y_true, y_pred, keys)
    assert set(sliced.keys()) == set(frame.by_group.index)
    ours = sliced.by_slice("recall", zero_division=0.0)
    for key, value in frame.by_group.items():
        _same(ours[key], value)
        np.testing.assert_array_equal(sliced[key].confusion_matrix(),
                                      confusion_matrix(y_true[np.array(keys) == key], y_pred[np.array(keys) == key],
                                                       labels=[0, 1]))
    _same(sliced.overall.recall(zero_division=0.0), frame.overall)
    for method in ("between_groups", "to_overall"):
        _same(sliced.difference("recall", method=method, zero_division=0.0), frame.difference(method=method))
        _same(sliced.ratio("recall", method=method, zero_division=0.0), frame.ratio(method=method))
    _same(sliced.group_min("recall", zero_division=0.0), frame.group_min())
    _same(sliced.group_max("recall", zero_division=0.0), frame.group_max())
    sf = pd.Series(keys, dtype=object)
    _same(sliced.demographic_parity_difference(),
          fairlearn.demographic_parity_difference(y_true, y_pred, sensitive_features=sf))
    for method in ("between_groups", "to_overall"):
        _same(sliced.equalized_odds_difference(method=method),
              fairlearn.equalized_odds_difference(y_true, y_pred, sensitive_features=sf, method=method))


@settings(max_examples=25, deadline=None)
@given(streams(STR_KEYS))
def test_multiclass_string_keys_against_sklearn(batches):
    sliced = _feed(Sliced(Multiclass(2)), batches)
    y_true, y_pred, keys = _joined(batches)
    keys = np.array(keys, dtype=object)
    for key in sliced.keys():
        mask = keys == key
        assert sliced[key].accuracy() == accuracy_score(y_true[mask], y_pred[mask])
        _same(sliced[key].f1(average="macro"), f1_score(y_true[mask], y_pred[mask], average="macro", labels=[0, 1],
                                                       zero_division=0.0))
    assert sliced.keys() == list(dict.fromkeys(keys.tolist()))  # in order of first appearance
    assert sliced.n_samples == len(y_true)


def test_key_types_are_one_slice_each():
    """ints, bools, integer floats, numpy arrays, lists, pandas Series and categoricals."""
    s = Sliced(Binary())
    s.update([1, 0, 1], [1, 1, 1], by=np.array([1, 2, 1], dtype=np.int32))
    s.update([1, 0], [0, 0], by=np.array([1.0, 3.0]))
    s.update([1, 0], [1, 0], by=pd.Series([2, 3]))
    s.update([1, 1], [1, 1], by=pd.Categorical(["a", "b"]))
    s.update([1], [1], by=["a"])
    assert s.keys() == [1, 2, 3, "a", "b"]
    assert s[1].n_samples == 3 and s[3].n_samples == 2 and s["a"].n_samples == 2
    with pytest.raises(KeyError, match="not a slice key"):
        s["zz"]


def test_crossed_keys_against_metricframe():
    rng = np.random.default_rng(3)
    n = 500
    y_true, y_pred = rng.integers(0, 2, n), rng.integers(0, 2, n)
    country, device = rng.choice(["fr", "de", "us"], n), rng.integers(0, 3, n)
    s = Sliced(Binary())
    s.update(y_true[:200], y_pred[:200], by=(country[:200], device[:200]))
    s.update(y_true[200:], y_pred[200:], by=(country[200:].tolist(), device[200:]))
    frame = fairlearn.MetricFrame(metrics=recall_score, y_true=y_true, y_pred=y_pred,
                                  sensitive_features=pd.DataFrame({"c": country, "d": device}))
    ours = s.by_slice("recall")
    for (c, d), value in frame.by_group.items():
        _same(ours[(c, d)], value)
    _same(s.difference("recall"), frame.difference())
    assert streameval.from_bytes(s.to_bytes()) == s
    with pytest.raises(ValueError, match="crossed"):
        s.update([1], [1], by=["fr"])


def test_max_slices_raise_is_fail_atomic():
    s = Sliced(Binary(), max_slices=2)
    s.update([1, 0], [1, 0], by=["a", "b"])
    before = s.to_bytes()
    with pytest.raises(ValueError, match="max_slices=2"):
        s.update([1, 0, 1], [1, 1, 1], by=["a", "c", "d"])
    with pytest.raises(ValueError, match="max_slices=2"):
        s.update([1, 0, 1], [1, 1, 1], by=[5, 6, 7])
    assert s.to_bytes() == before and s.keys() == ["a", "b"]
    s.update([1], [0], by=["b"])  # known keys still count
    assert s["b"].n_samples == 2


def test_max_slices_other():
    s = Sliced(Binary(), max_slices=2, overflow="other")
    s.update([1, 0, 1, 1], [1, 0, 0, 1], by=[10, 11, 12, 13])
    assert s.keys() == [10, 11, "__other__"]
    assert s["__other__"].confusion_matrix().tolist() == [[0, 0], [1, 1]]
    s.update([0], [1], by=[14])
    assert s["__other__"].n_samples == 3 and s.n_slices == 3
    t = Sliced(Binary(), max_slices=2, overflow="other")
    t.update([1, 1], [1, 1], by=[20, 10])
    merged = s + t  # 20 is new: past max_slices, into __other__
    assert merged.keys() == [10, 11, "__other__"]
    assert merged["__other__"].n_samples == 4 and merged[10].n_samples == 2
    assert streameval.from_bytes(merged.to_bytes()) == merged


def test_bad_batches_are_fail_atomic():
    s = Sliced(Multiclass(3))
    s.update([0, 1], [0, 2], by=["a", "b"])
    before = s.to_bytes()
    bad = [
        (([0, 5], [0, 1]), {"by": ["c", "d"]}, "y_true"),  # a bad label, with new keys
        (([0, 1], [0, 1]), {"by": ["c", None]}, "by"),  # a missing key
        (([0, 1], [0, 1]), {"by": [1.0, float("nan")]}, "by"),
        (([0, 1], [0, 1]), {"by": ["c"]}, "by"),  # the wrong length
        (([0, 1], [0, 1]), {"by": [["x"], ["y"]]}, "by"),  # not 1-D
    ]
    for args, kwargs, argument in bad:
        with pytest.raises(ValueError) as info:
            s.update(*args, **kwargs)
        assert getattr(info.value, "argument", argument) == argument
        assert s.to_bytes() == before and s.keys() == ["a", "b"]


def test_weighted_and_multilabel_against_sklearn():
    rng = np.random.default_rng(5)
    y_true, y_pred, w = rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.random(300)
    keys = rng.integers(0, 4, 300)
    s = Sliced(Binary(weighted=True))
    s.update(y_true, y_pred, w, by=keys)
    for key in s.keys():
        m = keys == key
        _same(s[key].precision(), precision_score(y_true[m], y_pred[m], sample_weight=w[m]))
    Y, P = rng.integers(0, 2, (300, 3)), rng.integers(0, 2, (300, 3))
    ml = Sliced(Multilabel(3))
    ml.update(Y, P, by=keys)
    for key in ml.keys():
        m = keys == key
        _same(ml[key].f1(average="micro"), f1_score(Y[m], P[m], average="micro"))


def test_worst_with_wilson_intervals():
    s = Sliced(Binary())
    s.update([1] * 3, [0] * 3, by=["tiny"] * 3)  # recall 0 on 3 samples: below min_support
    rng = np.random.default_rng(1)
    for key, rate in (("a", 0.9), ("b", 0.6), ("c", 0.8)):
        y_pred = (rng.random(200) < rate).astype(int)
        s.update(np.ones(200, int), y_pred, by=[key] * 200)
    worst = s.worst("recall", k=2, min_support=30)
    assert [w.key for w in worst] == ["b", "c"]
    recall = s["b"].recall()
    expected = streameval.intervals.wilson(round(recall * 200), 200)
    assert worst[0].value == recall and (worst[0].low, worst[0].high) == pytest.approx(expected)
    assert s.worst("recall", k=1, min_support=0)[0].key == "tiny"


def test_state_vectors_where_keys_agree():
    a, b = Sliced(Binary()), Sliced(Binary())
    a.update([1, 0], [1, 1], by=["x", "y"])
    b.update([0, 1], [0, 1], by=["x", "y"])
    assert a.fingerprint() == b.fingerprint()
    total = a.copy()
    total.load_state_vector(a.state_vector() + b.state_vector())
    assert total == a + b
    c = Sliced(Binary())
    c.update([1], [1], by=["z"])
    assert c.fingerprint() != a.fingerprint()
    assert a + c == c + a  # the same keys and counts, in another order
    assert (a + c).keys() == ["x", "y", "z"] and (c + a).keys() == ["z", "x", "y"]


def test_merge_refuses_other_configurations_and_copies_are_independent():
    a = Sliced(Binary())
    with pytest.raises(streameval.IncompatibleError):
        a.merge(Sliced(Multiclass(2)))
    with pytest.raises(streameval.IncompatibleError):
        a.merge(Sliced(Binary(), max_slices=5))
    b = a.copy()
    b.update([1], [1], by=[1])
    assert a.n_slices == 0 and b.n_slices == 1
    loaded = streameval.from_bytes(b.to_bytes())
    loaded.update([1], [1], by=[2])
    again = streameval.from_bytes(b.to_bytes())
    assert again.keys() == [1]  # loaded objects do not share their keys
    b.reset()
    assert b.n_slices == 0 and b.is_empty


def test_windows_compose_one_way():
    # Sliced(Windowed(...)) is the composition (tests/test_sliced_windows.py); the other raises naming it.
    assert Sliced(Windowed(Multiclass(3), 4, buckets=2)).n_slices == 0
    with pytest.raises(TypeError, match=r"Sliced\(Windowed\(accumulator"):
        Windowed(Sliced(Multiclass(3)), 4, buckets=2)
    assert Sliced._follows_stream_order is False


def test_configuration_is_checked_and_bounded():
    with pytest.raises(ValueError, match="max_slices"):
        Sliced(Binary(), max_slices=0)
    with pytest.raises(ValueError, match="overflow"):
        Sliced(Binary(), overflow="drop")
    with pytest.raises(ValueError, match="MAX_STATE_BYTES"):
        Sliced(Binary(bins=1000), max_slices=10**9)
    with pytest.raises(ValueError, match="bootstrap"):
        Sliced(Binary(bootstrap=3))
    forged = Sliced(Binary(), max_slices=2).to_dict()
    forged["config"]["keys"] = [1, 2, 3]
    forged["state"] = [[[[0, 0], [0, 0]]] * 3]
    with pytest.raises(streameval.SerializationError, match="max_slices"):
        streameval.from_dict(forged)
    forged["config"]["keys"] = [1, True]
    with pytest.raises(streameval.SerializationError, match="repeats"):
        streameval.from_dict(forged)


def test_fairness_review_example_runs():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, str(root / "examples" / "fairness_review.py")], capture_output=True,
                            text=True, timeout=300, cwd=root, check=False)
    assert result.returncode == 0, result.stderr
    assert "fairness review matches fairlearn and scikit-learn: OK" in result.stdout


# --- the fused counting paths (_kernels.sliced): the same state as the general path ---------------


def _general(template, batches):
    """The reference: keys given as Python lists of objects, which only the general path reads."""
    sliced = Sliced(template)
    for y_true, y_pred, keys in batches:
        sliced.update(y_true, y_pred, by=np.array(keys, dtype=object).tolist())
    return sliced


def _counts_by_key(sliced):
    return {key: sliced[key].confusion_matrix().tolist() for key in sliced.keys()}


@pytest.mark.parametrize("kind", ["dense", "table", "int8", "series", "categorical"])
def test_fused_paths_equal_the_general_path(kind, monkeypatch):
    from streameval._kernels import sliced as kernels

    counted = []
    for name in ("count_pairs_by_lookup", "count_pairs_pending", "count_pairs_by_table"):
        def spy(*args, _kernel=getattr(kernels, name), _name=name):
            status = _kernel(*args)
            counted.append((_name, status))
            return status
        monkeypatch.setattr(kernels, name, spy)
    rng = np.random.default_rng(3)
    spread = {"table": 10**12, "int8": 100}.get(kind, 50)
    pool = rng.integers(-spread, spread, 40).astype(np.int8 if kind == "int8" else np.int64)
    batches = []
    for n in (2000, 1500, 0, 20000):  # blocks of 512 (pending counts: 8192): the last batch spans several;
        # later batches reuse and add keys
        keys = pool[rng.integers(0, 25 if len(batches) < 2 else 40, n)]
        batches.append((rng.integers(0, 4, n), rng.integers(0, 4, n), keys))
    fast = Sliced(Multiclass(4))
    for y_true, y_pred, keys in batches:
        by = {"series": lambda: pd.Series(keys), "categorical": lambda: pd.Categorical(keys)}.get(kind, lambda: keys)()
        fast.update(y_true, y_pred, by=by)
        fast.update(y_true, y_pred, by=by)  # all keys known: the fused kernel counts it
    expected = "count_pairs_by_table" if kind == "table" else "count_pairs_pending"  # batches >= cells / 4
    assert (expected, kernels.DONE) in counted and {name for name, _ in counted} == {expected}
    reference = _general(Multiclass(4), [b for b in batches for _ in range(2)])
    assert fast == reference
    if kind != "categorical":  # (a categorical's new keys come in the order of its categories)
        assert fast.keys() == reference.keys()
    assert _counts_by_key(fast) == _counts_by_key(reference)
    y_true, y_pred, keys = (np.concatenate([b[i] for b in batches]) for i in range(3))
    for key in fast.keys():
        mask = keys == key
        np.testing.assert_array_equal(fast[key].confusion_matrix(),
                                      2 * confusion_matrix(y_true[mask], y_pred[mask], labels=range(4)))


def test_fused_path_binary_ignore_index_and_bool_labels():
    rng = np.random.default_rng(4)
    keys = rng.integers(0, 30, 20000)  # several blocks of pending counts
    y_true, y_pred = rng.integers(0, 3, 20000), rng.integers(0, 3, 20000)
    y_true[::7] = -100
    fast = Sliced(Multiclass(3, ignore_index=-100))
    fast.update(y_true, y_pred, by=keys)
    fast.update(y_true, y_pred, by=keys)
    reference = _general(Multiclass(3, ignore_index=-100), [(y_true, y_pred, keys)] * 2)
    assert fast == reference
    kept = y_true != -100
    for key in fast.keys():
        mask = kept & (keys == key)
        np.testing.assert_array_equal(fast[key].confusion_matrix(),
                                      2 * confusion_matrix(y_true[mask], y_pred[mask], labels=range(3)))
    b_true, b_pred = rng.integers(0, 2, 20000).astype(bool), rng.integers(0, 2, 20000).astype(bool)
    binary = Sliced(Binary())
    binary.update(b_true, b_pred, by=keys)
    binary.update(b_true, b_pred, by=keys)
    assert binary == _general(Binary(), [(b_true.astype(int), b_pred.astype(int), keys)] * 2)


@pytest.mark.parametrize("kind", ["dense", "table", "categorical"])
def test_fused_path_is_fail_atomic(kind):
    """A bad label or a missing key found by the fused kernel in a later block leaves keys and
    counts as they were, and the error names the first bad position."""
    rng = np.random.default_rng(5)
    pool = np.array([3, 10**12, 7] if kind == "table" else [3, 5, 7])
    keys = pool[rng.integers(0, 3, 20000)]  # blocks of 512 (pending counts: 8192)
    y_true, y_pred = rng.integers(0, 3, 20000), rng.integers(0, 3, 20000)
    as_by = (lambda k: pd.Categorical(k, categories=pool)) if kind == "categorical" else (lambda k: k)
    sliced = Sliced(Multiclass(3))
    sliced.update(y_true, y_pred, by=as_by(keys))
    before = sliced.copy()
    bad = y_pred.copy()
    bad[17000] = 3
    with pytest.raises(ValueError, match=r"y_pred\[17000\]"):
        sliced.update(y_true, bad, by=as_by(keys))
    assert sliced == before and sliced.keys() == before.keys()
    if kind == "categorical":
        missing = pd.Categorical(keys, categories=pool)
        missing[16500] = np.nan
        with pytest.raises(ValueError, match=r"by\[16500\]"):
            sliced.update(y_true, y_pred, by=missing)
    else:
        sliced = Sliced(Multiclass(3), max_slices=3)
        sliced.update(y_true, y_pred, by=keys)
        before = sliced.copy()
        new = keys.copy()
        new[17500] = 11
        with pytest.raises(ValueError, match=r"by\[17500\] = 11 is a new slice key past max_slices=3"):
            sliced.update(y_true, y_pred, by=new)
    assert sliced == before and sliced.keys() == before.keys()
    sliced.update(y_true, y_pred, by=as_by(keys))  # and counts on
    assert sliced.n_samples == 2 * before.n_samples


def test_fused_pending_counters_carry_exactly_and_undo():
    """Large batches are counted a byte per cell with a 32-bit carry (_slice_fused): exact for
    cells counted thousands of times, and taken back when a later block fails."""
    from streameval._kernels.sliced import PENDING_BLOCK

    n = 2 * PENDING_BLOCK + 500  # three blocks
    keys = np.where(np.arange(n) % 5 == 0, 7, 9)
    y_true, y_pred = np.zeros(n, np.int64), np.zeros(n, np.int64)
    y_true[::3] = 1
    sliced = Sliced(Binary())
    sliced.update(y_true, y_pred, by=keys)  # finds the keys (general path)
    sliced.update(y_true, y_pred, by=keys)  # the fused kernel: cells counted thousands of times
    for key in (7, 9):
        mask = keys == key
        np.testing.assert_array_equal(sliced[key].confusion_matrix(),
                                      2 * confusion_matrix(y_true[mask], y_pred[mask], labels=[0, 1]))
    sliced.update(y_true, y_pred, by=keys)  # pending: carried past 256 and 512 in some cells
    before = sliced.copy()
    bad = y_pred.copy()
    bad[n - 100] = 2  # in the third block: the two before are taken back
    with pytest.raises(ValueError, match=rf"y_pred\[{n - 100}\]"):
        sliced.update(y_true, bad, by=keys)
    assert sliced == before
    sliced.update(y_true, y_pred, by=keys)
    assert sliced[9].confusion_matrix().tolist() == (4 * np.asarray(before[9].confusion_matrix()) // 3).tolist()


def _reference_counts(batches):
    y_true, y_pred, keys = (np.concatenate([b[i] for b in batches]) for i in range(3))
    return {int(key): confusion_matrix(y_true[keys == key], y_pred[keys == key], labels=range(3)).tolist()
            for key in np.unique(keys)}


def test_fused_pending_counters_split_over_threads_are_all_or_nothing(monkeypatch):
    """Split over two threads (each its own row of counters), a bad label or a new key in either
    chunk takes back both chunks' counts; the counters are settled before they could overflow."""
    from streameval import _slice_fused, _threads

    monkeypatch.setattr(_threads, "threads_for", lambda n, minimum=0: 2)
    monkeypatch.setattr(_slice_fused, "LIMIT", 12_000)  # the third large batch settles the counters first
    rng = np.random.default_rng(6)
    n = 5000
    keys = rng.integers(0, 20, n)
    y_true, y_pred = rng.integers(0, 3, n), rng.integers(0, 3, n)
    sliced = Sliced(Multiclass(3))
    counted = []
    for _ in range(4):
        sliced.update(y_true, y_pred, by=keys)
        counted.append((y_true, y_pred, keys))
        assert _counts_by_key(sliced) == _reference_counts(counted)
    assert sliced.__dict__["_pending"].low.shape[0] == 2
    for position in (100, 4900):  # in the first chunk, in the second
        before = sliced.copy()
        bad = y_true.copy()
        bad[position] = 3
        with pytest.raises(ValueError, match=rf"y_true\[{position}\]"):
            sliced.update(bad, y_pred, by=keys)
        assert sliced == before
        new = keys.copy()
        new[position] = 99  # a new key: the fused pass is taken back, the general path counts the batch
        sliced.update(y_true, y_pred, by=new)
        counted.append((y_true, y_pred, new))
        assert _counts_by_key(sliced) == _reference_counts(counted)


def test_fused_pending_counters_by_key_and_by_slot_agree():
    """Keys with no gap in their span (ids 0..S-1 all seen, a categorical whose categories are all
    slices) are counted by key, others by slot; a batch that changes how settles the counters
    first. Every way equals the general path."""
    from streameval._slice_fused import BY_SLOT

    rng = np.random.default_rng(8)
    n = 4000
    batches = []
    fast = Sliced(Multiclass(3))
    for step in range(7):
        spread = 30 if step < 3 else 60  # steps 3..: new keys 30..59, then no gap again
        keys = rng.permutation(spread)[rng.integers(0, spread, n)]
        if step == 5:
            keys[::9] = 1000  # a gap: the span 0..1000 has keys missing
        y_true, y_pred = rng.integers(0, 3, n), rng.integers(0, 3, n)
        by = pd.Categorical(keys) if step == 6 else keys
        fast.update(y_true, y_pred, by=by)
        batches.append((y_true, y_pred, keys))
        pending = fast.__dict__.get("_pending")
        if step in (1, 2):
            assert pending.rows is not BY_SLOT and pending.samples == step * n  # counted by key, pending
        if step == 5:
            fast.update(y_true, y_pred, by=keys)  # keys known now: by slot (the span has gaps)
            batches.append((y_true, y_pred, keys))
            assert fast.__dict__["_pending"].rows is BY_SLOT
    assert _counts_by_key(fast) == _counts_by_key(_general(Multiclass(3), batches))
    assert _counts_by_key(fast) == _reference_counts(batches)


def test_fused_pending_counts_are_seen_by_every_reader():
    """Pending counts are added before anything reads the state: copies, pickles, payloads,
    merges, equality, state vectors; reset forgets them."""
    rng = np.random.default_rng(7)
    n = 3000
    keys = rng.integers(0, 10, n)
    y_true, y_pred = rng.integers(0, 3, n), rng.integers(0, 3, n)
    batches = [(y_true, y_pred, keys)] * 2
    reference = _general(Multiclass(3), batches)

    def pending():
        sliced = Sliced(Multiclass(3))
        for batch in batches:
            sliced.update(batch[0], batch[1], by=batch[2])
        assert sliced.__dict__["_pending"].samples == n  # the second batch is pending
        return sliced

    copy = pending().copy()
    assert copy == reference and _counts_by_key(copy) == _reference_counts(batches)
    assert pickle.loads(pickle.dumps(pending())) == reference
    assert streameval.from_bytes(pending().to_bytes()) == reference
    assert pending().state_vector().tolist() == reference.state_vector().tolist()
    merged = Sliced(Multiclass(3))
    merged.merge(pending())
    assert merged == reference
    mine = pending()
    mine.merge(pending())
    assert _counts_by_key(mine) == _reference_counts(batches * 2)
    original = pending()
    snapshot = original.copy()
    original.update(y_true, y_pred, by=keys)  # counts on without touching the copy
    assert snapshot == reference and _counts_by_key(original) == _reference_counts(batches + batches[:1])
    emptied = pending()
    emptied.reset()
    assert emptied.n_slices == 0 and emptied.is_empty
    emptied.update(y_true, y_pred, by=keys)
    assert _counts_by_key(emptied) == _reference_counts(batches[:1])
