"""What evaluating partitions in parallel needs, for streameval.dask and streameval.spark alike:
a template accumulator that can be copied per partition, a base seed for bootstrap replicates
(partition i draws with seed (base, i)), and column arguments as lists of names."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._stateful import Stateful
from .accumulator import Accumulator


def check_template(accumulator: Any) -> None:
    if isinstance(accumulator, Stateful) and accumulator._follows_stream_order:  # Windowed, Decayed
        raise TypeError(
            f"accumulator={type(accumulator).__name__}(...) is not supported: a window or decay follows one "
            "stream's order, which partitions counted in parallel do not have. Evaluate the accumulator it "
            "wraps, or window the stream where it is produced"
        )
    if not isinstance(accumulator, Accumulator):
        raise TypeError(
            f"accumulator={accumulator!r} is not valid: expected an empty Binary, Multiclass or Multilabel"
        )
    if not accumulator.is_empty:
        raise ValueError(
            f"accumulator has {accumulator.n_samples} samples already: pass an empty one (a template), "
            "else its counts would be added once per partition"
        )


def base_seed(accumulator: Accumulator, seed: Any) -> Any:
    """The seed partition i extends to (seed, i); fresh entropy when none is given; None without replicates."""
    if accumulator.bootstrap is None:
        if seed is not None:
            raise ValueError(f"seed={seed!r} is for bootstrap replicates: the accumulator has none (bootstrap=None)")
        return None
    if seed is None:
        return np.random.SeedSequence().entropy
    try:
        np.random.SeedSequence((seed, 0))  # what partition 0 will use
    except (TypeError, ValueError):
        raise ValueError(f"seed={seed!r} is not valid: expected a non-negative integer or a tuple of them") from None
    return seed


def column_list(name: str, columns: Any) -> list[Any]:
    if isinstance(columns, list) and columns:
        return columns
    if isinstance(columns, (list, tuple, set, np.ndarray)) or columns is None:
        raise TypeError(f"{name}={columns!r} is not valid: expected a column name or a non-empty list of names")
    return [columns]
