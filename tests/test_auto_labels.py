"""Multiclass(labels="auto"): labels discovered as they arrive.

- Streams of int, float, bool and string labels, split into random batches, equal scikit-learn on
  all the data seen so far, with labels=sorted(set(labels seen)) computed here.
- Labels that cannot be sorted together (1 and "a") take the order of arrival; the reference is
  that documented rule written out here, and scikit-learn on the labels encoded in that order.
- Merging workers that saw different labels equals one accumulator fed everything.
- Round trips (bytes, dict, pickle) keep the labels and keep discovering; forged or corrupt
  payloads raise SerializationError.
- Bad input leaves labels and counts exactly as they were.
"""

from __future__ import annotations

import itertools
import json
import pickle
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from helpers import assert_same
from hypothesis import given
from hypothesis import strategies as st

import streameval
from streameval import IncompatibleError, Multiclass, SerializationError, serialization

WEIGHTS = [0.5, 1.0, 2.5]  # dyadic: sums are exact in any order, so merged weighted counts are ==


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def sortable(labels) -> bool:
    return all(isinstance(v, (int, float)) for v in labels) or all(isinstance(v, str) for v in labels)


def expected_order(batches) -> list:
    """The documented order: sorted while sortable, else known labels kept and each batch's new
    labels appended, y_true's first, each in order of first appearance."""
    order: list = []
    for y_true, y_pred, *_ in batches:
        order += [v for v in dict.fromkeys(list(y_true) + list(y_pred)) if v not in order]
        if sortable(order):
            order = sorted(order)
    return order


def as_input(values, as_object: bool):
    """A batch column as numpy would build it, or as an object array (the dict path)."""
    return np.array(values, dtype=object) if as_object else np.array(values)


def fed(acc, batches, as_object=False):
    for y_true, y_pred, w in batches:
        acc.update(as_input(y_true, as_object), as_input(y_pred, as_object), w)
    return acc


def all_samples(batches):
    y_true = [v for b in batches for v in b[0]]
    y_pred = [v for b in batches for v in b[1]]
    weights = None if batches and batches[0][2] is None else [v for b in batches for v in b[2]]
    return y_true, y_pred, weights


def check_matches_sklearn(acc, y_true, y_pred, w, labels):
    """Every metric of acc equals scikit-learn's on the samples with these labels."""
    exact = w is None
    assert list(acc.labels) == labels
    assert_same(acc.confusion_matrix(), skm.confusion_matrix(y_true, y_pred, labels=labels, sample_weight=w), exact, "cm")
    assert_same(acc.accuracy(), skm.accuracy_score(y_true, y_pred, sample_weight=w), exact, "accuracy")
    ratios = [
        (acc.precision, skm.precision_score),
        (acc.recall, skm.recall_score),
        (acc.f1, skm.f1_score),
        (acc.jaccard, skm.jaccard_score),
    ]
    for average in (None, "micro", "macro", "weighted"):
        for ours, ref in ratios:
            expected = ref(y_true, y_pred, labels=labels, average=average, sample_weight=w, zero_division=0.0)
            assert_same(ours(average=average, zero_division=0.0), expected, exact, f"{ref.__name__} {average}")
    assert_same(acc.balanced_accuracy(), skm.balanced_accuracy_score(y_true, y_pred, sample_weight=w), exact, "balanced")
    assert_same(acc.matthews_corrcoef(), skm.matthews_corrcoef(y_true, y_pred, sample_weight=w), exact, "mcc")
    kappa = skm.cohen_kappa_score(y_true, y_pred, labels=labels, sample_weight=w)
    assert_same(acc.cohen_kappa(), kappa, exact, "kappa")
    # an integral float label is that integer: 1.0 prints as 1 (scikit-learn prints 1.0)
    names = [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in labels]
    report = skm.classification_report(y_true, y_pred, labels=labels, target_names=names, sample_weight=w,
                                       output_dict=True, zero_division=0.0)
    ours = acc.report(zero_division=0.0).to_dict()
    assert set(ours) == set(report)
    for key, row in report.items():
        for metric, value in row.items() if isinstance(row, dict) else [(None, row)]:
            assert_same(ours[key] if metric is None else ours[key][metric], value, exact, f"report {key} {metric}")


# --- streams against scikit-learn ---------------------------------------------------------------

