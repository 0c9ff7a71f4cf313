"""The kernels that count (n,) labels and (n, k) scores, reading them at memory addresses.

A training loop passes CPU torch tensors. torch's ``.numpy()``, which makes the numpy view the
kernels take, costs 0.57 us a tensor (measured, 2026-11-26, torch 2.13 on one core): a third of a
(256, 10) update, whose kernel takes 1.7 us. ``data_ptr()`` costs 0.06 us; from it, the kernel
built here makes the two arrays inside compiled code (``numba.carray``), with no Python object.
The caller (``_direct``) vouches for the memory: C-contiguous values of the given types, held
alive by the tensors during the call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic
from numba.np.numpy_support import carray

from .argmax import NO_BITS
from .counting import jit, named
from .rows import count_argmax_for


def _pointer_typing(typingctx: Any, address: Any, kind: Any) -> Any:
    """A pointer to values of kind (a numpy scalar type, such as np.float32) at address (an int)."""
    if not isinstance(address, types.Integer) or not isinstance(kind, types.NumberClass):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return types.CPointer(kind.instance_type)(address, kind), codegen


_pointer: Any = named(intrinsic(_pointer_typing), __name__, "_pointer")


@functools.cache
def _addressed(kernel: Callable[..., int], dtype: np.dtype) -> Callable[..., int]:
    """kernel (count_argmax's arguments, rows of fewer than KEYED_MIN scores: no bits) reading
    int64 labels and scores of dtype (float32 or float64) at addresses. (The types are the
    closure's constants: numpy scalar types as arguments cost 7 us a call in numba's dispatch.)"""
    scores = dtype.type

    @jit
    def count_at(true_at: int, pred_at: int, n: int, k: int, ignore: Any, use_ignore: bool, lo: float, hi: float,
                 cm: Any) -> int:
        y_true = carray(_pointer(true_at, np.int64), (n,))
        y_pred = carray(_pointer(pred_at, scores), (n, k))
        return kernel(y_true, y_pred, NO_BITS, k, ignore, use_ignore, lo, hi, 0, 0, cm)

    return named(count_at, __name__, "count_at", kernel._uuid, dtype)  # type: ignore[attr-defined]


def addressed_for(n: int, k: int, dtype: np.dtype) -> Callable[..., int]:
    """count_argmax_for's kernel for n rows of k scores of dtype (float32 or float64, k <
    KEYED_MIN) and int64 labels, reading them at addresses: kernel(true_at, pred_at, n, k, ignore,
    use_ignore, lo, hi, cm)."""
    return _addressed(count_argmax_for(n, k, dtype), dtype)
