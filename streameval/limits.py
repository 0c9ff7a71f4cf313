"""Bounds on what untrusted input may make streameval allocate or count, in one place.

Every bound is a module attribute read when it is checked, so a program that needs more changes
it once, before building accumulators or reading payloads::

    import streameval.limits
    streameval.limits.MAX_STATE_BYTES = 8 << 30   # allow 8 GiB of count state

Per-accumulator bounds that are part of a configuration (``Multiclass(labels="auto",
max_labels=...)``, ``Binary(exact=True, max_distinct=...)``, ``Windowed(..., max_skew=...)``)
are constructor arguments instead, and the command line has options for them.

Counts. Integer counts are int64: an update, merge, state-vector load, sync or payload that would
take the total of any count array above ``MAX_COUNT`` (2**62, so that every sum of cells still
fits int64) raises ``OverflowError`` (``SerializationError`` for a payload) and changes nothing.
Weighted (float64) counts and score sums must stay finite, with the same rule. The state-vector
protocol carries counts as float64, exact up to ``MAX_EXACT_VECTOR_COUNT`` (2**53) per cell: a
vector holding a larger integer count is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _state
from ._kernels.counting import jit_reassociating
from ._state import StateArray

#: Largest total of an int64 count array: every sum of its cells then fits int64.
MAX_COUNT = 2**62
#: Largest integer count a float64 state vector carries exactly.
MAX_EXACT_VECTOR_COUNT = 2**53
#: Most bytes of count state one accumulator (or window, with all its buckets) may hold.
MAX_STATE_BYTES = 2 << 30
#: Most bootstrap replicates (bootstrap=R).
MAX_BOOTSTRAP = 10_000
#: Default cap on the classes Multiclass(labels="auto") may discover (max_labels=).
DEFAULT_MAX_LABELS = 1_000
#: Most bytes streameval.load and from_bytes read or accept for one payload.
MAX_PAYLOAD_BYTES = 2 << 30


def state_bytes(spec: Mapping[str, StateArray]) -> int:
    """Bytes a declared state (name -> StateArray) allocates; growing dimensions count as 0."""
    return _state.state_bytes(spec)


def check_state_size(spec: Mapping[str, StateArray], what: str) -> None:
    """ValueError when spec would allocate more than MAX_STATE_BYTES."""
    size = state_bytes(spec)
    if size > MAX_STATE_BYTES:
        raise ValueError(
            f"{what} needs {size:,} bytes of count state, more than streameval.limits.MAX_STATE_BYTES = "
            f"{MAX_STATE_BYTES:,}: use fewer classes, bins, buckets or replicates, or raise the limit"
        )


def sum_fits(current: np.ndarray, added: Any) -> bool:
    """True when current + added (a count array and an array or total added to it) stays within
    the bounds above: an int64 array's total at most MAX_COUNT, float64 sums finite.

    Totals are summed in float64: their rounding (1e-16 relative) is far inside the factor of two
    between MAX_COUNT and int64's largest value, so a sum that passes cannot wrap around.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(np.abs(current), dtype=np.float64)) + float(np.sum(np.abs(added), dtype=np.float64))
    if current.dtype.kind == "f":
        return total < _FLOAT_MAX  # False for inf and NaN too
    return total <= MAX_COUNT


_FLOAT_MAX = float(np.finfo(np.float64).max)




def total_fits(total: float, dtype: np.dtype) -> bool:
    """sum_fits's rule for a total summed already (abs_total of each side): at most MAX_COUNT for
    integer counts, finite for float64 ones."""
    if dtype.kind == "f":
        return total < _FLOAT_MAX  # False for inf and NaN too
    return total <= MAX_COUNT


@jit_reassociating
def abs_total(a: np.ndarray) -> float:
    """The float64 sum of |a| (a count or score-sum array), compiled: merges and window updates
    check totals once per call, where a numpy reduction would cost about as much as the merge."""
    flat = a.ravel()
    total = 0.0
    for i in range(flat.size):
        total += abs(float(flat[i]))  # as float64: abs of int64's minimum would wrap
    return total


@jit_reassociating
def abs_totals(a: np.ndarray, b: np.ndarray) -> float:
    """abs_total(a) + abs_total(b) in one call: a merge checks each pair of arrays it adds."""
    return abs_total(a) + abs_total(b)  # inlined by numba: one call from Python


# --- command line (streameval evaluate / watch) -------------------------------------------------

#: Longest text label, in characters, the command line reads (``--max-label-length``); a longer
#: one is a bad row. Labels are held once each, so label memory is at most about
#: max_labels x MAX_LABEL_LENGTH characters.
MAX_LABEL_LENGTH = 1024
#: Longest JSON line, in bytes without the newline, ``evaluate`` and ``watch`` read
#: (``--max-line-bytes``); a longer one is a bad row (watch: malformed "too_long"), read past in
#: pieces and never held whole.
MAX_LINE_BYTES = 1 << 20
