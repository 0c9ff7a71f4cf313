"""The argmax kernels for (N, k) scores of a dtype: count_argmax_of and argmax_rows_of pick
short_rows' (float rows of fewer than 16 scores, compiled per length), long_rows' (float32 rows
of long_rows.LONG_FROM scores or more) or argmax's own. Each takes count_argmax's (argmax_rows')
arguments and gives its answer."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from .argmax import argmax_rows, count_argmax
from .long_rows import argmax_long_rows, count_long_rows, is_long
from .short_rows import part_length, short_rows_kernels


@functools.cache
def count_argmax_of(k: int, dtype: np.dtype) -> Callable[..., int]:
    """The kernel that counts (N, k) scores of dtype."""
    if is_long(k, dtype):
        return count_long_rows
    h = part_length(k, dtype)
    return short_rows_kernels(k, h)[0] if h else count_argmax


@functools.cache
def argmax_rows_of(k: int, dtype: np.dtype) -> Callable[..., int]:
    """The kernel that finds the argmax of (N, k) scores of dtype."""
    if is_long(k, dtype):
        return argmax_long_rows
    h = part_length(k, dtype)
    return short_rows_kernels(k, h)[1] if h else argmax_rows