LABELS = {
    "int": st.integers(-(2**40), 2**40),
    "float": st.integers(-1000, 1000).map(float),  # scikit-learn takes integral floats only as labels
    "str": st.text("abcxyz", max_size=3),
}


@st.composite
def streams(draw, kind: str, weighted=None, max_batches=5):
    """Batches (y_true, y_pred, weights or None) drawn from a small pool of labels."""
    pool = draw(st.lists(LABELS[kind], min_size=1, max_size=7, unique=True))
    label = st.sampled_from(pool)
    weighted = draw(st.booleans()) if weighted is None else weighted
    batches = []
    for _ in range(draw(st.integers(1, max_batches))):
        pairs = draw(st.lists(st.tuples(label, label, st.sampled_from(WEIGHTS)), max_size=12))
        batches.append(([p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs] if weighted else None))
    return batches


@pytest.mark.parametrize("kind", LABELS)
@given(data=st.data())
def test_stream_matches_sklearn_after_every_batch(kind, data):
    batches = data.draw(streams(kind))
    as_object = data.draw(st.booleans())
    weighted = batches[0][2] is not None
    acc = Multiclass(labels="auto", weighted=weighted)
    for i, (y_true, y_pred, w) in enumerate(batches):
        acc.update(as_input(y_true, as_object), as_input(y_pred, as_object), w)
        seen_true, seen_pred, seen_w = all_samples(batches[: i + 1])
        labels = sorted(set(seen_true) | set(seen_pred))
        if not seen_true:
            assert acc.labels == () and acc.is_empty
            continue
        check_matches_sklearn(acc, seen_true, seen_pred, seen_w, labels)


def test_a_label_sorting_between_known_ones_moves_their_counts():
    acc = Multiclass(labels="auto")
    acc.update([50, 90, 90], [90, 50, 90])
    acc.update([10, 70], [70, 90])  # 10 goes first, 70 between 50 and 90
    acc.update(np.array([60]), np.array([10]))
    y_true, y_pred = [50, 90, 90, 10, 70, 60], [90, 50, 90, 70, 90, 10]
    check_matches_sklearn(acc, y_true, y_pred, None, [10, 50, 60, 70, 90])


def test_bool_labels_sort_as_numbers():
    acc = Multiclass(labels="auto")
    acc.update(np.array([True, False, True]), np.array([True, True, False]))
    assert acc.labels == (False, True)
    check_matches_sklearn(acc, [True, False, True], [True, True, False], None, [False, True])
    acc.update([2, 0], [1, 2])  # 0 and 1 are the labels False and True (equal, same hash)
    assert acc.labels == (False, True, 2)
    expected = skm.confusion_matrix([1, 0, 1, 2, 0], [1, 1, 0, 1, 2], labels=[0, 1, 2])
    np.testing.assert_array_equal(acc.confusion_matrix(), expected)


def test_zero_weight_samples_discover_their_labels():
    acc = Multiclass(labels="auto", weighted=True)
    acc.update(["b", "a", "c"], ["b", "b", "d"], sample_weight=[1.0, 0.0, 2.0])
    check_matches_sklearn(acc, ["b", "a", "c"], ["b", "b", "d"], [1.0, 0.0, 2.0], ["a", "b", "c", "d"])


def test_large_batch_counted_in_chunks():
    """A batch past PARALLEL_MIN is counted in chunks (threads when cores are idle); a fixed-label
    accumulator fed the same batches is the reference."""
    rng = np.random.default_rng(3)
    n = (1 << 20) + 100
    y_true, y_pred = rng.integers(-3, 4, n) * 7, rng.integers(-3, 4, n) * 7
    acc = Multiclass(labels="auto")
    acc.update([14], [0])
    acc.update(y_true, y_pred)
    reference = Multiclass(labels=list(range(-21, 22, 7)))
    reference.update([14], [0])
    reference.update(y_true, y_pred)
    assert acc.labels == reference.labels
    np.testing.assert_array_equal(acc.confusion_matrix(), reference.confusion_matrix())


# --- labels that do not sort together: order of arrival -----------------------------------------


def encoded(values, order):
    position = {label: i for i, label in enumerate(order)}
    return [position[v] for v in values]


