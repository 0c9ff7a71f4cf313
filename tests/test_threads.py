"""Large batches split over threads: the same counts as one thread, the same errors, nothing lost.

Whether a real batch is split depends on the machine's idle cores, so these tests force the
number of chunks; test_parity checks a real PARALLEL_MIN-sized batch end to end.
"""

import numpy as np
import pytest

import streameval
from streameval import _threads


@pytest.fixture(params=[2, 3, 7])
def chunks(request, monkeypatch):
    monkeypatch.setattr(_threads, "threads_for", lambda n, minimum=0: request.param)
    return request.param


def _fed(acc, *batch):
    acc.update(*batch)
    return acc


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "make, scored",
    [(lambda w: streameval.Multiclass(6, weighted=w), False),
     (lambda w: streameval.Binary(0.4, weighted=w), True),
     (lambda w: streameval.Binary(0.4, bins=64, weighted=w), True)],
)
def test_split_batches_count_what_one_thread_counts(chunks, make, scored, weighted, rng):
    n = 5001
    y_true = rng.integers(0, 2 if scored else 6, n)
    y_pred = rng.random(n).astype(np.float32) if scored else rng.integers(0, 6, n)
    w = rng.random(n) if weighted else None
    split = _fed(make(weighted), y_true, y_pred, w)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_threads, "threads_for", lambda n, minimum=0: 1)
        whole = _fed(make(weighted), y_true, y_pred, w)
    for name in whole._spec:
        a, b = getattr(whole, name), getattr(split, name)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
        else:
            assert np.array_equal(a, b), name


@pytest.mark.parametrize("bins", [None, 16])
def test_a_bad_sample_in_a_later_chunk_is_named_and_nothing_is_counted(chunks, bins, rng):
    n = 3000
    y_true, scores = rng.integers(0, 2, n), rng.random(n)
    acc = streameval.Binary(bins=bins)
    acc.update(y_true[:10], scores[:10])
    before = acc.copy()
    scores[[2500, 2900]] = np.nan
    with pytest.raises(ValueError, match=r"y_pred\[2500\]"):
        acc.update(y_true, scores)
    assert acc == before


def test_small_batches_stay_on_the_calling_thread():
    assert _threads.threads_for(_threads.PARALLEL_MIN - 1) == 1
    assert _threads.threads_for(_threads.PARALLEL_MIN) >= 1


def test_only_batches_with_small_tables_and_many_samples_per_cell_are_offered_to_threads(monkeypatch):
    """Private tables of a large state (1000 classes: 8 MB a thread) cost more than the split saves."""
    asked = []
    monkeypatch.setattr(_threads, "threads_for", lambda n, minimum=0: asked.append((n, minimum)) or 1)
    n = _threads.PARALLEL_MIN
    batch = (np.zeros(n, dtype=np.int64),)
    counted = []

    def kernel(y, state):
        counted.append(state.size)
        return -1

    for cells in (100, _threads.SPLIT_CELLS, _threads.SPLIT_CELLS + 1):
        assert _threads.count_in_chunks(kernel, batch, (), (np.zeros(cells),)) == -1
    assert counted == [100, _threads.SPLIT_CELLS, _threads.SPLIT_CELLS + 1]  # each counted once, into its state
    assert asked == [(n, n), (n, _threads.SAMPLES_PER_CELL * _threads.SPLIT_CELLS)]  # the large state: never split
    asked.clear()
    assert _threads.count_in_chunks(kernel, (batch[0][:n - 1],), (), (np.zeros(100),)) == -1
    assert asked == []
