"""Binary on a device: the value checks and the counting of one batch, in torch ops on the
storage's device, equal to the numba kernels' counts (``count_pairs``, ``count_scores``,
``count_binary_scored``, ``sigmoid_calibration_sums``).

What counts on a device: pos_label=1 (0/1 labels, bool too); y_pred 0/1 labels (integer or bool
dtypes) or float scores; threshold, inclusive, score bounds, weights, bins (histogram, score
sums, out-of-range counts and calibration sums) and from_logits; inputs of any rank (flattened;
weights per sample (N,), repeated over the elements, or per element). A float y_pred is always
scores here, as on the host with pos_label=1 (integral floats are not read as labels).

What does not (``unsupported``): another pos_label (labels compared with it, and the batch's
label set checked, on the host), exact=True (a table of distinct scores on the host) and
bootstrap (Poisson replicates drawn on the host).

Scores meet the threshold and the bin edges in their own dtype, as the host does: both are
rounded to the score dtype (``_scores.round_to``) and compared with the scores made float64
(exact for every float dtype), which gives the comparison in the scores' dtype. A score's bin is
the number of rounded edges it passes (``searchsorted``), which is what the kernels' arithmetic
and one-step correction compute. from_logits: the sigmoid ``1 / (1 + exp(-x))`` in float64, the
host's formula, but with torch's ``exp``: a probability within an ulp of a threshold or an edge
may fall on the other side of it than the host's (numpy's ``exp``) would put it.

Helpers shared with ``_device.multilabel`` (weights, 0/1 checks, gating, tallies, histograms)
live here.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _inputs, _kernels, _scores
from .plan import Plan, Problem

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from ..binary import Binary

NOT_01 = "is not a class: expected 0 or 1"
BAD_WEIGHT = "is not a valid weight: expected a finite number >= 0"
BAD_LOGIT = "is not a finite logit: from_logits=True needs finite numbers"
NOT_FINITE = "is not a finite score"
UNWEIGHTED = ("sample_weight was given to an unweighted accumulator: create it with weighted=True "
              "to count weights (its counts are then float64)")


# --- shared with _device.multilabel and _device.multiclass ----------------------------------------
#
# Every torch op is a kernel launch on a GPU (a few microseconds of the training loop's CPU time),
# so the plans count their ops: constants and index tables are made once per storage (Constants),
# a check is the fewest ops that flag exactly the host's bad values, and the gate is applied once
# per addend (on a small result where one exists) rather than on every per-sample array.


class Constants:
    """Tensors a plan reuses across updates: made once per storage and device (the storage's
    ``cached``) on a device accumulator; made afresh when the plan is called on a host
    accumulator's behalf (tests call plans directly)."""

    __slots__ = ("device", "_cached")

    def __init__(self, acc: Any, device: Any):
        self.device = device
        storage = acc._storage
        same = getattr(getattr(storage, "device", None), "type", None) == device.type
        self._cached = storage.cached if same and hasattr(storage, "cached") else None

    def get(self, key: tuple[Any, ...], make: Any) -> Tensor:
        tensor: Tensor = make() if self._cached is None else self._cached(("plan", *key), make)
        return tensor

    def scalar(self, value: float, dtype: torch.dtype) -> Tensor:
        """A 0-dim tensor (torch.where with a Python number would make one per call)."""
        import torch

        # (the dtype's name in the key: 0 == 0.0 == False as dict keys)
        return self.get(("scalar", str(dtype), value), lambda: torch.tensor(value, dtype=dtype, device=self.device))

    def ones(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        import torch

        return self.get(("ones", shape, str(dtype)), lambda: torch.ones(shape, dtype=dtype, device=self.device))

    def values(self, name: str, values: Any, dtype: torch.dtype, shape: tuple[int, ...] | None = None) -> Tensor:
        """A small table (edges, label offsets, coefficients) of host values, copied to the device once."""
        import torch

        def make() -> Tensor:
            table = torch.as_tensor(np.asarray(values)).to(dtype)
            return (table if shape is None else table.reshape(shape)).to(self.device)

        return self.get(("values", name, str(dtype), shape), make)

    def flat(self, state: Tensor) -> Tensor:
        """A state array's flat view, made once (the cache holds the view, so the id stays its array's)."""
        return self.get(("flat", id(state)), lambda: state.view(-1))

    def head(self, state: Tensor, n: int) -> Tensor:
        """The first n values of a 1-d state array, as a view made once."""
        return self.get(("head", id(state), n), lambda: state[:n])


def score_kind(tensor: Tensor) -> str:
    """The dtype scores are compared in, as _inputs.score_kind names a tensor's."""
    return _inputs.score_kind(tensor)


def dtype_name(tensor: Tensor) -> str:
    """A tensor's dtype as numpy would print it ("int64"), for the host's messages."""
    return str(tensor.dtype).removeprefix("torch.")


def check_numeric(tensor: Tensor, name: str) -> None:
    import torch

    if tensor.is_complex() or tensor.dtype in (torch.quint8, torch.qint8, torch.qint32):
        raise TypeError(f"{name} has dtype {dtype_name(tensor)}, but 0/1 labels or float scores were expected")


def element_weight(weight: Tensor | None, elements: tuple[int, ...], weighted: bool) -> Tensor | None:
    """The weight of each element, flat (N * d1 * ...,), float64: weight per element (the
    elements' shape) or per sample (N,), repeated over its elements (a broadcast, no copy until
    it is used); ValueError for a shape the host refuses, with its message."""
    weight = sample_weight(weight, elements, weighted)
    return None if weight is None else weight.expand(elements).reshape(-1) if weight.ndim > 1 else weight


def sample_weight(weight: Tensor | None, elements: tuple[int, ...], weighted: bool) -> Tensor | None:
    """The weights as a tensor that broadcasts to the elements' shape (N, d1, ...): per element
    (that shape, or flat), or per sample (N, 1, ...), a view; ValueError for a shape the host
    refuses, with its message."""
    if weight is None:
        return None
    if not weighted:
        raise ValueError(UNWEIGHTED)
    n, count = elements[0], math.prod(elements)
    if tuple(weight.shape) == elements:
        return weight
    if len(elements) > 1 and weight.ndim == 1 and weight.shape[0] == n and count:
        return weight.reshape(n, *([1] * (len(elements) - 1)))
    if len(elements) > 1 and weight.ndim > 1:
        raise ValueError(f"sample_weight has shape {tuple(weight.shape)}: expected ({n},), one weight per sample, "
                         f"or {elements}, one per element")
    if weight.ndim != 1:
        raise ValueError(f"sample_weight has shape {tuple(weight.shape)}: expected (n_samples,)")
    if weight.shape[0] == count:  # (the host's last check: one weight per element)
        return weight.reshape(elements)
    raise ValueError(f"sample_weight has {weight.shape[0]} samples but y_true has {count}: shapes "
                     f"{tuple(weight.shape)} and ({count}, ...)")


def bad_weight(weight: Tensor) -> Tensor:
    """Where a weight is not finite and >= 0: clamped into [0, the largest float64] it changes
    (NaN stays NaN, which equals nothing; -0.0 equals its clamp 0.0)."""
    import torch

    return torch.clamp(weight, 0.0, _FLOAT64_MAX) != weight


def weight_problem(weight: Tensor) -> Problem:
    return Problem("sample_weight", bad_weight(weight), BAD_WEIGHT)


def not_01(labels: Tensor) -> Tensor | None:
    """True where a label is not 0 or 1 (integral floats 0.0, 1.0 are); None for bool (never bad).
    Integers: a bit other than the lowest is set (negative numbers have the sign bit)."""
    import torch

    if labels.dtype == torch.bool:
        return None
    if labels.is_floating_point():
        return (labels != 0) & (labels != 1)
    return (labels & (254 if labels.dtype == torch.uint8 else -2)) != 0


def positive(labels: Tensor) -> Tensor:
    """0/1 labels as bool (a bad label reads False: its batch is gated out)."""
    import torch

    return labels if labels.dtype == torch.bool else labels == 1


def as_index(labels: Tensor) -> Tensor:
    """0/1 labels as int64 (the value itself: a bad label is out of [0, 1], gated out and clamped)."""
    import torch

    return labels if labels.dtype == torch.int64 else labels.to(torch.int64)


def not_finite(scores: Tensor) -> Tensor:
    """Where a float is NaN or infinite: x - x is 0 for every finite x, NaN otherwise."""
    return (scores - scores) != 0


def out_of_bounds(scores: Tensor, bounds: tuple[float, float]) -> Tensor | None:
    """Where a score is not in [lo, hi] (NaN is not), compared exactly as the kernels' _in_range
    in float64; None when no value of the dtype can be (integers with any finite bounds)."""
    import torch

    if bounds == _inputs.ANY_SCORE:  # [-max, max] of float64: exactly the finite numbers
        return not_finite(scores) if scores.is_floating_point() else None
    lo, hi = bounds
    if bounds != _inputs.PROBABILITY:  # (0 and 1 are exact in every dtype; other bounds in float64)
        scores = scores.to(torch.float64)
    return torch.clamp(scores, lo, hi) != scores  # a clamped NaN stays NaN, which equals nothing


def score_problem(scores: Tensor, bounds: tuple[float, float], owner: str) -> Problem | None:
    """Scores must lie in [lo, hi], compared in float64 as the kernels' _in_range (NaN fails)."""
    bad = out_of_bounds(scores, bounds)
    if bad is None:
        return None
    if bounds == _inputs.PROBABILITY:
        return Problem("y_pred", bad, f"is not a probability: {_inputs.probability_hint(owner, threshold=True)}")
    return Problem("y_pred", bad, NOT_FINITE)


def threshold_for(acc: Any, kind: str) -> float:
    """The accumulator's threshold rounded to the score dtype, cached as the host caches it. It is
    exact in that dtype, so scores compared with it in their own dtype compare as the host's
    float64 comparison (on CUDA a half is compared in float32: exact too)."""
    threshold: float | None = acc._thresholds.get(kind)
    if threshold is None:
        threshold = acc._thresholds[kind] = float(_scores.round_to(acc.threshold, kind))
    return threshold


def passes(scores: Tensor, threshold: float, inclusive: bool) -> Tensor:
    return scores >= threshold if inclusive else scores > threshold


def sigmoid(logits: Tensor, negated: Tensor | None = None) -> Tensor:
    """1 / (1 + exp(-x)) in float64: the host's formula (_batch.sigmoid); negated: -x, if made."""
    import torch

    if negated is None:
        negated = -logits.to(torch.float64)
    return torch.reciprocal(torch.exp(negated).add_(1.0))  # (1 / y: IEEE division, as the host's)


def gated_add(state: Tensor, gate: Tensor, addend: Tensor, consts: Constants | None = None) -> None:
    """state += addend where the batch passed (gate), else += 0: torch.where, not a product, so
    that the NaN or inf of a refused batch never reaches the state."""
    import torch

    zero: Any = 0 if consts is None else consts.scalar(0, state.dtype)
    target = state if consts is None or addend.shape == state.shape else consts.flat(state)
    if addend.shape != target.shape:
        addend = addend.reshape(target.shape)
    target.add_(torch.where(gate, addend.to(state.dtype), zero))


def gated_ones(consts: Constants, gate: Tensor, size: int, dtype: torch.dtype) -> Tensor:
    """(size,) of 1 where the batch passed (gate), else of 0, as an index_add_ source: one where on
    a cached ones tensor for a small batch, a 0-dim tensor expanded (no memory) for a large one."""
    import torch

    if size <= _CACHED_ONES:
        return torch.where(gate, consts.ones((size,), dtype), consts.scalar(0, dtype))
    return gate.to(dtype).expand(size)


def edges_for(bins: Any, kind: str, consts: Constants) -> tuple[Tensor, float, float]:
    """The bin edges rounded to the score dtype, as float64 on the device (made once per
    configuration, dtype and device), and the lowest and highest as floats."""
    import torch

    rounded = _scores.round_to(bins.edges, kind)
    edges = consts.get(("edges", bins.edges.tobytes(), kind),
                       lambda: torch.tensor(rounded.tolist(), dtype=torch.float64).to(consts.device))
    return edges, float(rounded[0]), float(rounded[-1])


def out_of_range_counts(consts: Constants, scores64: Tensor, lo: float, hi: float, use: Tensor,
                        mass: Tensor | None) -> Tensor:
    """(below lo, above hi) of float64 scores (flat), counted where use (the batch's gate, or per
    element), each with its mass (float64, gated and cleaned) when given: one comparison of
    (s, -s) with (lo, -hi) (negation is exact)."""
    import torch

    signs = consts.values("signs", [1.0, -1.0], torch.float64, (2, 1))
    bounds = consts.values(f"bounds {lo!r} {hi!r}", [lo, -hi], torch.float64, (2, 1))
    outside = (signs * scores64) < bounds  # (2, E)
    if mass is None:
        return (outside & use).sum(dim=1)
    return torch.where(outside, mass, consts.scalar(0.0, torch.float64)).sum(dim=1)


def probability_bins(bins: Any, bounds: tuple[float, float], lo: float, hi: float) -> bool:
    """Whether no score of a counted batch can be out of the bins' range: probabilities (checked
    in [0, 1]) on edges from 0 to 1 or wider."""
    return bins is not None and bounds == _inputs.PROBABILITY and lo <= 0.0 and hi >= 1.0


_FLOAT64_MAX = float(np.finfo(np.float64).max)
_CACHED_ONES = 1 << 16  # the largest index_add_ source of ones kept per batch shape (gated_ones)


# --- Binary ----------------------------------------------------------------------------------------


def unsupported(acc: Binary) -> str | None:
    """Why this Binary cannot count on a device, or None."""
    if not acc._labels_are_01:
        return (f"Binary(pos_label={acc.pos_label!r}) compares labels with pos_label and checks each batch's "
                "label set on the host: on a device, use pos_label=1 with 0/1 labels")
    if acc.exact:
        return "exact=True keeps a table of the distinct scores, which grows on the host: use bins= on a device"
    if getattr(acc, "unlabelled", False):
        return "unlabelled=True counts the prediction side of unlabelled batches on the host only, for now: not on a device"
    if acc.bootstrap is not None:
        return "bootstrap=R draws Poisson replicates on the host: not on a device"
    return None


def _shapes(y_true: Tensor, y_pred: Tensor) -> tuple[int, ...]:
    """The elements' shape; ValueError for shapes the host refuses (its messages)."""
    if y_true.ndim > 1:
        if y_pred.shape != y_true.shape:
            raise ValueError(f"y_pred has shape {tuple(y_pred.shape)}: expected y_true's shape; y_true has "
                             f"{tuple(y_true.shape)}")
        return tuple(y_true.shape)
    if y_true.ndim != 1:
        raise ValueError(f"y_true has shape {tuple(y_true.shape)}: expected (n_samples,)")
    if y_pred.ndim != 1:
        raise ValueError(f"y_pred has shape {tuple(y_pred.shape)}: expected (n_samples,) labels or scores")
    n = y_true.shape[0]
    if y_pred.shape[0] != n:
        raise ValueError(f"y_pred has {y_pred.shape[0]} samples but y_true has {n}: shapes "
                         f"{tuple(y_pred.shape)} and ({n}, ...)")
    return (n,)


def plan(acc: Binary, y_true: Tensor, y_pred: Tensor, weight: Tensor | None) -> Plan:
    """The value checks of a batch and how to count it (see _device.plan); shapes and dtypes
    are checked here, raising as the host does."""
    import torch

    reason = unsupported(acc)
    if reason is not None:
        raise ValueError(reason)
    check_numeric(y_true, "y_true")
    check_numeric(y_pred, "y_pred")
    elements = _shapes(y_true, y_pred)
    w = element_weight(weight, elements, acc.weighted)
    is_scores = y_pred.is_floating_point()
    if acc._scored and not is_scores:
        raise TypeError(f"y_pred has dtype {dtype_name(y_pred)}, but a Binary with bins or exact=True needs float "
                        "scores")
    kept = None if acc.ignore_index is None else _kept(y_true, acc.ignore_index)  # None: nothing is ignored
    problems = []
    bad_true = not_01(y_true)
    if bad_true is not None:
        problems.append(Problem("y_true", _where_kept(bad_true, kept), NOT_01))
    if is_scores and acc.from_logits:
        problems.append(Problem("y_pred", _where_kept(not_finite(y_pred), kept), BAD_LOGIT))
    elif is_scores:
        problem = score_problem(y_pred, acc._bounds, acc._describe())
        if problem is not None:
            problems.append(problem._replace(bad=_where_kept(problem.bad, kept)))
    else:
        bad_pred = not_01(y_pred)
        if bad_pred is not None:
            problems.append(Problem("y_pred", _where_kept(bad_pred, kept), NOT_01))
    if weight is not None:
        problem = weight_problem(weight)
        if kept is not None:  # a weight is read where one of its elements is kept
            read = kept if weight.shape == kept.shape else (
                kept.reshape(weight.shape[0], math.prod(kept.shape[1:])).any(dim=1))
            problem = problem._replace(bad=problem.bad & read)
        problems.append(problem)
    kind = "float64" if acc.from_logits else score_kind(y_pred)
    consts = Constants(acc, y_true.device)
    count = _Counter(acc, consts, y_true, y_pred, w, kept, kind).count
    return Plan(problems, count)


class _Counter:
    """Binary's count(tensors, gate) of one batch, flat: the matrix from the four cells'
    one-hot sums (2 * truth + prediction; no atomics on four cells), and with bins a score's
    cell by one searchsorted for the histogram (index_add_) and its sums, the out-of-range
    counts and the calibration sums (stacked per element, summed at once). Per-element arrays
    that reach an index_add_ are gated there (their amounts); sums are gated once, as a few
    values. Ignored elements (kept False) count with a mass of 0, their values cleaned first
    (NaN * 0 is NaN)."""

    def __init__(self, acc: Binary, consts: Constants, y_true: Tensor, y_pred: Tensor, w: Tensor | None,
                 kept: Tensor | None, kind: str):
        self.acc, self.consts, self.kind, self.w = acc, consts, kind, w
        flat = y_true.ndim > 1
        self.truth = as_index(y_true.reshape(-1) if flat else y_true)  # 0/1 (a bad label: gated out)
        self.pred = y_pred.reshape(-1) if flat else y_pred
        self.kept = None if kept is None else kept.reshape(-1) if flat else kept

    def count(self, tensors: dict[str, Tensor], gate: Tensor) -> None:
        import torch

        acc, consts, truth, kept, w = self.acc, self.consts, self.truth, self.kept, self.w
        f64 = torch.float64
        zero = consts.scalar(0.0, f64)
        use = gate if kept is None else kept & gate  # where an element adds: 0-dim (all or none) or per element
        logits = scores = negated = None
        if not self.pred.is_floating_point():
            predicted = self.pred
        elif acc.from_logits:
            logits = self.pred.to(f64)
            if kept is not None:  # an ignored logit is never checked: NaN is cleaned to 0 first
                logits = torch.where(kept, logits, zero)
            negated = -logits
            scores = sigmoid(logits, negated)
            predicted = passes(scores, threshold_for(acc, self.kind), acc.inclusive)
        else:  # in the scores' own dtype, with the threshold rounded to it (exact)
            predicted = passes(self.pred, threshold_for(acc, self.kind), acc.inclusive)
            if acc._bins is not None:
                scores = self.pred.to(f64)
                if kept is not None:
                    scores = torch.where(kept, scores, zero)
        cells = torch.add(predicted, truth, alpha=2)  # [[tn, fp], [fn, tp]] flat: 2 * truth + prediction
        if kept is not None:
            cells = torch.where(kept, cells, consts.scalar(-1, torch.int64))  # an ignored element matches no cell
        onehot = consts.values("four cells", [0, 1, 2, 3], torch.int64, (4, 1)) == cells  # (4, E)
        matrix = onehot.sum(dim=1) if w is None else torch.where(onehot, w, zero).sum(dim=1)
        gated_add(tensors["_cm"], gate, matrix, consts)
        if acc._bins is None:
            return
        assert scores is not None
        mass = None if w is None else torch.where(use, w, zero)  # float64, cleaned and gated
        edges, lo, hi = edges_for(acc._bins, self.kind, consts)
        columns = edges.shape[0] + 1
        cell = torch.searchsorted(edges, scores, right=acc.inclusive)  # in [0, columns): any score
        hist = tensors["_hist"]
        index = torch.add(cell, truth, alpha=columns).clamp_(0, 2 * columns - 1)
        count = hist.dtype  # (float64 when weighted, even for a batch without weights)
        amount = mass if mass is not None else use.to(count) if kept is not None else gated_ones(
            consts, gate, truth.shape[0], count)
        consts.flat(hist).index_add_(0, index, amount)
        clean = torch.where(use, scores, zero)  # finite, 0 where an element does not add
        consts.flat(tensors["_score_sums"]).index_add_(0, cell, clean if mass is None else clean * mass)
        if not probability_bins(acc._bins, acc._bounds, lo, hi):
            out = tensors["_out_of_range"]
            out.add_(out_of_range_counts(consts, scores, lo, hi, use, mass).to(out.dtype))
        calib = tensors["_calib"]
        if logits is None:
            terms, coefficients = _calibration_terms(consts, truth, clean, _scores.EPS[self.kind], acc._bounds)
        else:
            assert negated is not None
            terms, coefficients = _logit_calibration_terms(truth, clean, logits, negated)
        if mass is None and kept is not None:
            mass = use.to(f64)
        sums = terms.sum(dim=1) if mass is None else terms @ mass
        # gated whatever the mass: a dropped batch's NaN logit makes NaN terms, and NaN * 0 is NaN
        sums = torch.where(gate, sums, zero)
        consts.head(calib, terms.shape[0]).addcmul_(sums, consts.values(
            f"calibration {coefficients}", coefficients, f64))


def _kept(y_true: Tensor, ignore: int) -> Tensor | None:
    """False where y_true equals ignore_index, exactly; None where no element can (bool labels,
    or integers of a dtype that cannot hold it)."""
    import torch

    if y_true.dtype == torch.bool:
        return None
    if not y_true.is_floating_point():
        info = torch.iinfo(y_true.dtype)
        if not info.min <= ignore <= info.max:
            return None
    return y_true != ignore


def _where_kept(bad: Tensor, kept: Tensor | None) -> Tensor:
    return bad if kept is None else bad & kept


def _calibration_terms(consts: Constants, truth: Tensor, scores: Tensor, eps: float,
                       bounds: tuple[float, float]) -> tuple[Tensor, tuple[float, ...]]:
    """Per element (Brier, log of the true class's clipped probability[, outside [0, 1]]) of
    clean float64 scores, and what multiplies their sums, as count_binary_scored sums them: the
    log loss of the true class's probability clipped to [eps, 1 - eps]; no Brier term for a
    score outside [0, 1], whose weight is counted instead (never, for probabilities); the Brier
    sum is the two-column one (twice); the log loss is the negated sum of the logs."""
    import torch

    f64 = torch.float64
    error = scores - truth
    error = error * error
    probability = torch.where(truth == 1, scores, 1.0 - scores)
    log = torch.log(torch.clamp(probability, min=eps, max=1 - eps))
    if bounds == _inputs.PROBABILITY:  # a counted score is in [0, 1]
        return torch.stack([error, log]), (2.0, -1.0)
    outside = torch.clamp(scores, 0.0, 1.0) != scores
    error = torch.where(outside, consts.scalar(0.0, f64), error)
    return torch.stack([error, log, outside.to(f64)]), (2.0, -1.0, 1.0)


def _logit_calibration_terms(truth: Tensor, scores: Tensor, logits: Tensor,
                             negated: Tensor) -> tuple[Tensor, tuple[float, ...]]:
    """(Brier, log loss) per element, as sigmoid_calibration_sums: the log loss from the logits,
    softplus(-x) for a positive, softplus(x) for a negative (stable, unclipped: max(z, 0) +
    log1p(exp(-|z|)), with |z| = |x|); the third slot (outside [0, 1]) stays 0."""
    import torch

    error = scores - truth
    error = error * error
    z = torch.where(truth == 1, negated, logits)
    loss = torch.clamp(z, min=0.0) + torch.log1p(torch.exp(-torch.abs(logits)))
    return torch.stack([error, loss]), (2.0, 1.0)


# _kernels' calibration slots, in the order the terms are stacked
assert (_kernels.BRIER, _kernels.LOG_LOSS, _kernels.OUTSIDE_UNIT) == (0, 1, 2)