def test_unsortable_labels_keep_the_order_of_arrival():
    acc = Multiclass(labels="auto")
    acc.update([3, 1], [1, 3])
    assert acc.labels == (1, 3)  # sorted while sortable
    acc.update(np.array(["b", 2, "b"], dtype=object), np.array(["a", "b", 0], dtype=object))
    order = [1, 3, "b", 2, "a", 0]  # known order kept; y_true's new labels, then y_pred's
    assert list(acc.labels) == order
    acc.update(np.array([9, 7, 1]), np.array([1, 8, 9]))
    order += [9, 7, 8]  # no longer sortable: appended in order of arrival, though they would sort among the numbers
    assert list(acc.labels) == order
    y_true, y_pred = [3, 1, "b", 2, "b", 9, 7, 1], [1, 3, "a", "b", 0, 1, 8, 9]
    expected = skm.confusion_matrix(encoded(y_true, order), encoded(y_pred, order), labels=range(len(order)))
    np.testing.assert_array_equal(acc.confusion_matrix(), expected)
    assert list(acc.report(zero_division=0.0).to_dict())[: len(order)] == [str(label) for label in order]


MIXED = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "z"]), st.sampled_from([(1, 2), ("x",)]))  # None is refused


@given(
    batches=st.lists(st.lists(st.tuples(MIXED, MIXED), max_size=8), min_size=1, max_size=5),
    weighted=st.booleans(),
)
def test_mixed_streams_follow_the_documented_order(batches, weighted):
    """Any hashables; the reference is sklearn on labels encoded in the order the docstring gives."""
    batches = [([p[0] for p in b], [p[1] for p in b], [1.0] * len(b) if weighted else None) for b in batches]
    acc = Multiclass(labels="auto", weighted=weighted)
    for y_true, y_pred, w in batches:
        column = np.empty(len(y_true), dtype=object)  # np.array would turn tuples into rows
        column[:] = y_true
        predicted = np.empty(len(y_pred), dtype=object)
        predicted[:] = y_pred
        acc.update(column, predicted, w)
    order = expected_order(batches)
    assert list(acc.labels) == order
    y_true, y_pred, _ = all_samples(batches)
    if y_true:
        expected = skm.confusion_matrix(encoded(y_true, order), encoded(y_pred, order), labels=range(len(order)))
        assert_same(acc.confusion_matrix(), expected, exact=True)
        assert_same(acc.f1(average=None, zero_division=0.0),
                    skm.f1_score(encoded(y_true, order), encoded(y_pred, order), labels=range(len(order)),
                                 average=None, zero_division=0.0), exact=True)


# --- ignore_index --------------------------------------------------------------------------------


@pytest.mark.parametrize("ignore, kind", [(-100, "int"), ("<pad>", "str"), (-100, "str")])
@given(data=st.data())
def test_ignored_samples_are_skipped_and_add_no_label(ignore, kind, data):
    batches = data.draw(streams(kind, weighted=False))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    padded = []
    for y_true, y_pred, _ in batches:
        y_true = [ignore if rng.random() < 0.3 else v for v in y_true]
        y_pred = [ignore if rng.random() < 0.1 else v for v in y_pred]  # a prediction can be anything
        padded.append((y_true, y_pred, None))
    acc = Multiclass(labels="auto", ignore_index=ignore)
    mixed = kind == "str" and not isinstance(ignore, str)  # numpy would turn -100 among strings into "-100"
    fed(acc, padded, as_object=mixed or data.draw(st.booleans()))
    y_true, y_pred, _ = all_samples(padded)
    kept = [(t, p) for t, p in zip(y_true, y_pred) if t != ignore]
    if not kept:
        assert acc.labels == ()
        return
    y_true, y_pred = [t for t, _ in kept], [p for _, p in kept]
    labels = sorted(set(y_true) | set(y_pred), key=lambda v: (isinstance(v, str), v))
    if sortable(labels):
        check_matches_sklearn(acc, y_true, y_pred, None, labels)
    else:  # the ignore_index predicted for a kept sample is a label like any other
        assert set(acc.labels) == set(labels)


