"""Multilabel's per-sample sums: running sums of each sample's precision, recall, F1, Jaccard and
exact match (and the weight of the samples where they are 0/0), so that average="samples" and
subset accuracy stay a stream. Counted with the per-label matrices, in one kernel pass."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _kernels, metrics
from .._kernels import masked
from .._kernels import EXACT, F1_SUM, F_UNDEF, JAC_SUM, PREC_SUM, PREC_UNDEF, REC_SUM, REC_UNDEF
from .._state import StateArray, counts
from ..errors import UndefinedMetricWarning

if TYPE_CHECKING:
    from .._storage import Storage

NAME = "_sample_sums"
# metric -> (slot of the sum of per-sample values, slot of the weight of samples where it is 0/0)
SLOTS = {
    "precision": (PREC_SUM, PREC_UNDEF),
    "recall": (REC_SUM, REC_UNDEF),
    "fbeta": (F1_SUM, F_UNDEF),
    "jaccard": (JAC_SUM, F_UNDEF),
}


def declare(rows: bool = False) -> dict[str, StateArray]:
    """The sums; rows=True (Multilabel(ignore_index=...)): and a slot counting the samples
    (masked.ROWS), as no label's matrix counts every sample then."""
    return {NAME: counts((masked.N_SAMPLE_SUMS_IGNORING if rows else _kernels.N_SAMPLE_SUMS,), np.float64)}


def mass(batch_mass: float, rows: bool = False) -> tuple[str, float]:
    """A sample adds at most 1 to each sum."""
    return NAME, (masked.N_SAMPLE_SUMS_IGNORING if rows else _kernels.N_SAMPLE_SUMS) * batch_mass


def rows(storage: Storage) -> Any:
    """The number (or weight) of samples counted (rows=True sums only)."""
    return storage.host(NAME)[masked.ROWS]


def exact_matches(storage: Storage) -> Any:
    """The number (or weight) of samples whose every label is right."""
    return storage.host(NAME)[EXACT]


def samples_ratio(storage: Storage, total: Any, metric: str, zero_division: Any, beta: float) -> float:
    """average="samples": the mean over samples of their metric (scikit-learn's rule for 0/0)."""
    if metric not in SLOTS or (metric == "fbeta" and beta != 1):
        raise ValueError(
            'average="samples" is available for precision, recall, f1 (beta=1) and jaccard: '
            "it needs per-sample sums, which are kept for those"
        )
    fill = metrics.check_zero_division(zero_division)
    value_sum, undefined = (storage.host(NAME)[i] for i in SLOTS[metric])
    if total == 0:
        return float("nan")
    if undefined > 0 and isinstance(zero_division, str):
        warnings.warn(
            f"{metric.capitalize()} is ill-defined and being set to 0.0 in samples with no "
            "true or predicted labels. Use `zero_division` parameter to control this behavior.",
            UndefinedMetricWarning,
            stacklevel=4,
        )
    if np.isnan(fill):
        defined = total - undefined
        return float(value_sum / defined) if undefined < total else float("nan")
    return float((value_sum + fill * undefined) / total)
