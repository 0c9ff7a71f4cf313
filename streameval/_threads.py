"""Large batches split over idle cores.

Each chunk of the batch is counted by the ordinary single-thread kernel (they release the GIL)
into zeroed tables of its own; the tables are added to the state only when every chunk is valid,
so a bad sample anywhere leaves the state untouched with no undo. Private tables, never shared
writes: no atomics, no false sharing on the hot counters.

Plain threads rather than numba's ``parallel=True``: on the 2-core machine these were written on,
two threads running the ordinary kernel count 10M pairs in 10 ms, numba's prange version in 13 ms,
and the prange kernels cost seconds of extra compilation on a cold cache.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from typing import Any

import numba
import numpy as np

PARALLEL_MIN = 5 << 17  # batches this large may be split over idle cores (see count_in_chunks); smaller ones never
# Each chunk counts into zeroed tables of its own, added to the state after. Measured with random
# label pairs on 2 cores: split, 100 classes take 0.6-0.7x the time of one thread, 300 classes
# 0.9x, 1000 classes (8 MB tables, which evict each other from the cache) 1.4-2.4x at any batch
# size. So a batch is split only when the tables are small and it has many samples per cell.
SPLIT_CELLS = 1 << 17  # at most this many cells in the states together (a 362-class matrix alone)
SAMPLES_PER_CELL = 16


def threads_for(n_samples: int, minimum: int = PARALLEL_MIN) -> int:
    """How many threads a batch should use: one below ``minimum`` samples, else the idle cores.

    A chunk handed to a core that another process holds finishes late, and the whole batch waits
    for it (measured: 2x slower than one thread). The 1-minute load average, which counts this
    process when it is busy, tells whether the other cores are free.
    """
    if n_samples < minimum:
        return 1
    threads = numba.get_num_threads()  # honours NUMBA_NUM_THREADS
    if threads > 1:
        threads = max(1, min(threads, int(threads + 1.5 - os.getloadavg()[0])))
    return threads


def count_in_chunks(kernel: Callable[..., int], batch: Sequence[np.ndarray], args: Sequence[Any],
                    states: Sequence[np.ndarray]) -> int:
    """``kernel(*batch, *args, *states)``, run over chunks of the batch on idle cores when large.

    ``kernel`` counts the samples of the ``batch`` arrays (sliced together; an empty array, such
    as an absent weight, stays empty) into ``states`` and returns -1, or the index of the first
    sample it could not count, leaving its tables as they were. A batch of PARALLEL_MIN samples
    or more, with SAMPLES_PER_CELL samples per cell of ``states`` and at most SPLIT_CELLS cells,
    is split over the idle cores (threads_for): each chunk counts into zeroed tables shaped like
    ``states``, added to them only when every chunk is valid. Returns the index in the whole
    batch of the first bad sample, or -1.
    """
    n_samples = batch[0].shape[0]
    cells = sum(state.size for state in states)
    small = n_samples < PARALLEL_MIN or cells > SPLIT_CELLS
    threads = 1 if small else threads_for(n_samples, max(PARALLEL_MIN, SAMPLES_PER_CELL * cells))
    if threads == 1:
        return kernel(*batch, *args, *states)
    return _count_split(kernel, batch, args, states, threads)


def _count_split(kernel: Callable[..., int], batch: Sequence[np.ndarray], args: Sequence[Any],
                 states: Sequence[np.ndarray], threads: int) -> int:
    n_samples = batch[0].shape[0]

    def count(lo: int, hi: int, tables: list[np.ndarray]) -> int:
        return kernel(*(a[lo:hi] for a in batch), *args, *tables)

    bounds = np.linspace(0, n_samples, threads + 1).astype(np.int64).tolist()
    tables = [[np.zeros_like(s) for s in states] for _ in range(threads)]
    # The calling thread takes the first chunk itself: one thread hand-off fewer.
    futures = [pool().submit(count, bounds[c], bounds[c + 1], tables[c]) for c in range(1, threads)]
    results = [count(bounds[0], bounds[1], tables[0])] + [f.result() for f in futures]
    for c, bad in enumerate(results):
        if bad >= 0:
            return int(bounds[c] + bad)
    for chunk in tables:
        for state, table in zip(states, chunk):
            state += table
    return -1


@functools.cache
def pool() -> ThreadPoolExecutor:
    """The helper threads, started once: a chunk per idle core besides the calling thread."""
    return ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="streameval")