# --- merging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["int", "str"])
@given(data=st.data())
def test_workers_with_different_labels_merge_into_one_pass(kind, data):
    batches = data.draw(streams(kind, max_batches=6))
    weighted = batches[0][2] is not None
    n_workers = data.draw(st.integers(2, 3))
    owner = [data.draw(st.integers(0, n_workers - 1)) for _ in batches]
    workers = [fed(Multiclass(labels="auto", weighted=weighted), [b for b, o in zip(batches, owner) if o == i])
               for i in range(n_workers)]
    one_pass = fed(Multiclass(labels="auto", weighted=weighted), batches)
    saved = [w.to_bytes() for w in workers]
    for order in itertools.permutations(workers):
        assert sum(order) == one_pass
        total = order[0].copy()
        for other in order[1:]:
            total.merge(other)
        assert total == one_pass
    assert workers[0] + workers[1] == workers[1] + workers[0]
    assert [w.to_bytes() for w in workers] == saved  # the arguments are unchanged
    y_true, y_pred, w = all_samples(batches)
    if y_true:
        check_matches_sklearn(sum(workers), y_true, y_pred, w, sorted(set(y_true) | set(y_pred)))


def test_merge_of_unsortable_labels_appends_the_others_new_ones():
    a, b = Multiclass(labels="auto"), Multiclass(labels="auto")
    a.update(["x", 1], ["x", "x"])
    b.update([2, "y", 1], [1, 2, "y"])
    b_before = b.copy()
    merged = a + b
    order = ["x", 1, 2, "y"]  # a's labels, then b's new ones in b's order
    assert list(merged.labels) == order
    reference = Multiclass(labels=order)  # a fixed-label accumulator fed the same samples
    reference.update(np.array(["x", 1], dtype=object), ["x", "x"])  # (a list would become strings)
    reference.update(np.array([2, "y", 1], dtype=object), np.array([1, 2, "y"], dtype=object))
    np.testing.assert_array_equal(merged.confusion_matrix(), reference.confusion_matrix())
    assert list((b + a).labels) == [2, "y", 1, "x"]
    assert b == b_before


def test_merge_with_an_empty_auto_accumulator():
    a = Multiclass(labels="auto")
    a.update(["b", "a"], ["a", "c"])
    empty = Multiclass(labels="auto")
    assert a + empty == a
    assert empty + a == a
    assert empty + empty == Multiclass(labels="auto")


def test_bootstrap_replicates_move_with_their_labels():
    """Every state array with class axes is remapped: the (R, K, K) replicates as the matrix."""
    a = Multiclass(labels="auto", bootstrap=4, seed=1)
    a.update([5, 9, 9], [9, 5, 9])
    b = Multiclass(labels="auto", bootstrap=4, seed=2)
    b.update([7, 1], [5, 7])
    merged = a + b
    assert merged.labels == (1, 5, 7, 9)
    expected = np.zeros((4, 4, 4), dtype=np.int64)  # each worker's replicates at its labels' places
    for source in (a, b):
        where = [merged.labels.index(label) for label in source.labels]
        expected[np.ix_(range(4), where, where)] += source._boot_cm
    np.testing.assert_array_equal(merged._boot_cm, expected)
    np.testing.assert_array_equal(merged.confusion_matrix(), skm.confusion_matrix([5, 9, 9, 7, 1], [9, 5, 9, 5, 7]))
    restored = streameval.from_bytes(merged.to_bytes())
    assert restored == merged
    restored.update([3], [3])
    assert restored.labels == (1, 3, 5, 7, 9) and restored._boot_cm.shape == (4, 5, 5)
    np.testing.assert_array_equal(restored._boot_cm[np.ix_(range(4), [0, 2, 3, 4], [0, 2, 3, 4])], merged._boot_cm)


@pytest.mark.parametrize(
    "make_other",
    [
        lambda: Multiclass(labels=[1, 2]),
        lambda: Multiclass(2),
        lambda: Multiclass(labels="auto", weighted=True),
        lambda: Multiclass(labels="auto", ignore_index=-100),
        lambda: streameval.Binary(),
    ],
    ids=["fixed-labels", "num-classes", "weighted", "ignore-index", "binary"],
)
def test_incompatible_merges_raise_and_change_nothing(make_other):
    auto = Multiclass(labels="auto")
    auto.update([1, 2], [2, 1])
    other = make_other()
    other.update([1], [1])
    auto_bytes, other_bytes = auto.to_bytes(), other.to_bytes()
    for left, right in ((auto, other), (other, auto)):
        with pytest.raises(IncompatibleError):
            left.merge(right)
        with pytest.raises(IncompatibleError):
            left + right
    assert auto.to_bytes() == auto_bytes and other.to_bytes() == other_bytes


