"""The argmax kernels for (N, k) scores of a dtype, each with count_argmax's (argmax_rows')
arguments and answer: count_argmax_of and argmax_rows_of pick short_rows' (float rows of fewer
than 16 scores, compiled per length), long_rows' (float32 rows of long_rows.LONG_FROM scores or
more) or argmax's own; count_argmax_for and argmax_rows_for pick for a batch of N rows, a
training step's batch of short rows (SCAN_ROWS or fewer) going to argmax's scan.

Alone, the short-row kernel is faster than the scan on small batches too (1.3x on (256, 10)), but
inside a training loop, whose step leaves the caches to the model, it costs more: measured in
paired rounds of benchmarks/test_bench_training.py's MLP step with (256, 10) logits, the scan
added 0.1-0.6 points less to a step in each of nine runs (+4.2-4.9% against +4.3-5.3%).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from .argmax import argmax_rows, count_argmax
from .long_rows import argmax_long_rows, count_long_rows, is_long
from .short_rows import SHORT_BELOW, is_short, short_rows_kernels

SCAN_ROWS = 512


@functools.cache
def _kernels_of(k: int, dtype: np.dtype) -> tuple[Callable[..., int], Callable[..., int]]:
    """(count, argmax) kernels for (N, k) scores of dtype."""
    if is_long(k, dtype):
        return count_long_rows, argmax_long_rows
    return short_rows_kernels(k, dtype) if is_short(k, dtype) else (count_argmax, argmax_rows)


def count_argmax_of(k: int, dtype: np.dtype) -> Callable[..., int]:
    """The kernel that counts (N, k) scores of dtype."""
    return _kernels_of(k, dtype)[0]


def argmax_rows_of(k: int, dtype: np.dtype) -> Callable[..., int]:
    """The kernel that finds the argmax of (N, k) scores of dtype."""
    return _kernels_of(k, dtype)[1]


def count_argmax_for(rows: int, k: int, dtype: np.dtype) -> Callable[..., int]:
    """The kernel that counts a batch of (rows, k) scores of dtype."""
    return count_argmax if rows <= SCAN_ROWS and k < SHORT_BELOW else count_argmax_of(k, dtype)


def argmax_rows_for(rows: int, k: int, dtype: np.dtype) -> Callable[..., int]:
    """The kernel that finds the argmax of a batch of (rows, k) scores of dtype."""
    return argmax_rows if rows <= SCAN_ROWS and k < SHORT_BELOW else argmax_rows_of(k, dtype)
