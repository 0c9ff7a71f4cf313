"""Numba kernels: plain arrays in, counts written in place, no Python objects, no policy.

- ``counting``: a validated batch into count arrays (class pairs, scores at a threshold,
  Multilabel's matrices and per-sample sums, score histograms, calibration sums, Binary's binned
  scores in one pass). Each returns -1, or the first sample it could not count, with the counts
  as they were.
- ``argmax``: the predicted class of score rows (checked once per row), alone or counted with
  the labels in one call (``count_argmax``); ``short_rows``: both compiled per row length for
  rows of fewer than 16 float scores; ``long_rows``: both for long float32 rows, written as LLVM
  vector code; ``rows``: the kernel for a row length and dtype (``argmax_rows_of``,
  ``count_argmax_of``).
- ``summary``: every confusion-matrix metric at once, for compute().

Only the storage (``_storage.numpy_storage``) calls the counting kernels. Each kernel has a plain
numpy reference in tests/test_kernels.py.
"""

from .counting import (
    BLOCK,
    BRIER,
    EXACT,
    F1_SUM,
    F_UNDEF,
    JAC_SUM,
    LOG_LOSS,
    N_SAMPLE_SUMS,
    OUTSIDE_UNIT,
    PREC_SUM,
    PREC_UNDEF,
    REC_SUM,
    REC_UNDEF,
    calibration_sums,
    count_binary_scored,
    count_multilabel,
    count_multilabel_weighted,
    count_pairs_in_slots,
    count_scores,
    count_scores_in_slots,
    count_scores_weighted,
    histogram_scores,
    multilabel_first_bad,
)
from . import argmax
from .argmax import argmax_rows, count_argmax
from .pairs import count_pairs, count_pairs_weighted
from .summary import RATIO_NAMES, sum_weights, summarize_confusion

__all__ = [
    "BLOCK", "BRIER", "EXACT", "F1_SUM", "F_UNDEF", "JAC_SUM", "LOG_LOSS", "N_SAMPLE_SUMS", "OUTSIDE_UNIT", "PREC_SUM",
    "PREC_UNDEF", "RATIO_NAMES", "REC_SUM", "REC_UNDEF", "argmax", "argmax_rows", "calibration_sums",
    "count_argmax", "count_binary_scored", "count_multilabel", "count_multilabel_weighted", "count_pairs",
    "count_pairs_in_slots", "count_pairs_weighted",
    "count_scores", "count_scores_in_slots",
    "count_scores_weighted", "histogram_scores", "multilabel_first_bad", "sum_weights", "summarize_confusion",
]
