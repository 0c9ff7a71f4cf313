"""Multilabel on a device: the value checks and the counting of one batch, in torch ops on the
storage's device, equal to the numba kernels' counts (``multilabel_first_bad``,
``count_multilabel``, ``histogram_scores``) and to the host's out-of-range counts.

What counts on a device: (N, L) or (N, L, d1, ...) 0/1 indicators (y_true) with 0/1 indicators
or float scores (y_pred), threshold, inclusive, score bounds, weights (per sample (N,), repeated
over the elements, or per element (N, d1, ...)), bins and from_logits. Each element (n, d1, ...)
is a sample of L labels, as the host's ``_batch._any_rank`` reads it; here the arrays are read as
(N, L, M) views, with no transposed copy. bootstrap is not (``unsupported``): its replicates are
drawn on the host; nor ignore_index (for now).

Scores meet the threshold and the edges in their own dtype, and from_logits applies the sigmoid
in float64, as ``_device.binary`` describes (with the same caveat about torch's ``exp``).

The state, as the kernels fill it:

- ``_mcm`` (L, 2, 2): per label [[tn, fp], [fn, tp]] (count dtype: int64, or float64 weighted);
- ``_sample_sums`` (8,) float64, the slots of ``_kernels`` (EXACT, PREC_SUM, PREC_UNDEF, REC_SUM,
  REC_UNDEF, F1_SUM, JAC_SUM, F_UNDEF): per sample, with its true positives tp, false positives
  fp and false negatives fn over the labels, pred = tp + fp and true = tp + fn, the weight w is
  added to EXACT when fp + fn == 0; w * tp / pred to PREC_SUM when pred > 0, else w to
  PREC_UNDEF; w * tp / true to REC_SUM when true > 0, else w to REC_UNDEF; when true + pred > 0,
  w * 2 tp / (true + pred) to F1_SUM and w * tp / (tp + fp + fn) to JAC_SUM, else w to F_UNDEF;
- with bins: ``_hist`` (L, 2, cells), ``_score_sums`` (L, cells), ``_out_of_range`` (2,).

How, in few ops (each a kernel launch on a GPU): each entry's cell 2 * truth + prediction, one
comparison with the four cells (a one-hot, (4, N, L, ...), no atomics on the few cells), summed
over the samples for ``_mcm`` and over the labels for each sample's (tn, fp, fn, tp); the eight
per-sample values are two small matrix products of those (each slot's denominator, and its
numerator: tp, 2 tp or 0), a division, and the slots' value where the denominator is 0 (1 for
the "undefined" and EXACT slots, 0 for the ratios), summed over the samples (weighted: a
matrix-vector product with the weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _kernels
from .binary import (BAD_LOGIT, NOT_01, Constants, as_index, check_numeric, dtype_name, edges_for, element_weight,
                     gated_add, gated_ones, not_01, not_finite, out_of_range_counts, passes, probability_bins,
                     score_kind, score_problem, sigmoid, threshold_for, weight_problem)
from .plan import Plan, Problem

if TYPE_CHECKING:
    from torch import Tensor

    from ..multilabel import Multilabel

# the kernels' slots of the per-sample sums, in the order of the tables below
_SLOTS = (_kernels.EXACT, _kernels.PREC_SUM, _kernels.PREC_UNDEF, _kernels.REC_SUM, _kernels.REC_UNDEF,
          _kernels.F1_SUM, _kernels.JAC_SUM, _kernels.F_UNDEF)
assert _SLOTS == tuple(range(_kernels.N_SAMPLE_SUMS))
# Per slot, over a sample's (tn, fp, fn, tp): the denominator (EXACT: fp + fn; PREC: pred = fp + tp;
# REC: true = fn + tp; F1: true + pred; JAC: fp + fn + tp; F_UNDEF: true + pred), the numerator
# (tp, or 2 tp for F1; 0 for the flags: 0 / a nonzero denominator is 0), and the value where the
# denominator is 0 (1 for the flags, 0 for the ratios, which the kernels skip then).
_DENOMINATORS = ((0, 1, 1, 0), (0, 1, 0, 1), (0, 1, 0, 1), (0, 0, 1, 1), (0, 0, 1, 1), (0, 1, 1, 2), (0, 1, 1, 1),
                 (0, 1, 1, 2))
_NUMERATORS = ((0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 0), (0, 0, 0, 2), (0, 0, 0, 1),
               (0, 0, 0, 0))
_WHERE_NONE = (1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0)


def unsupported(acc: Multilabel) -> str | None:
    """Why this Multilabel cannot count on a device, or None."""
    if getattr(acc, "unlabelled", False):
        return "unlabelled=True counts the prediction side of unlabelled batches on the host only, for now: not on a device"
    if acc.bootstrap is not None:
        return "bootstrap=R draws Poisson replicates on the host: not on a device"
    if getattr(acc, "ignore_index", None) is not None:
        # (its masked per-sample sums, with their rows slot, are not written for a device yet)
        return "ignore_index is counted on the host only, for now: not on a device"
    return None


def _shapes(acc: Multilabel, y_true: Tensor, y_pred: Tensor) -> tuple[int, ...]:
    """The elements' shape (N, d1, ...); ValueError for shapes the host refuses (its messages)."""
    labels = acc.num_labels
    n = y_true.shape[0] if y_true.ndim else 0
    if y_true.ndim > 2:
        for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
            if tuple(tensor.shape[:2]) != (n, labels) or tensor.shape != y_true.shape:
                raise ValueError(f"{name} has shape {tuple(tensor.shape)}: expected (n_samples, {labels}, d1, ...) "
                                 f"for both y_true and y_pred (y_true has {tuple(y_true.shape)})")
        return (n, *y_true.shape[2:])
    expected = f"(n_samples, {labels})"
    for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if tensor.ndim != 2:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}: expected {expected}")
    for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if tensor.shape[1] != labels:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}: expected {expected}")
    if y_pred.shape[0] != n:
        raise ValueError(f"y_pred has {y_pred.shape[0]} samples but y_true has {n}: shapes "
                         f"{tuple(y_pred.shape)} and ({n}, ...)")
    return (n,)


