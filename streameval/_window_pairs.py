"""Windowed's fused path for class-label pairs: an update in one kernel call.

A window (unit="samples" without timestamps, or unit="updates") over an accumulator whose one
count array is a confusion matrix, counted from a plain batch (integer labels, no weights) by the
pairs kernel alone (``SlotWrapper._label_pairs``: Multiclass with num_classes, Binary with 0/1 labels,
no bootstrap), and with no ``on_window`` callback, counts a batch with ``count_pairs_ring``: every
label checked and every touched bucket checked against its bound before anything changes, then
the buckets the ring moves on to emptied and each piece of the batch counted into its bucket's
slot. Nothing can fail after the first change, so no slot is copied for a rollback, and no
per-sample slot array is built, no view is aimed (measured, 256 labels, K = 10, against ~2 us for
the plain update: a batch spanning buckets 10.6 -> 3.0 us, an update entering a bucket 5.2 -> 2.9
us, one inside a bucket 3.4 -> 3.0 us).

Every other batch, and one this path refuses (a bad label, a bucket that would pass its share of
streameval.limits), takes the general path (the accumulator's ``_count`` through a ``SlotView``),
which counts it or raises the accumulator's error. The view keeps bounds of the slots' totals
that the counts made here would make too low: the view is dropped after each update here, and
the next general update makes a new one, which reads the bounds it needs from the counts.
"""

from __future__ import annotations

from typing import Any

from . import limits
from ._batch import Prepared
from ._kernels.pairs import count_pairs_ring


def count_in_ring(window: Any, batch: Prepared, first_bucket: int, first_end: int, width: int, skipped: int,
                  latest: int | None, last: int) -> bool:
    """Count batch into window's ring if this path takes it (see the module): samples from
    skipped on, piece r (ending at first_end + r * width) into bucket first_bucket + r, after
    emptying the buckets after latest up to last. True when counted; False, with nothing
    changed, for a batch the general path must take."""
    pairs = window._label_pairs
    if pairs is None or not batch.plain or window._callbacks or window._count_names != ("_cm",):
        return False
    classes, ignore, use_ignore = pairs
    n_buckets = window.buckets
    first_empty = last - n_buckets + 1 if latest is None else max(latest + 1, last - n_buckets + 1)
    n_empty = max(0, last - first_empty + 1)
    status = count_pairs_ring(batch.y_true, batch.y_pred, classes, ignore, use_ignore, window._storage.host("_cm"),
                              first_bucket % n_buckets, first_end, width, skipped, n_empty, first_empty % n_buckets,
                              limits.MAX_COUNT // window._share())
    if status != -1:
        return False
    window.__dict__.pop("_counting", None)  # its per-slot bounds no longer bound the counts
    return True
