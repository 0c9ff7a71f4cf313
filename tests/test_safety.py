"""Thread safety (one accumulator, many threads) and atomic checkpoints (save / streameval.load)."""

import os
import threading

import warnings

import numpy as np
import pytest
from helpers import assert_same_state, draw_stream, is_plain, layout_of

import streameval
from streameval import checkpoint
from streameval.errors import SerializationError

THREADS = 8


def _run_threads(target, n=THREADS):
    """Start n threads on target(i) together; re-raise the first exception any of them hit."""
    errors = []
    start = threading.Barrier(n)

    def run(i):
        try:
            start.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a thread is stuck: deadlock?"
    if errors:
        raise errors[0]


def _batches(seed, k, count=60, size=20_000):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, k, size), rng.integers(0, k, size)) for _ in range(count)]


def test_updates_from_many_threads_give_the_exact_total():
    k = 5
    work = [_batches(i, k) for i in range(THREADS)]
    acc = streameval.Multiclass(k)
    _run_threads(lambda i: [acc.update(yt, yp) for yt, yp in work[i]])
    expected = sum(np.bincount(yt * k + yp, minlength=k * k) for batches in work for yt, yp in batches)
    assert np.array_equal(acc.confusion_matrix().ravel(), expected)


def _cells(acc) -> dict:
    labels, cm = list(acc.labels), acc.confusion_matrix()
    return {(t, p): cm[i, j] for i, t in enumerate(labels) for j, p in enumerate(labels)}


@pytest.mark.configs(where=is_plain)
def test_every_registered_configuration_counts_as_one_thread_from_many(configuration):
    """Four threads feeding one object count what one thread feeding their batches does: the same
    state where the order of batches does not matter, the same counts where it does (bootstrap
    draws, a compacting table's groups, labels that do not sort)."""
    layout = layout_of(configuration.make())
    work = [draw_stream(layout, configuration.batches, np.random.default_rng([3, i]), [300] * 8) for i in range(4)]
    acc, one_thread = configuration.make(), configuration.make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an exact table's compaction warning
        _run_threads(lambda i: [batch.feed(acc) for batch in work[i]], n=4)
        for batches in work:
            for batch in batches:
                batch.feed(one_thread)
    assert acc.n_samples == one_thread.n_samples
    if not configuration.commutes:  # labels in their order of arrival: the count of each (true, predicted) pair
        assert _cells(acc) == _cells(one_thread)
    elif configuration.associates and "bootstrap" not in layout.config:
        assert_same_state(acc, one_thread, "threads")
    else:
        assert np.array_equal(acc.confusion_matrix(), one_thread.confusion_matrix())


def test_binned_scores_from_many_threads_give_the_exact_histogram():
    rng = np.random.default_rng(3)
    work = [[(rng.integers(0, 2, 5000), rng.random(5000)) for _ in range(30)] for _ in range(THREADS)]
    acc = streameval.Binary(bins=32)
    _run_threads(lambda i: [acc.update(yt, s) for yt, s in work[i]])
    one_thread = streameval.Binary(bins=32)
    for batches in work:
        for yt, s in batches:
            one_thread.update(yt, s)
    assert np.array_equal(acc.confusion_matrix(), one_thread.confusion_matrix())
    assert np.array_equal(acc._hist, one_thread._hist)


def test_queries_and_merges_while_updating_see_whole_batches():
    """Readers never see half a batch: every batch and every merge adds a multiple of 1000."""
    k = 4
    acc = streameval.Multiclass(k)
    seen = []

    def target(i):
        if i < 4:  # writers
            for yt, yp in _batches(i, k, count=40, size=1000):
                acc.update(yt, yp)
        elif i < 6:  # readers
            for _ in range(300):
                seen.append(acc.n_samples)
                acc.compute()
        else:  # mergers: each merge adds part's running total, j * 1000 after j batches
            part = streameval.Multiclass(k)
            for yt, yp in _batches(100 + i, k, count=20, size=1000):
                part.update(yt, yp)
                acc.merge(part)
                seen.append(acc.copy().n_samples)

    _run_threads(target)
    assert seen and all(n % 1000 == 0 for n in seen)
    assert acc.n_samples == 4 * 40 * 1000 + 2 * sum(range(1, 21)) * 1000


def test_crossed_merges_and_comparisons_do_not_deadlock():
    """a.merge(b) and b.merge(a) at once: each takes both locks, always in the same order."""
    a, b = streameval.Multiclass(3), streameval.Multiclass(3)  # empty: merging keeps them finite

    def target(i):
        x, y = (a, b) if i % 2 else (b, a)
        for _ in range(5000):
            x.merge(y)
            assert x == y

    _run_threads(target, n=4)


# --- checkpoints ---------------------------------------------------------------------------------


def _filled():
    accs = [streameval.Multiclass(4), streameval.Binary(bins=16), streameval.Multilabel(3, weighted=True)]
    rng = np.random.default_rng(0)
    accs[0].update(rng.integers(0, 4, 100), rng.integers(0, 4, 100))
    accs[1].update(rng.integers(0, 2, 100), rng.random(100))
    accs[2].update(rng.integers(0, 2, (100, 3)), rng.integers(0, 2, (100, 3)), rng.random(100))
    return accs


@pytest.mark.parametrize("index", range(3))
def test_save_then_load_gives_the_same_accumulator(tmp_path, index):
    acc = _filled()[index]
    acc.save(tmp_path / "ckpt.sevl")
    assert streameval.load(tmp_path / "ckpt.sevl") == acc
    acc.save(str(tmp_path / "ckpt.sevl"))  # str paths, and overwriting, work too
    assert streameval.load(str(tmp_path / "ckpt.sevl")) == acc
    assert os.listdir(tmp_path) == ["ckpt.sevl"]  # no temporary file left behind


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    old, new = _filled()[0], _filled()[0]
    new.update([1, 2, 3], [1, 2, 3])
    path = tmp_path / "ckpt.sevl"
    old.save(path)

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    monkeypatch.undo()
    assert streameval.load(path) == old
    assert os.listdir(tmp_path) == ["ckpt.sevl"]


def test_an_interrupted_rename_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    old = _filled()[1]
    path = tmp_path / "ckpt.sevl"
    old.save(path)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _filled()[0].save(path)
    monkeypatch.undo()
    assert streameval.load(path) == old
    assert os.listdir(tmp_path) == ["ckpt.sevl"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_a_corrupt_checkpoint_raises_serialization_error(tmp_path, damage):
    path = tmp_path / "ckpt.sevl"
    _filled()[1].save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x10
    elif damage == "empty":
        data = b""
    else:
        data = os.urandom(200)
    path.write_bytes(bytes(data))
    with pytest.raises(SerializationError):
        checkpoint.load(path)


def test_loading_a_missing_checkpoint_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        streameval.load(tmp_path / "nothing.sevl")