# --- serialization -------------------------------------------------------------------------------

ROUND_TRIPS = {
    "bytes": lambda acc: streameval.from_bytes(acc.to_bytes()),
    "dict-json": lambda acc: streameval.from_dict(json.loads(json.dumps(acc.to_dict(), allow_nan=False))),
    "pickle": lambda acc: pickle.loads(pickle.dumps(acc)),
    "copy": lambda acc: acc.copy(),
}


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("kind", ["int", "str"])
@given(data=st.data())
def test_round_trip_then_more_updates_equals_the_original(how, kind, data):
    batches = data.draw(streams(kind, max_batches=6))
    cut = data.draw(st.integers(0, len(batches)))
    weighted = batches[0][2] is not None
    acc = fed(Multiclass(labels="auto", weighted=weighted), batches[:cut])
    payload = acc.to_bytes()
    restored = ROUND_TRIPS[how](acc)
    assert restored == acc and restored.labels == acc.labels
    assert restored.to_bytes() == payload
    fed(restored, batches[cut:])
    assert acc.to_bytes() == payload  # independent
    fed(acc, batches[cut:])
    assert restored == acc
    assert restored == fed(Multiclass(labels="auto", weighted=weighted), batches)
    assert streameval.from_bytes(restored.to_bytes()) == acc  # the cached configuration follows the labels


@pytest.mark.parametrize("how", ROUND_TRIPS)
def test_round_trip_of_unsortable_and_empty_accumulators(how):
    acc = Multiclass(labels="auto", ignore_index="pad", weighted=True)
    empty = ROUND_TRIPS[how](acc)
    assert empty == acc and empty.labels == () and empty.confusion_matrix().shape == (0, 0)
    acc.update(np.array(["b", 3, "pad", 2.5], dtype=object), np.array([True, "b", 9, "b"], dtype=object),
               sample_weight=[1.0, 0.5, 3.0, 2.0])
    restored = ROUND_TRIPS[how](acc)
    assert restored == acc and list(restored.labels) == ["b", 3, 2.5, True]
    for copy in (restored, acc):
        copy.update(np.array(["z", 3], dtype=object), ["b", "y"], sample_weight=[1.0, 1.0])
    assert restored == acc and list(restored.labels) == ["b", 3, 2.5, True, "z", "y"]


def test_serialization_follows_growth_merge_and_reset():
    """to_bytes caches the configuration text: every change of labels must refresh it."""
    acc = Multiclass(labels="auto")
    for step in (
        lambda: acc.update([5], [5]),
        lambda: acc.update([1], [9]),
        lambda: acc.merge(Multiclass(labels="auto", discovered=[0, 7])),
        lambda: acc.reset(),
        lambda: acc.update(["a"], [2]),
    ):
        acc.to_bytes()
        step()
        restored = streameval.from_bytes(acc.to_bytes())
        assert restored == acc and restored.labels == acc.labels
        assert streameval.from_dict(acc.to_dict()) == acc


def test_reset_forgets_the_labels():
    acc = Multiclass(labels="auto", discovered=["q"])
    acc.update(["b", "a"], ["a", "c"])
    acc.reset()
    assert acc == Multiclass(labels="auto") and acc.labels == ()
    acc.update(["z"], ["y"])
    assert acc == fed(Multiclass(labels="auto"), [(["z"], ["y"], None)])


def test_discovered_starts_from_known_labels():
    acc = Multiclass(labels="auto", discovered=[0, 7])
    assert acc.labels == (0, 7) and acc.is_empty and acc.confusion_matrix().shape == (2, 2)
    seen = Multiclass(labels="auto", weighted=True)
    seen.update([7], [0], sample_weight=[0.0])
    assert Multiclass(labels="auto", discovered=[0, 7], weighted=True) == seen
    acc.update([3], [7])
    assert acc.labels == (0, 3, 7)


def auto_payload() -> bytes:
    acc = Multiclass(labels="auto", weighted=True)
    acc.update(np.array(["b", 3, "a"], dtype=object), np.array([3, 3, "c"], dtype=object), sample_weight=[1.0, 2.0, 0.5])
    return acc.to_bytes()


