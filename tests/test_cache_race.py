"""numba's cache written by two processes at once (streameval._kernels.counting.LockedCache): each save of an
overload reads the index the one before wrote, so that every signature loads its own code."""

from __future__ import annotations

import importlib.util
import threading

import numba
import pytest
from numba.core import config, types
from numba.core.caching import FunctionCache, IndexDataCacheFile

from streameval._kernels.counting import LockedCache, fcntl


@pytest.mark.skipif(fcntl is None, reason="no file locks on this platform: numba's saves unlocked")
def test_two_saves_at_once_keep_each_signature_s_code(tmp_path, monkeypatch):
    """Two caches of one function (two processes) save two signatures at the same moment: each would read the
    index before the other writes it (a barrier, which the lock makes the second save wait past). Each signature
    then loads its own code. (With numba's FunctionCache both take the same data file: this test fails.)"""
    source = tmp_path / "twice_module.py"
    source.write_text("def twice(x):\n    return x * 2\n")
    spec = importlib.util.spec_from_file_location("twice_module", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    dispatcher = numba.njit(module.twice)
    signatures = [(types.int64,), (types.float64,)]
    for signature in signatures:
        dispatcher.compile(signature)
    results = [dispatcher.overloads[s] for s in signatures]

    both_read = threading.Barrier(2, timeout=2)
    load_index = IndexDataCacheFile._load_index

    def load_then_wait(self):
        overloads = load_index(self)
        try:
            both_read.wait()  # (locked: the second save waits on the lock, and the barrier breaks)
        except threading.BrokenBarrierError:
            pass
        return overloads

    monkeypatch.setattr(IndexDataCacheFile, "_load_index", load_then_wait)
    savers = [threading.Thread(target=LockedCache(module.twice).save_overload, args=(s, r))
              for s, r in zip(signatures, results)]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()
    monkeypatch.setattr(IndexDataCacheFile, "_load_index", load_index)

    fresh = FunctionCache(module.twice)
    loaded = [fresh.load_overload(s, dispatcher.targetctx) for s in signatures]
    assert [r.signature.args for r in loaded] == signatures
    assert loaded[0].entry_point(3) == 6 and loaded[1].entry_point(1.5) == 3.0
