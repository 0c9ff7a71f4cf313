"""Exact score tables (Binary(exact=True)): every distinct score with its counts of negatives and
positives, sorted; compacted into groups of nearby scores past ``max_distinct`` (see _scores).

A table is not a sum: two workers' tables hold different scores at the same positions. So it is
declared merged by this component (merge_tables, then compaction) and unsummable, and state
vectors refuse it.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _scores, curves
from .._state import Merge, Role, StateArray, counts

if TYPE_CHECKING:
    from .._storage import Storage

SCORES, COUNTS, SHIFT = NAMES = ("_table_scores", "_table_counts", "_table_shift")
UNSUMMABLE = ("its exact score table (exact=True) holds score values, not counts, so adding two "
              "workers' vectors would add scores; merge() merges tables exactly (send to_bytes() "
              "between workers), or use bins= for a state that adds")
Table = tuple[np.ndarray, np.ndarray, int]  # (scores ascending, counts (2, D), shift)


class ExactTable:
    """The table's configuration (max_distinct) and what changes it: batches, merges, compaction."""

    def __init__(self, max_distinct: int):
        self.max_distinct = int(max_distinct)

    @staticmethod
    def declare(count: np.dtype, max_distinct: int | None = None) -> dict[str, StateArray]:
        """The table's arrays, growing with the data; at their largest with max_distinct (a full
        table, and a merge holds two for a moment), for the size check."""
        length = -1 if max_distinct is None else 2 * int(max_distinct)
        merge, why = Merge.COMPONENT, UNSUMMABLE
        return {
            SCORES: StateArray((length,), np.dtype(np.float64), merge, Role.VALUE, signed=True, unsummable=why),
            COUNTS: counts((2, length), count, merge=merge, unsummable=why),
            SHIFT: StateArray((1,), np.dtype(np.int64), merge, Role.METADATA, unsummable=why),
        }

    def _compacted(self, scores: np.ndarray, table_counts: np.ndarray, shift: int) -> Table:
        """The table as it may be kept: past max_distinct scores, compacted, with a warning (which
        the caller lets raise before it writes anything)."""
        if scores.shape[0] > self.max_distinct:
            scores, table_counts, shift = _scores.compact(scores, table_counts, shift, self.max_distinct)
            warnings.warn(
                f"Binary(exact=True): more than max_distinct={self.max_distinct} distinct scores; the table "
                f"was compacted to {scores.shape[0]} groups of nearby scores. Curves are now exact only at "
                "the groups' smallest scores, and roc_auc_bounds() brackets the AUC.",
                stacklevel=5,
            )
        return scores, table_counts, shift

    def with_batch(self, storage: Storage, scores: np.ndarray, positive: np.ndarray,
                   weight: np.ndarray | None) -> Table:
        """The table with a batch's scores added (nothing is written: see commit)."""
        shift = int(storage.host(SHIFT)[0])
        batch = _scores.table_from_batch(scores, positive, weight, storage.host(COUNTS).dtype, shift)
        return self._compacted(*_scores.merge_tables((storage.host(SCORES), storage.host(COUNTS)), batch, shift), shift)

    def merged(self, mine: Storage, theirs: Storage) -> Table:
        """Both tables as one (nothing is written: see commit)."""
        shift = int(max(mine.host(SHIFT)[0], theirs.host(SHIFT)[0]))
        return self._compacted(*_scores.merge_tables((mine.host(SCORES), mine.host(COUNTS)),
                                                     (theirs.host(SCORES), theirs.host(COUNTS)), shift), shift)

    @staticmethod
    def commit(storage: Storage, table: Table) -> None:
        scores, table_counts, shift = table
        storage.replace({SCORES: scores, COUNTS: table_counts, SHIFT: np.array([shift], dtype=np.int64)})

    def check_state(self, storage: Storage) -> None:
        """ValueError unless the table is consistent (a loaded payload)."""
        scores, shift = storage.host(SCORES), storage.host(SHIFT)
        if storage.host(COUNTS).shape[1] != scores.shape[0] or scores.shape[0] > self.max_distinct:
            raise ValueError("the exact score table's arrays disagree in length or exceed max_distinct")
        if (np.diff(scores) <= 0).any() or not (0 <= shift[0] <= 64):
            raise ValueError("the exact score table is not sorted, or its shift is out of range")

    @staticmethod
    def is_exact(storage: Storage) -> bool:
        """True while the table holds every distinct score (never compacted)."""
        return bool(storage.host(SHIFT)[0] == 0)

    def cells(self, storage: Storage) -> curves.Cells:
        table_counts = storage.host(COUNTS)
        return curves.Cells(storage.host(SCORES), table_counts[1], table_counts[0], self.is_exact(storage))

    @staticmethod
    def calibration(storage: Storage, n_bins: int) -> Any:
        scores, table_counts = storage.host(SCORES), storage.host(COUNTS)
        total = table_counts.sum(axis=0)
        return curves.calibration_curve(scores, table_counts[1], total, scores * total, n_bins)