def plan(acc: Multilabel, y_true: Tensor, y_pred: Tensor, weight: Tensor | None) -> Plan:
    """The value checks of a batch and how to count it (see _device.plan); shapes and dtypes
    are checked here, raising as the host does."""
    import torch

    reason = unsupported(acc)
    if reason is not None:
        raise ValueError(reason)
    check_numeric(y_true, "y_true")
    check_numeric(y_pred, "y_pred")
    elements = _shapes(acc, y_true, y_pred)
    w = element_weight(weight, elements, acc.weighted)  # flat (N * d1 * ...,): one per sample of L labels
    is_scores = y_pred.is_floating_point()
    if acc._bins is not None and not is_scores:
        raise TypeError(f"y_pred has dtype {dtype_name(y_pred)}, but a Multilabel with bins needs float scores")
    problems = []
    bad_true = not_01(y_true)
    if bad_true is not None:
        problems.append(Problem("y_true", bad_true, NOT_01))
    if is_scores and acc.from_logits:
        problems.append(Problem("y_pred", not_finite(y_pred), BAD_LOGIT))
    elif is_scores:
        problem = score_problem(y_pred, acc._bounds, acc._describe())
        if problem is not None:
            problems.append(problem)
    else:
        bad_pred = not_01(y_pred)
        if bad_pred is not None:
            problems.append(Problem("y_pred", bad_pred, NOT_01))
    if weight is not None:
        problems.append(weight_problem(weight))
    kind = "float64" if acc.from_logits else score_kind(y_pred)
    consts = Constants(acc, y_true.device)
    n, labels = elements[0], acc.num_labels
    rest = tuple(range(2, y_true.ndim))  # the axes of a sample's elements after the label axis
    f64 = torch.float64

    def count(tensors: dict[str, Tensor], gate: Tensor) -> None:
        truth = as_index(y_true)  # (N, L, d1, ...): 0/1 (a bad label: gated out)
        scores = None
        if not is_scores:
            predicted = y_pred
        elif acc.from_logits:
            scores = sigmoid(y_pred)
            predicted = passes(scores, threshold_for(acc, kind), acc.inclusive)
        else:  # in the scores' own dtype, with the threshold rounded to it (exact)
            predicted = passes(y_pred, threshold_for(acc, kind), acc.inclusive)
            if acc._bins is not None:
                scores = y_pred.to(f64)
        cells = torch.add(predicted, truth, alpha=2)  # each entry's [[tn, fp], [fn, tp]] cell
        four = consts.values(f"four cells {y_true.ndim}", [0, 1, 2, 3], torch.int64, (4, *[1] * y_true.ndim))
        onehot = four == cells  # (4, N, L, d1, ...)
        zero = consts.scalar(0.0, f64)
        matrices = tensors["_mcm"]  # (L, 2, 2), filled through its (4, L) transposed view
        by_cell = consts.get(("cells by label", id(matrices)), lambda: matrices.view(labels, 4).t())
        per_entry = None if w is None else w.reshape(1, n, 1, *elements[1:])
        if per_entry is None:
            cm = onehot.sum(dim=(1, *(axis + 1 for axis in rest)))
        else:
            cm = torch.where(onehot, per_entry, zero).sum(dim=(1, *(axis + 1 for axis in rest)))
        by_cell.add_(torch.where(gate, cm, consts.scalar(0, matrices.dtype)).to(matrices.dtype))
        # each sample's (tn, fp, fn, tp), as float64 columns (4, samples)
        per_sample = onehot.sum(dim=2, dtype=f64)
        if rest:
            per_sample = per_sample.reshape(4, -1)
        denominators = consts.values("denominators", _DENOMINATORS, f64) @ per_sample  # (8, samples)
        numerators = consts.values("numerators", _NUMERATORS, f64) @ per_sample
        values = torch.where(denominators == 0, consts.values("where none", _WHERE_NONE, f64, (8, 1)),
                             numerators / denominators)
        sums = values.sum(dim=1) if w is None else values @ w
        gated_add(tensors["_sample_sums"], gate, sums, consts)
        if acc._bins is None:
            return
        assert scores is not None
        _count_bins(acc, consts, tensors, gate, scores, truth, w, kind)

    return Plan(problems, count)


