"""The state-vector protocol: adding the vectors of workers is merging them."""

import numpy as np
import pytest

import streameval


def _workers(make, feed, n_workers=3, seed=0):
    """n_workers accumulators from make(), each fed its own shard by feed(acc, rng); and one fed all."""
    workers, whole = [make() for _ in range(n_workers)], make()
    for i, acc in enumerate(workers):
        rng_a, rng_b = np.random.default_rng([seed, i]), np.random.default_rng([seed, i])
        feed(acc, rng_a)
        feed(whole, rng_b)
    return workers, whole


def _labels(acc, rng):
    acc.update(rng.integers(0, 4, 50), rng.integers(0, 4, 50))


def _binary_scores(acc, rng):
    acc.update(rng.integers(0, 2, 80), rng.random(80))


def _multilabel_scores(acc, rng):
    acc.update(rng.integers(0, 2, (40, 3)), rng.random((40, 3)))


def _words(acc, rng):
    acc.update(rng.choice(["ant", "bee", "cat"], 30), rng.choice(["bee", "cat", "dog"], 30))


def _timed(acc, rng):
    for t in (100.0, 130.0, 170.0):
        acc.update(rng.integers(0, 4, 20), rng.integers(0, 4, 20), timestamp=t + rng.random())


CASES = {
    "multiclass": (lambda: streameval.Multiclass(4), _labels),
    "binary bins": (lambda: streameval.Binary(bins=16), _binary_scores),
    "multilabel bins": (lambda: streameval.Multilabel(3, bins=8), _multilabel_scores),
    "windowed seconds": (lambda: streameval.Windowed(streameval.Multiclass(4), 120, unit="seconds", buckets=4), _timed),
    "decayed seconds": (lambda: streameval.Decayed(streameval.Multiclass(4), 60, unit="seconds"), _timed),
}


def _summed(workers):
    """Worker 0's accumulator with the sum of every worker's vector loaded."""
    assert len({w.fingerprint() for w in workers}) == 1
    total = workers[0].copy()
    total.load_state_vector(sum(w.state_vector() for w in workers))
    return total


@pytest.mark.parametrize("case", CASES)
def test_summed_vectors_equal_merging_and_one_accumulator_fed_everything(case):
    make, feed = CASES[case]
    workers, whole = _workers(make, feed)
    if case.endswith("seconds"):  # rings and decay add up only when aligned on the same time
        for acc in workers + [whole]:
            acc.advance(200.0)
    total = _summed(workers)
    assert total == sum(workers)
    # float sums (score sums, calibration, decay) add in another order than one accumulator's
    np.testing.assert_allclose(total.state_vector(), whole.state_vector(), rtol=1e-12, atol=1e-12)
    if case in ("multiclass", "windowed seconds"):  # integer counts: exactly
        assert total == whole


def test_discovered_labels_add_once_the_label_sets_agree():
    workers, whole = _workers(lambda: streameval.Multiclass(labels="auto"), _words)
    assert _summed(workers) == whole
    odd = streameval.Multiclass(labels="auto")
    odd.update(["ant"], ["eel"])
    assert odd.fingerprint() != workers[0].fingerprint()  # other labels: no silent misaligned sum


def test_bootstrap_replicates_add_up():
    workers = [streameval.Multiclass(3, bootstrap=20, seed=(0, i)) for i in range(3)]
    for i, acc in enumerate(workers):
        rng = np.random.default_rng(i)
        acc.update(rng.integers(0, 3, 60), rng.integers(0, 3, 60))
    total = _summed(workers)
    assert np.array_equal(total._cm, sum(w._cm for w in workers))
    assert np.array_equal(total._boot_cm, sum(w._boot_cm for w in workers))


@pytest.mark.parametrize("other", [
    lambda: streameval.Multiclass(5),
    lambda: streameval.Multiclass(4, weighted=True),
    lambda: streameval.Binary(bins=16),
    lambda: streameval.Multiclass(4, bootstrap=10),
])
def test_fingerprints_differ_when_vectors_must_not_be_added(other):
    assert streameval.Multiclass(4).fingerprint() != other().fingerprint()


def test_fingerprints_of_windows_include_their_position_in_time():
    a = streameval.Windowed(streameval.Multiclass(2), 60, unit="seconds", buckets=3)
    b = a.copy()
    a.update([0], [1], timestamp=100.0)
    b.update([0], [1], timestamp=100.0)
    assert a.fingerprint() == b.fingerprint()
    b.advance(161.0)
    assert a.fingerprint() != b.fingerprint()


def test_the_vector_is_float64_and_loading_it_back_changes_nothing():
    acc = streameval.Multiclass(3)
    acc.update([0, 1, 2, 2], [0, 2, 2, 1])
    vector = acc.state_vector()
    assert vector.dtype == np.float64 and vector.flags.c_contiguous
    vector[0] += 1  # a copy: the accumulator is not touched
    copy = acc.copy()
    copy.load_state_vector(acc.state_vector())
    assert copy == acc and copy.confusion_matrix().dtype == np.int64


@pytest.mark.parametrize("damage, message", [
    (lambda v: v[:-1], "has 8 values"),
    (lambda v: np.append(v, 0.0), "has 10 values"),
    (lambda v: np.where(np.arange(9) == 4, np.nan, v), r"vector\[4\] = nan"),
    (lambda v: np.where(np.arange(9) == 2, -1.0, v), r"vector\[2\] = -1.0"),
    (lambda v: np.where(np.arange(9) == 7, 0.5, v), r"vector\[7\] = 0.5 .*whole numbers"),
    (lambda v: v.reshape(3, 3), "1-D"),
])
def test_a_bad_vector_is_refused_and_changes_nothing(damage, message):
    acc = streameval.Multiclass(3)
    acc.update([0, 1, 2], [0, 1, 1])
    before = acc.copy()
    with pytest.raises(ValueError, match=message):
        acc.load_state_vector(damage(acc.state_vector()))
    assert acc == before
