"""Calibration sums: running sums of Brier and log-loss terms, and the weight of the scores outside
[0, 1] (which make both meaningless). With bins or an exact table they also give reliability
diagrams (calibration_curve) and the expected calibration error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _kernels, curves
from .._state import StateArray, counts
from .._stateful import StateArrayAttribute

if TYPE_CHECKING:
    from .._storage import Storage

NAME = "_calib"
# Per unit of weight a sample adds at most 2 (Brier), -log(eps) <= 36.1 (log loss) and 1 (outside
# [0, 1]) to the calibration sums.
PER_SAMPLE = 40.0


def declare() -> dict[str, StateArray]:
    """Slots BRIER, LOG_LOSS and OUTSIDE_UNIT of _kernels (float64 sums, never negative)."""
    return {NAME: counts((3,), np.float64)}


def mass(batch_mass: float) -> tuple[str, float]:
    """What a batch of total weight batch_mass adds to the sums, at most."""
    return NAME, PER_SAMPLE * batch_mass


def logit_mass(batch_mass: float, logits: np.ndarray) -> tuple[str, float]:
    """mass() for from_logits=True, whose log loss is not clipped: a sample adds at most 2 (Brier)
    and max(x) - x[y] + log(K) <= 2 max|x| + log(K) (log-sum-exp; softplus(|x|) <= |x| + log 2)."""
    largest = float(np.max(np.abs(logits), initial=0.0)) if logits.size else 0.0
    columns = logits.shape[1] if logits.ndim == 2 else 2
    return NAME, batch_mass * (3.0 + 2.0 * largest + float(np.log(max(columns, 2))))


class CalibrationMetrics:
    """Brier score, log loss and reliability of probabilities (Binary: the scores; Multiclass:
    the score rows and the top-label confidence), from running sums and histograms.

    With bins, calibration_curve(n_bins) needs n_bins to divide the histogram's bins on [0, 1],
    so that every calibration bin is a union of histogram bins. It then equals
    sklearn.calibration.calibration_curve, except for a score exactly on a calibration edge when
    inclusive=True (the histogram puts it in the upper bin, scikit-learn in the lower).
    """

    _storage: Storage
    n_labelled: Any
    _calib = StateArrayAttribute()

    def _brier_scale(self) -> float:
        return 0.5  # scikit-learn halves the two-column sum of a binary problem

    def _need_probabilities(self, what: str) -> None:
        raise NotImplementedError

    def _calibration(self, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fraction of positives, mean probability, weight) of each non-empty bin."""
        raise NotImplementedError

    def _checked_total(self, what: str) -> Any:
        self._need_probabilities(what)
        if self._storage.host(NAME)[_kernels.OUTSIDE_UNIT] > 0:
            raise ValueError(f"{what} needs probabilities, but some scores were outside [0, 1]")
        return self.n_labelled

    def brier_score(self) -> float:
        """Mean squared error of the probabilities, as sklearn.metrics.brier_score_loss."""
        total = self._checked_total("brier_score")
        return float(self._brier_scale() * self._storage.host(NAME)[_kernels.BRIER] / total) if total else float("nan")

    def log_loss(self) -> float:
        """Cross-entropy of the probabilities, as sklearn.metrics.log_loss: each probability clipped
        to [eps, 1 - eps], eps of the scores' dtype as given (float16 scores: float16's eps). With
        from_logits=True it is computed from the logits, unclipped and stable (log-sum-exp;
        log1p(exp(-|x|))): equal to scikit-learn on the probabilities while they are not clipped."""
        total = self._checked_total("log_loss")
        return float(self._storage.host(NAME)[_kernels.LOG_LOSS] / total) if total else float("nan")

    def calibration_curve(self, n_bins: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """(fraction of positives, mean probability) per non-empty bin (a reliability diagram)."""
        prob_true, prob_pred, _ = self._calibration(n_bins)
        return prob_true, prob_pred

    def expected_calibration_error(self, n_bins: int = 15) -> float:
        """Weighted mean over bins of |fraction of positives - mean probability|."""
        return curves.expected_calibration_error(*self._calibration(n_bins))