def test_every_truncation_and_bit_flip_is_rejected():
    payload = auto_payload()
    for end in range(len(payload)):
        with pytest.raises(SerializationError):
            streameval.from_bytes(payload[:end])
    rng = np.random.default_rng(0)
    for position in rng.choice(len(payload), size=200):
        corrupt = bytearray(payload)
        corrupt[position] ^= 1 << int(rng.integers(8))
        with pytest.raises(SerializationError):
            streameval.from_bytes(bytes(corrupt))


def reforged(payload: bytes, arrays=None, **config_changes) -> bytes:
    """The payload with its configuration changed, re-encoded with a valid checksum."""
    kind, text, original = serialization.decode(payload)
    config = {**json.loads(text), **config_changes}
    return serialization.encode(kind, json.dumps(config).encode(), original if arrays is None else arrays)


FORGED = {
    "unsorted": dict(discovered=[3, 1, 2]),
    "unsorted-strings": dict(discovered=["b", "a", "c"]),
    "repeated": dict(discovered=["b", 3, "b"]),
    "unhashable": dict(discovered=["b", [3], "a"]),
    "nan": dict(discovered=["b", float("nan"), "a"]),
    "not-a-list": dict(discovered="b3a"),
    "dict": dict(discovered={"b": 3}),
    "too-few-labels": dict(discovered=["b", 3]),
    "too-many-labels": dict(discovered=["b", 3, "a", "c", "d"]),
    "with-bins": dict(bins=10),
    "with-top-k": dict(top_k=2),
    "fixed-labels": dict(labels=["b", 3, "a", "c"]),
    "other-string": dict(labels="automatic"),
    "also-num-classes": dict(num_classes=4),
}


@pytest.mark.parametrize("change", FORGED)
def test_forged_configurations_are_rejected(change):
    payload = auto_payload()
    assert streameval.from_bytes(reforged(payload)).labels == ("b", 3, "a", "c")  # the forger alone is harmless
    with pytest.raises(SerializationError):
        streameval.from_bytes(reforged(payload, **FORGED[change]))
    d = streameval.from_bytes(payload).to_dict()
    d["config"] = {**d["config"], **FORGED[change]}
    with pytest.raises(SerializationError):
        streameval.from_dict(d)


def test_forged_counts_are_rejected():
    payload = auto_payload()
    kind, _, (cm,) = serialization.decode(payload)
    for bad in (-cm, np.full_like(cm, np.nan), cm[:3, :3], cm[None]):
        with pytest.raises(SerializationError):
            streameval.from_bytes(reforged(payload, arrays=[np.ascontiguousarray(bad)]))


# --- bad input -----------------------------------------------------------------------------------

