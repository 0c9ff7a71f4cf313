"""Precompile streameval's kernels into numba's on-disk cache: ``python -m streameval.warmup``.

numba compiles a kernel the first time it sees a combination of argument types, which takes a
second or so per combination. Run this once after installing (in a Docker build step, say) so
that the first update of a new process only loads machine code from the cache. Later processes
find it in the package's ``__pycache__``, or in numba's per-user cache directory when the package
directory is read-only.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from .accumulator import Accumulator
from .binary import Binary
from .multiclass import Multiclass
from .multilabel import Multilabel

LABEL_DTYPES = ("int64", "int32", "uint8", "bool", "float64")
SCORE_DTYPES = ("float32", "float64")


def warm(verbose: bool = False) -> int:
    """Run one tiny update through every common kernel signature; returns how many were run."""
    y = np.array([0, 1, 1, 0])
    runs: list[tuple[Accumulator, np.ndarray, np.ndarray, np.ndarray | None]] = []
    for weighted in (False, True):
        w = np.ones(4) if weighted else None
        for dtype in LABEL_DTYPES:
            runs.append((Multiclass(2, weighted=weighted), y.astype(dtype), y.astype(dtype), w))
            runs.append((Binary(weighted=weighted), y.astype(dtype), y.astype(dtype), w))
        for dtype in SCORE_DTYPES:
            scores = np.array([0.1, 0.7, 0.4, 0.9], dtype=dtype)
            matrix = np.stack([1 - scores, scores], axis=1)
            runs.append((Binary(weighted=weighted), y, scores, w))
            runs.append((Binary(bins=10, weighted=weighted), y, scores, w))
            runs.append((Binary(exact=True, weighted=weighted), y, scores, w))
            runs.append((Multiclass(2, weighted=weighted), y, matrix, w))
            runs.append((Multiclass(2, weighted=weighted, bins=10, top_k=1), y, matrix, w))
            runs.append((Multilabel(2, weighted=weighted, bins=10), np.stack([y, y], axis=1), matrix, w))
        runs.append((Multilabel(2, weighted=weighted), np.stack([y, y], axis=1), np.stack([y, y], axis=1), w))
    for acc, y_true, y_pred, w in runs:
        start = time.perf_counter()
        acc.update(y_true, y_pred, w)
        acc.merge(acc.copy())  # merges of tables, and the totals a merge counts again, compile per array type
        acc.compute()
        if verbose:
            print(f"{time.perf_counter() - start:7.3f} s  {acc._describe()} {y_true.dtype}/{y_pred.dtype}")
    return len(runs)


if __name__ == "__main__":
    started = time.perf_counter()
    count = warm(verbose="-v" in sys.argv)
    print(f"streameval.warmup: {count} kernel signatures ready in {time.perf_counter() - started:.1f} s")
