"""The training loop's batch of scores, counted with no preparation step.

A classifier's step hands (N,) integer labels and (N, K) float scores: numpy arrays, or CPU torch
tensors (read as numpy arrays, no copy). For an accumulator whose update of such a batch is one
kernel call (``Multiclass._direct``: classes 0..K-1, no bins, no top_k, no bootstrap:
``count_argmax_for``'s kernel for the batch), ``count_directly`` checks the batch's types, shapes
and dtypes inline and calls the kernel, with no ``Prepared`` batch and no storage method in between
(measured: 0.55 us of the 3.4 us of a (256, 10) update; fewer Python steps also leave more of a
training step's caches as they were). CPU tensors of int64 labels and float32 or float64 scores,
C-contiguous, are read at their data pointers (``_kernels.addressed``: no ``.numpy()`` view, 0.57
us a tensor); other tensors through ``.numpy()``. It returns False, with nothing counted, for any
other batch (weights, other shapes or dtypes, a batch large enough for threads, a tensor that needs
a copy) and for a bad value: the general path (``_batch.prepare``) then counts the batch or names
the problem. The overflow bound it reserved for a batch it did not count stays reserved (bounds are
upper bounds).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ._inputs import LABEL_DTYPES
from ._kernels.addressed import addressed_for
from ._kernels.argmax import KEYED_MIN, NO_BITS, row_bits
from ._kernels.rows import count_argmax_for
from ._threads import PARALLEL_MIN

SCORE_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


def count_directly(acc: Any, y_true: Any, y_pred: Any) -> bool:
    """Count (N,) labels and (N, K) scores by acc._direct's kernel; False when not counted (see
    the module). Called by update() under the accumulator's lock, for host counts only."""
    if type(y_pred) is not np.ndarray:
        if type(y_pred).__module__ != "torch" or type(y_true).__module__ != "torch":
            return False
        counted = _count_at_addresses(acc, y_true, y_pred)
        if counted is not None:
            return counted
        if y_pred.requires_grad:  # logits straight from the model (no .detach()): the same memory, read without
            y_pred = y_pred.detach()  # the graph (tested first: torch's error from numpy() alone costs ~8 us)
        try:
            y_true, y_pred = y_true.numpy(), y_pred.numpy()  # CPU tensors' memory
        except (RuntimeError, TypeError):  # bfloat16...: the general path converts them
            return False
    elif type(y_true) is not np.ndarray:
        return False
    name, k, ignore, use_ignore, lo, hi = acc._direct
    n = y_true.shape[0] if y_true.ndim == 1 else -1
    if not (y_pred.ndim == 2 and y_pred.shape[0] == n and y_pred.shape[1] == k and n < PARALLEL_MIN
            and y_pred.dtype in SCORE_DTYPES and y_true.dtype in LABEL_DTYPES):
        return False
    storage = acc._storage
    if not storage._reserved(name, n):
        return False
    bits, lo_key, hi_key = row_bits(y_pred, lo, hi) if k >= KEYED_MIN else (NO_BITS, 0, 0)  # (10 classes: no call)
    kernel = count_argmax_for(n, k, y_pred.dtype)
    bad: int = kernel(y_true, y_pred, bits, k, ignore, use_ignore, lo, hi, lo_key, hi_key, storage.arrays[name])
    return bad == -1


@functools.cache
def _tensor_kinds() -> tuple[dict[Any, np.dtype], Any]:
    """({torch float dtype: numpy dtype} of the scores read at addresses, torch.int64)."""
    torch = sys.modules["torch"]  # (imported: it made the tensors)
    return {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}, torch.int64


def _count_at_addresses(acc: Any, y_true: Any, y_pred: Any) -> bool | None:
    """count_directly for CPU tensors read at their data pointers: whether counted, or None for
    tensors it does not read so (other dtypes, layouts or devices, rows of KEYED_MIN scores or
    more): the caller then takes their .numpy() views."""
    name, k, ignore, use_ignore, lo, hi = acc._direct
    storage = acc._storage
    cm = storage.arrays[name]
    try:
        shape = y_pred.shape
        n = shape[0] if len(shape) == 2 and y_true.dim() == 1 and y_true.shape[0] == shape[0] else 0
        # the kernel's arguments' types: ignore is an int in int64's range (Multiclass checks ignore_index), lo and
        # hi are floats, use_ignore a bool
        key = (y_pred.dtype, y_true.dtype, n, k, cm.dtype, cm.flags.num)  # (flags.num: contiguity, writeable...)
        try:
            compiled = _COMPILED[key]
        except KeyError:
            compiled = _COMPILED[key] = _compiled(y_pred.dtype, y_true.dtype, (0, 0, n, k, ignore, use_ignore, lo,
                                                                                hi, cm))
        if compiled is None or not (y_true.is_cpu and y_pred.is_cpu and y_true.is_contiguous()
                                    and y_pred.is_contiguous() and not y_true.is_neg() and not y_pred.is_neg()):
            return None
        true_at, pred_at = y_true.data_ptr(), y_pred.data_ptr()
    except RuntimeError:  # sparse, nested or storage-less tensors: .numpy() tells
        return None
    if not storage._reserved(name, n):
        return False
    bad: int = compiled(true_at, pred_at, n, k, ignore, use_ignore, lo, hi, cm)
    return bad == -1


# The addressed kernels' compiled functions by the types of their arguments (None: tensors not read at their
# addresses), so that a training loop's update checks its tensors' types once and calls the function with no numba
# dispatch (its typing of the nine arguments: 0.2 us alone). Measured in paired rounds of benchmarks/
# test_bench_training.py's MLP step, in one process: +4.7-4.8% -> +4.3-4.4% a step (one run +4.75%). Emptied when
# full (a loop's batch sizes: a few keys).
_COMPILED: dict[tuple[Any, ...], Callable[..., int] | None] = {}
COMPILED_KEPT = 64


def _compiled(scores: Any, labels: Any, arguments: tuple[Any, ...]) -> Callable[..., int] | None:
    """The addressed kernel's compiled function (compiled, or loaded from numba's cache) for tensors of scores and
    labels of these torch dtypes and the kernel's arguments of these types, or None when such tensors are not read
    at addresses. Empties _COMPILED when full."""
    if len(_COMPILED) >= COMPILED_KEPT:
        _COMPILED.clear()
    score_kinds, int64 = _tensor_kinds()
    score_dtype, n, k = score_kinds.get(scores), arguments[2], arguments[3]
    if score_dtype is None or labels is not int64 or not 0 < n < PARALLEL_MIN or k >= KEYED_MIN:
        return None
    kernel: Any = addressed_for(n, k, score_dtype)
    return cast(Callable[..., int], kernel.compile(tuple(kernel.typeof_pyval(a) for a in arguments)))


def direct_arguments(name: str, fused: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """An accumulator's ``_direct``: the confusion matrix's name and its fused argmax's (k, ignore,
    use_ignore, lo, hi)."""
    return (name, *fused) if fused is not None else None