BAD = {
    "nan-true": (dict(y_true=[1.0, 8.0, np.nan], y_pred=[1.0, 2.0, 3.0]), ValueError, r"y_true\[2\] = nan is missing"),
    "inf-pred": (dict(y_true=[1, 8, 9], y_pred=[1.0, 8.0, -np.inf]), ValueError, r"y_pred\[2\] = -inf is not a label"),
    "nan-object": (dict(y_true=np.array([8, "q", float("nan")], dtype=object), y_pred=[1, 2, 3]), ValueError, r"y_true\[2\] = nan"),
    "unhashable": (dict(y_true=[1, 2, 3], y_pred=np.array([8, [1], 2], dtype=object)), TypeError, r"y_pred\[1\] = \[1\] is not a label: it is not hashable"),
    "scores": (dict(y_true=[1, 8], y_pred=[[0.1, 0.9], [0.8, 0.2]]), ValueError, r'y_pred has shape \(2, 2\).*labels="auto" takes no scores'),
    "2d-true": (dict(y_true=[[1, 8]], y_pred=[1, 8]), ValueError, r"y_true has shape \(1, 2\)"),
    "length": (dict(y_true=[1, 8, 9], y_pred=[1, 8]), ValueError, r"y_pred has 2 samples but y_true has 3"),
    "complex": (dict(y_true=np.array([1j, 8]), y_pred=[1, 8]), TypeError, r"y_true has dtype complex"),
    "negative-weight": (dict(y_true=[8, 9, 1], y_pred=[8, 10, 1], sample_weight=[1.0, 2.0, -1.0]), ValueError,
                        r"sample_weight\[2\] = -1.0 is not a valid weight"),
    "nan-weight": (dict(y_true=np.array(["x", 9, 1], dtype=object), y_pred=[8, 10, 1], sample_weight=[np.nan, 2.0, 1.0]), ValueError,
                   r"sample_weight\[0\] = nan"),
    "weight-length": (dict(y_true=[8, 1], y_pred=[8, 1], sample_weight=[1.0]), ValueError, r"sample_weight has 1 samples"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_leaves_labels_and_counts_unchanged(case):
    kwargs, error, match = BAD[case]
    acc = Multiclass(labels="auto", weighted=True)
    acc.update([1, 2, 3], [2, 2, 3], sample_weight=[1.0, 0.5, 2.0])
    before, payload = acc.copy(), acc.to_bytes()
    if "sample_weight" not in kwargs:
        kwargs = {**kwargs, "sample_weight": np.ones(len(kwargs["y_true"]))}
    with pytest.raises(error, match=match):
        acc.update(**kwargs)
    assert acc == before and acc.labels == (1, 2, 3)
    assert acc.to_bytes() == payload
    acc.update([8], [1], sample_weight=[1.0])  # and it keeps working
    before.update([8], [1], sample_weight=[1.0])
    assert acc == before and acc.labels == (1, 2, 3, 8)


def test_weight_on_an_unweighted_auto_accumulator():
    acc = Multiclass(labels="auto")
    acc.update([1], [1])
    with pytest.raises(ValueError, match="sample_weight was given to an unweighted accumulator"):
        acc.update([5], [6], sample_weight=[1.0])
    assert acc.labels == (1,)


def test_ignored_samples_are_not_checked():
    acc = Multiclass(labels="auto", ignore_index=-100)
    # Predictions of ignored samples are neither labels nor errors: NaN, infinite, unhashable.
    acc.update(np.array([-100.0, 1.0, -100.0]), np.array([np.nan, 1.0, np.inf]))
    acc.update(np.array([-100, 2], dtype=object), np.array([[5], 2], dtype=object))
    assert acc.labels == (1, 2)
    np.testing.assert_array_equal(acc.confusion_matrix(), [[1, 0], [0, 1]])


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Multiclass(labels="auto", bins=10), ValueError, r'labels="auto" cannot be combined with bins= or top_k='),
        (lambda: Multiclass(labels="auto", top_k=2), ValueError, r'labels="auto" cannot be combined'),
        (lambda: Multiclass(3, discovered=[0]), ValueError, r'discovered= is only for labels="auto"'),
        (lambda: Multiclass(labels=["a"], discovered=["a"]), ValueError, r'discovered= is only for labels="auto"'),
        (lambda: Multiclass(labels="auto", discovered=[2, 1]), ValueError, r"discovered\[1\] = 1 comes after 2"),
        (lambda: Multiclass(labels="auto", discovered=[1, 1]), ValueError, r"discovered\[1\] = 1 repeats"),
        (lambda: Multiclass(labels="auto", discovered=[np.nan]), ValueError, r"discovered\[0\] = nan is missing"),
        (lambda: Multiclass(labels="auto", discovered="ab"), TypeError, r"expected a list of labels"),
        (lambda: Multiclass(3, labels="auto"), ValueError, r"exactly one of num_classes and labels"),
    ],
)
def test_bad_constructor_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --- an accumulator that has seen no label -------------------------------------------------------


def test_no_label_yet_means_no_classes():
    acc = Multiclass(labels="auto", ignore_index=-1)
    acc.update([-1, -1], [4, 5])  # only ignored samples: still no label
    assert acc.labels == () and acc.num_classes == 0 and acc.n_samples == 0 and acc.is_empty
    assert acc.confusion_matrix().shape == (0, 0)
    assert acc.support().shape == (0,) and acc.f1(average=None).shape == (0,)
    assert np.isnan(acc.accuracy()) and np.isnan(acc.f1())
    for query in (acc.compute, acc.report):
        with pytest.raises(ValueError, match='needs at least one class: this Multiclass\\(labels="auto"\\) has seen no label yet'):
            query()
    acc.update([4], [4])
    assert acc.compute()["accuracy"] == 1.0
