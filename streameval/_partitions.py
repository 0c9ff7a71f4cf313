"""What evaluating partitions in parallel needs, for streameval.dask and streameval.spark alike:
a template accumulator that can be copied per partition (a ``Sliced`` one when ``by=`` is given),
a base seed for bootstrap replicates (partition i draws with seed (base, i)), and column
arguments as lists of names."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._stateful import Stateful
from .accumulator import Accumulator
from .sliced import DEFAULT_MAX_SLICES, Sliced


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


def template_for(accumulator: Any, by: Any, max_slices: Any) -> Accumulator | Sliced:
    """The template each partition counts into: the accumulator itself (checked) without ``by``;
    with ``by``, ``Sliced(accumulator, max_slices=max_slices)`` (default 10,000), or the
    accumulator when it is an empty Sliced already (its own max_slices and overflow)."""
    if by is None:
        if isinstance(accumulator, Sliced):
            raise ValueError("accumulator is a Sliced: give by=, the column(s) of its slice keys")
        if max_slices is not None:
            raise ValueError(f"max_slices={max_slices!r} is for slices: give by= too, the column(s) of the slice keys")
        check_template(accumulator)
        template: Accumulator = accumulator
        return template
    if isinstance(accumulator, Sliced):
        if max_slices is not None:
            raise ValueError(f"max_slices={max_slices!r} and a Sliced accumulator: give one or the other (the Sliced "
                             f"has max_slices={accumulator.max_slices})")
        if accumulator.n_slices:
            raise ValueError(f"accumulator has {accumulator.n_slices} slices already: pass an empty Sliced (a "
                             "template), else its counts would be added once per partition")
        return accumulator
    check_template(accumulator)
    return Sliced(accumulator, max_slices=DEFAULT_MAX_SLICES if max_slices is None else max_slices)


def by_columns(by: Any) -> tuple[list[Any], bool]:
    """(the key columns, crossed?): a list of names crosses them (keys are tuples, one value per
    name, even for a list of one name), a single name gives plain keys."""
    return column_list("by", by), isinstance(by, list)


def base_seed(accumulator: Accumulator | Sliced, seed: Any) -> Any:
    """The seed partition i extends to (seed, i); fresh entropy when none is given; None without
    replicates (a Sliced has none)."""
    if isinstance(accumulator, Sliced) or accumulator.bootstrap is None:
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
