"""Top-k ranks (Multiclass(top_k=k)): counts of the rank of the true class among the scores, so
that accuracy(top_k=j) works for any j <= k (sklearn.metrics.top_k_accuracy_score)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _inputs
from .._state import StateArray, counts

if TYPE_CHECKING:
    from .._storage import Storage

NAME = "_topk"


class TopKRanks:
    """Ranks 0..k-1 of the true class, and k for "k or worse"."""

    def __init__(self, top_k: int):
        self.top_k = int(top_k)

    @staticmethod
    def declare(top_k: Any, count: np.dtype) -> dict[str, StateArray]:
        _inputs.check_count("top_k", top_k)
        return {NAME: counts((int(top_k) + 1,), count)}

    @staticmethod
    def mass(batch_mass: float) -> tuple[str, float]:
        return NAME, batch_mass

    @staticmethod
    def count(storage: Storage, scores: Any, truth: Any, weight: Any) -> None:
        """Count the ranks of a checked batch's true classes (ties rank the higher class first)."""
        storage.count_ranks(NAME, scores, truth, weight)

    def accuracy(self, storage: Storage, top_k: Any) -> float:
        """The fraction of samples whose true class is among the top_k scores."""
        if not (isinstance(top_k, (int, np.integer)) and 1 <= top_k <= self.top_k):
            raise ValueError(f"top_k={_inputs.show(top_k)} is not available: this accumulator keeps ranks up to "
                             f"top_k={self.top_k}")
        ranks = storage.host(NAME)
        total = ranks.sum()
        return float(ranks[:top_k].sum() / total) if total else float("nan")