def _count_bins(acc: Multilabel, consts: Constants, tensors: dict[str, Tensor], gate: Tensor, scores: Tensor,
                truth: Tensor, w: Tensor | None, kind: str) -> None:
    """_hist (L, 2, cells) and _score_sums (L, cells) by index_add_ of each entry at its label's
    row (an offset table made once), a score's cell by one searchsorted; _out_of_range (2,)."""
    import torch

    f64 = torch.float64
    labels = acc.num_labels
    edges, lo, hi = edges_for(acc._bins, kind, consts)
    columns = edges.shape[0] + 1
    shape = (1, labels, *[1] * (scores.ndim - 2))  # a label's offset, broadcast over its entries
    cell = torch.searchsorted(edges, scores, right=acc.inclusive)  # (N, L, ...) in [0, columns)
    hist = tensors["_hist"]
    row = consts.values(f"label rows {columns} {shape}", [2 * columns * k for k in range(labels)], torch.int64, shape)
    index = (torch.add(cell, truth, alpha=columns) + row).clamp_(0, hist.numel() - 1)  # (a bad label: clamped)
    zero = consts.scalar(0.0, f64)
    if w is None:
        count = hist.dtype
        amount = gated_ones(consts, gate, scores.numel(), count)
        mass = None
    else:
        mass = torch.where(gate, w.reshape(scores.shape[0], 1, *scores.shape[2:]), zero).expand(scores.shape)
        amount = mass
    consts.flat(hist).index_add_(0, index.reshape(-1), amount.reshape(-1))
    sums = tensors["_score_sums"]
    column = consts.values(f"label columns {columns} {shape}", [columns * k for k in range(labels)], torch.int64,
                           shape)
    clean = torch.where(gate, scores, zero)
    consts.flat(sums).index_add_(0, (cell + column).reshape(-1), (clean if mass is None else clean * mass).reshape(-1))
    if not probability_bins(acc._bins, acc._bounds, lo, hi):
        out = tensors["_out_of_range"]
        flat = scores.reshape(-1)
        out.add_(out_of_range_counts(consts, flat, lo, hi, gate, None if mass is None else mass.reshape(-1))
                 .to(out.dtype))
