"""Multiclass on a device: a batch's value checks and its counting as torch ops (see ``plan``).

The same counts as the host path (``Multiclass._count_batch`` and the numba kernels it reaches),
computed without reading a value back to the host:

- labels: class indices 0..K-1 (``num_classes``, or ``labels`` 0..K-1), or integer ``labels``
  mapped to their index by a binary search of the sorted labels (a label not in the list is bad);
- (N, K) scores: the predicted class is the first maximum of the row (``torch.argmax``'s tie
  rule, numpy's too); scores are checked in the accumulator's bounds (finite, or probabilities
  with bins on the default range) except in rows whose y_true is ``ignore_index``;
- inputs of any rank, the class axis second, each element a sample (``_batch._any_rank``);
- the confusion matrix by ``index_add_`` into its flat view, gated; the score state (bins, the
  top-label confidence, calibration sums, top-k ranks) as the kernels count it, in float64.

A value that fails a check is never used as an index as it is: its index is clamped into range and
the batch's gate is False, so nothing it adds counts.

Every op is a kernel launch on a GPU, so the counting takes few: a label check is one division
(a class index c is valid when c // K == 0), the matrix one index_add_ of true * K + predicted,
gated by its amounts; the score state's cells come from one searchsorted of the (E, K)
probabilities (the top-label confidence's cell is their row maximum: searchsorted is monotonic),
and the calibration sums are stacked per row and summed at once.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _inputs, _scores
from .binary import BAD_WEIGHT, Constants, bad_weight, gated_ones, not_finite, out_of_bounds
from .plan import Plan, Problem

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from ..multiclass import Multiclass

_STATE = ("_cm",)
_HIST, _SUMS, _OUT = "_hist", "_score_sums", "_out_of_range"
_CONF_HIST, _CONF_SUMS = "_conf_hist", "_conf_sums"
_CALIB, _TOPK = "_calib", "_topk"


def unsupported(acc: Multiclass) -> str | None:
    """Why this Multiclass cannot count on a device, or None."""
    if acc._auto:
        return ('labels="auto" discovers its labels on the host (the classes grow with the data): give '
                "num_classes= or a fixed list of integer labels")
    if getattr(acc, "unlabelled", False):
        return "unlabelled=True counts the prediction side of unlabelled batches on the host only, for now: not on a device"
    if acc._boot is not None:
        return "bootstrap=R draws its Poisson replicates on the host: leave out bootstrap= to count on a device"
    index = acc._index
    if not index.is_range:
        known = index._sorted
        if known is None or known.dtype != np.int64:
            return ("labels other than integers (strings, floats, mixed) are looked up on the host: give "
                    "num_classes= or integer labels to count on a device")
    return None


def plan(acc: Multiclass, y_true: Tensor, y_pred: Tensor, weight: Tensor | None) -> Plan:
    """The value checks and the counting of one batch (tensors on the storage's device, as given)."""
    import torch

    reason = unsupported(acc)
    if reason is not None:
        raise ValueError(reason)
    k = acc.num_classes
    for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if tensor.dtype.is_complex:
            raise TypeError(f"{name} has dtype {_dtype(tensor)}: expected integers, booleans, floats or labels")
    shape, is_scores = _shapes(acc, y_true, y_pred)
    n = shape[0]
    elements = math.prod(shape)
    per_sample = _check_weight(acc, weight, shape, elements)
    if (acc._bins is not None or acc._ranks is not None) and not is_scores:
        raise TypeError(f"y_pred has shape {_shape(y_pred)}, but a Multiclass with bins or top_k needs "
                        f"(n_samples, {k}) scores")
    if is_scores and acc._bins is not None and not y_pred.dtype.is_floating_point:
        raise TypeError(f"y_pred has dtype {_dtype(y_pred)}, but a Multiclass with bins (probabilities, or scores "
                        "on score_range) needs float scores")
    consts = Constants(acc, y_true.device)
    kept = _kept(y_true, acc.ignore_index, consts)  # (y_true's shape) False where ignored; None: none can be
    true_class, true_bad = _classes(acc, y_true, consts)  # y_true's shape; the class as it is (unclamped)
    problems: list[Problem] = []
    true_problem = Problem("y_true", _where_kept(true_bad, kept), _class_problem(acc))
    score_state = is_scores and (acc._bins is not None or acc._ranks is not None)
    rows: Tensor | None = None  # (E, K) score rows, when a score state reads them
    if is_scores:
        pred_bad = out_of_bounds(y_pred, acc._bounds)
        if score_state:
            rows = y_pred if y_pred.ndim == 2 else y_pred.movedim(1, -1).reshape(-1, k).contiguous()
            pred_class = _argmax(rows, 1)  # (E,)
        else:  # labels only: the class axis reduced where it is, no transposed copy
            pred_class = _argmax(y_pred, 1)  # y_true's shape
        score_problems = []
        if pred_bad is not None:  # (integer scores are all finite)
            if kept is not None:  # a score of an ignored sample is never bad
                pred_bad = pred_bad & kept.reshape(n, 1, *shape[1:])
            score_problems.append(Problem("y_pred", pred_bad, _score_problem(acc)))
        # the host checks integer labels (looked up first), then the scores, then each sample's label
        problems += [*score_problems, true_problem] if acc._index.is_range else [true_problem, *score_problems]
    else:
        pred_class, pred_bad = _classes(acc, y_pred, consts)
        problems += [true_problem, Problem("y_pred", _where_kept(pred_bad, kept), _class_problem(acc))]
    w: Tensor | None = None  # (E,) float64 weight of each element
    if weight is not None:
        invalid = bad_weight(weight)
        if per_sample and len(shape) > 1:  # one weight per sample, repeated over its elements
            per = elements // max(n, 1)  # (_check_weight: elements > 0 here)
            w = weight.reshape(n, 1).expand(n, per).reshape(-1)
            weight_bad = invalid if kept is None else invalid & kept.reshape(n, per).any(dim=1)
        else:
            w = weight if weight.ndim == 1 else weight.reshape(-1)
            weight_bad = invalid if kept is None else invalid & kept.reshape(weight.shape)
        problems.append(Problem("sample_weight", weight_bad, BAD_WEIGHT))

    def count(tensors: dict[str, Tensor], gate: Tensor) -> None:
        flat_kept = None if kept is None else _flat(kept)
        use = gate if flat_kept is None else flat_kept & gate  # where an element adds: all or none of the kept
        cm = tensors["_cm"]
        truth = true_class if rows is None else _flat(true_class)  # (pred_class's shape)
        if not acc._index.is_range:  # (integer labels: every class found is in range, a bad label's too)
            cells = torch.add(pred_class, truth, alpha=k)
        elif rows is not None:  # in range: the score state gathers with it
            truth = truth.clamp(0, k - 1)
            cells = torch.add(pred_class, truth, alpha=k)
        else:  # a bad label (gated out) clamped into the matrix
            cells = torch.add(pred_class, truth, alpha=k).clamp_(0, k * k - 1)
        cells = _flat(cells)
        amount = _amounts(consts, gate, use, flat_kept, w, elements, cm.dtype)
        consts.flat(cm).index_add_(0, cells, amount)
        if rows is not None:
            _count_scores(acc, consts, tensors, rows, truth, pred_class, gate, use, flat_kept, w, amount,
                          _score_kind(y_pred))

    return Plan(problems, count)


def _flat(t: Tensor) -> Tensor:
    return t if t.ndim == 1 else t.reshape(-1)


def _where_kept(bad: Tensor, kept: Tensor | None) -> Tensor:
    return bad if kept is None else bad & kept


def _amounts(consts: Constants, gate: Tensor, use: Tensor, kept: Tensor | None, w: Tensor | None, size: int,
             dtype: torch.dtype) -> Tensor:
    """(E,) what each element adds to a count: its weight (1 unweighted) where use, else 0 (no NaN * 0)."""
    import torch

    if w is not None:
        return torch.where(use, w, consts.scalar(0.0, torch.float64))
    if kept is not None:
        return use.to(dtype)
    return gated_ones(consts, gate, size, dtype)


# --- shapes and dtypes (metadata only) ------------------------------------------------------------


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _dtype(t: Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _shapes(acc: Multiclass, y_true: Tensor, y_pred: Tensor) -> tuple[tuple[int, ...], bool]:
    """(the elements' shape, whether y_pred holds scores), or the host's error for these shapes."""
    k = acc.num_classes
    layout = acc._layout
    yt, yp = _shape(y_true), _shape(y_pred)
    if len(yt) > 1:  # any rank: (N, d1, ...) labels, (N, K, d1, ...) scores (_batch._any_rank)
        scores_shape = (yt[0], k, *yt[1:])
        if yp == yt:
            return yt, False
        if yp == scores_shape:
            return yt, True
        raise ValueError(f"y_pred has shape {yp}: expected y_true's shape (labels) or {scores_shape} (scores); "
                         f"y_true has {yt}")
    if len(yt) != 1:
        raise ValueError(f"y_true has shape {yt}: expected {layout.true_shape}")
    if len(yp) not in (1, 2):
        raise ValueError(f"y_pred has shape {yp}: expected {layout.pred_shape}")
    if yp[0] != yt[0]:
        raise ValueError(f"y_pred has {yp[0]} samples but y_true has {yt[0]}: shapes {yp} and ({yt[0]}, ...)")
    if len(yp) == 2 and yp[1] != k:
        raise ValueError(f"y_pred has shape {yp}: scores need {k} columns, one per class")
    return yt, len(yp) == 2


def _check_weight(acc: Multiclass, weight: Tensor | None, shape: tuple[int, ...], elements: int) -> bool:
    """True when weight has one value per sample (N,), False per element (or none); else the host's error."""
    if weight is None:
        return False
    if not acc.weighted:
        raise ValueError("sample_weight was given to an unweighted accumulator: create it with weighted=True "
                         "to count weights (its counts are then float64)")
    ws = _shape(weight)
    n = shape[0]
    if len(shape) > 1:
        if ws == shape:
            return False
        if len(ws) == 1 and ws[0] == n and elements:
            return True
        if len(ws) > 1:
            raise ValueError(f"sample_weight has shape {ws}: expected ({n},), one weight per sample, or {shape}, "
                             "one per element")
        n = elements
    if len(ws) != 1:
        raise ValueError(f"sample_weight has shape {ws}: expected (n_samples,)")
    if ws[0] != n:
        raise ValueError(f"sample_weight has {ws[0]} samples but y_true has {n}: shapes {ws} and ({n}, ...)")
    return True


def _score_kind(y_pred: Tensor) -> str:
    """The dtype the host compares these scores in (_inputs.score_kind of a tensor)."""
    return {"torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16"}.get(
        str(y_pred.dtype), "float64")


# --- the problems' wording (as the host's errors word them) -------------------------------------------


def _class_problem(acc: Multiclass) -> str:
    k = acc.num_classes
    if acc._index.is_range:
        return "is not a class: " + ("expected 0 or 1" if k == 2 else f"expected an integer in [0, {k})")
    labels = list(acc.labels)
    shown = labels[:10] + (["..."] if len(labels) > 10 else [])
    return f"is not one of the labels {shown}"


def _score_problem(acc: Multiclass) -> str:
    if acc._bounds == _inputs.PROBABILITY:
        return "is not a probability: " + _inputs.probability_hint(acc._describe(), threshold=False)
    if acc.from_logits:
        return "is not a finite logit: from_logits=True needs finite numbers"
    return "is not a finite score"


# --- values, on the device ----------------------------------------------------------------------------


def _kept(values: Tensor, label: Any, consts: Constants) -> Tensor | None:
    """values != ignore_index, exactly as the host compares them; None: no ignore_index, or no
    value of this dtype can equal it (a string, a label out of the integer dtype's range)."""
    import torch

    if label is None or not isinstance(label, int):
        return None
    if values.dtype.is_floating_point:  # (in float64: an integer past 2**24 is not exact in float32)
        return values.to(torch.float64) != float(label)
    if values.dtype == torch.bool:
        return values != bool(label) if label in (0, 1) else None
    info = torch.iinfo(values.dtype)
    return values != label if info.min <= label <= info.max else None


def _classes(acc: Multiclass, values: Tensor, consts: Constants) -> tuple[Tensor, Tensor]:
    """(class index, bad) of labels, both in values' shape: the index is int64, in [0, K) where
    not bad (a range index leaves a bad one as it is: the caller clamps it)."""
    import torch

    floating = values.dtype.is_floating_point
    v = values.to(torch.float64) if floating else None
    index = acc._index
    if index.is_range:
        k = acc.num_classes
        if v is not None:  # NaN fails every comparison but floor(NaN) != NaN
            return v.to(torch.int64), (v < 0) | (v >= k) | (torch.floor(v) != v)
        c = values if values.dtype == torch.int64 else values.to(torch.int64)
        return c, (c // k) != 0  # (floor division: 0 exactly for 0 <= c < K)
    # integer labels: a binary search of the sorted labels, then an exact comparison
    assert index._sorted is not None  # unsupported() refuses labels without a sorted int64 array
    known, order = _labels_on(index._sorted.tobytes(), index._order.tobytes(), str(values.device))
    whole = None
    if v is not None:
        whole = (v >= -(2.0**63)) & (v < 2.0**63) & (torch.floor(v) == v)
        keys = torch.where(whole, v, consts.scalar(0.0, torch.float64)).to(torch.int64)
    else:
        keys = values if values.dtype == torch.int64 else values.to(torch.int64)
    at = torch.searchsorted(known, keys).clamp_(max=known.shape[0] - 1)
    bad = known[at] != keys
    if whole is not None:
        bad = bad | ~whole
    return (at if order is None else order[at]), bad


@functools.lru_cache(maxsize=64)
def _labels_on(known: bytes, order: bytes, device: str) -> tuple[Tensor, Tensor | None]:
    """The sorted labels and their classes on a device (None: the labels are sorted, a label's
    position is its class), copied there once (a copy per batch would wait for the device's
    queue on CUDA)."""
    import torch

    positions = np.frombuffer(order, dtype=np.int64)
    classes = None if np.array_equal(positions, np.arange(positions.shape[0])) else (
        torch.from_numpy(positions.copy()).to(device))
    return torch.from_numpy(np.frombuffer(known, dtype=np.int64).copy()).to(device), classes


def _argmax(scores: Tensor, dim: int) -> Tensor:
    """The first maximum along dim (torch.argmax's documented tie rule, and numpy's); bool as uint8."""
    import torch

    return (scores.to(torch.uint8) if scores.dtype == torch.bool else scores).argmax(dim=dim)


# --- the score state: bins, top-label confidence, calibration sums, top-k ranks --------------------


def _count_scores(acc: Multiclass, consts: Constants, tensors: dict[str, Tensor], rows: Tensor, truth: Tensor,
                  pred: Tensor, gate: Tensor, use: Tensor, kept: Tensor | None, w: Tensor | None, amount: Tensor,
                  kind: str) -> None:
    """Multiclass._count_score_state on the (E, K) rows, with truth (E,) in [0, K) and amount (E,)
    each row's count (gated, weighted; 0 where a row does not add). Rows of ignored samples are
    cleaned to 0 before any arithmetic (they may be NaN); sums of a refused batch are dropped by
    one where on the few summed values."""
    import torch

    k = acc.num_classes
    f64 = torch.float64
    zero = consts.scalar(0.0, f64)
    truth_column = truth.unsqueeze(1)  # (E, 1)
    classes = consts.values(f"classes {k}", range(k), torch.int64, (1, k))
    if acc._bins is not None and acc._confidence is not None:
        onehot = truth_column == classes  # (E, K)
        top = total = logits = None
        if acc.from_logits:  # softmax in float64 (the softmax kernel's formula), then as probabilities
            logits = rows.to(f64)
            if kept is not None:
                logits = torch.where(kept.unsqueeze(1), logits, zero)
            top = logits.amax(dim=1, keepdim=True)
            exps = torch.exp(logits - top)
            total = exps.sum(dim=1, keepdim=True)
            probs = exps / total
            kind = "float64"
        else:
            probs = rows.to(f64)
            if kept is not None:
                probs = torch.where(kept.unsqueeze(1), probs, zero)
        edges, lo, hi = _edges(acc, kind, consts)
        cells = edges.shape[0] + 1
        cell = torch.searchsorted(edges, probs, right=True)  # (E, K) in [0, cells)
        _histogram(consts, tensors, k, cells, cell, onehot, probs, gate, use, kept, w, amount)
        if not ((acc._bounds == _inputs.PROBABILITY or acc.from_logits) and lo <= 0.0 and hi >= 1.0):
            out = tensors[_OUT]  # (probabilities, and softmax's, are never out of [0, 1] in a counted batch)
            out.add_(_out_of_range(consts, probs, lo, hi, gate, use, w).to(out.dtype))
        # the top-label confidence is the row's largest probability (at pred, the first maximum of
        # the rows: the same value), and its cell the row's largest (searchsorted is monotonic)
        confidence, confidence_cell = probs.amax(dim=1), cell.amax(dim=1)
        correct = pred == truth
        consts.flat(tensors[_CONF_HIST]).index_add_(0, torch.add(confidence_cell, correct, alpha=cells), amount)
        clean = torch.where(use, confidence, zero)
        consts.flat(tensors[_CONF_SUMS]).index_add_(0, confidence_cell, clean if w is None else clean * amount)
        if logits is not None:  # log loss from the logits: log-sum-exp, unclipped
            assert top is not None and total is not None
            error = torch.add(probs, onehot, alpha=-1)  # (p - t: a bool cannot be subtracted)
            brier = (error * error).sum(dim=1, keepdim=True)
            loss = (top + torch.log(total)) - logits.gather(1, truth_column)
            terms = torch.cat([brier, loss], dim=1)
            coefficients: tuple[float, ...] = (1.0, 1.0)
        else:
            terms, coefficients = _calibration_terms(consts, rows, truth_column, onehot, kept,
                                                     _scores.EPS[kind], acc._bounds)
        mass = amount if w is not None else use.to(f64) if kept is not None else None
        sums = terms.sum(dim=0) if mass is None else mass @ terms
        sums = torch.where(gate, sums, zero)  # (a refused batch's terms may be NaN)
        calib = tensors[_CALIB]
        consts.head(calib, terms.shape[1]).addcmul_(sums, consts.values(
            f"calibration {coefficients}", coefficients, f64))
    if acc._ranks is not None:
        ranks = tensors[_TOPK]
        scores = rows.to(torch.uint8) if rows.dtype == torch.bool else rows
        true_score = scores.gather(1, truth_column)
        # the true class's rank: the classes scored above it, and those tied with it after it
        after = classes > truth_column
        rank = torch.where(after, scores >= true_score, scores > true_score).sum(dim=1).clamp_(max=ranks.shape[0] - 1)
        ranks.index_add_(0, rank, amount)


def _edges(acc: Multiclass, kind: str, consts: Constants) -> tuple[Tensor, float, float]:
    """The bins' edges for scores of kind, float64 on the device (made once), and the first and last."""
    import torch

    assert acc._bins is not None
    edges, _, round32 = acc._bins.binning(kind)
    cut = _scores.round_to(edges, "float32") if round32 else np.asarray(edges, dtype=np.float64)
    table = consts.get(("multiclass edges", np.ascontiguousarray(cut).tobytes()),
                       lambda: torch.from_numpy(np.ascontiguousarray(cut, dtype=np.float64).copy()).to(consts.device))
    return table, float(cut[0]), float(cut[-1])


def _histogram(consts: Constants, tensors: dict[str, Tensor], k: int, cells: int, cell: Tensor, onehot: Tensor,
               probs: Tensor, gate: Tensor, use: Tensor, kept: Tensor | None, w: Tensor | None,
               amount: Tensor) -> None:
    """_kernels.histogram_scores: hist[c, truth, cell] += w, sums[c, cell] += w * score, for (E, K)
    float64 scores; a score's cell is the number of edges it passes (score >= edge)."""
    import torch

    hist, sums = tensors[_HIST], tensors[_SUMS]
    rows = consts.values(f"hist rows {k} {cells}", [2 * cells * c for c in range(k)], torch.int64, (1, k))
    index = torch.add(cell, onehot, alpha=cells) + rows
    if w is None and kept is None:
        spread = gated_ones(consts, gate, index.numel(), hist.dtype)
    else:  # each row's amount over its K entries
        spread = amount.unsqueeze(1).expand(cell.shape).reshape(-1)
    consts.flat(hist).index_add_(0, index.reshape(-1), spread)
    columns = consts.values(f"sums rows {k} {cells}", [cells * c for c in range(k)], torch.int64, (1, k))
    clean = torch.where(use if use.ndim == 0 else use.unsqueeze(1), probs, consts.scalar(0.0, torch.float64))
    mass = clean if w is None else clean * amount.unsqueeze(1)  # (amount: the weights, gated and cleaned)
    consts.flat(sums).index_add_(0, (cell + columns).reshape(-1), mass.reshape(-1))


def _out_of_range(consts: Constants, probs: Tensor, lo: float, hi: float, gate: Tensor, use: Tensor,
                  w: Tensor | None) -> Tensor:
    """(scores below the first edge, above the last) of the (E, K) scores of the rows that add,
    each with its row's weight: one comparison of (s, -s) with (lo, -hi) (negation is exact)."""
    import torch

    f64 = torch.float64
    signs = consts.values("signs 3", [1.0, -1.0], f64, (2, 1, 1))
    bounds = consts.values(f"bounds 3 {lo!r} {hi!r}", [lo, -hi], f64, (2, 1, 1))
    outside = (signs * probs) < bounds  # (2, E, K)
    row = use if use.ndim == 0 else use.unsqueeze(1)
    if w is None:
        return (outside & row).sum(dim=(1, 2))
    return torch.where(outside & row, w.unsqueeze(1), consts.scalar(0.0, f64)).sum(dim=(1, 2))  # (row: gated)


def _calibration_terms(consts: Constants, rows: Tensor, truth_column: Tensor, onehot: Tensor, kept: Tensor | None,
                       eps: float, bounds: tuple[float, float]) -> tuple[Tensor, tuple[float, ...]]:
    """_kernels.calibration_sums' terms per row, (E, 2 or 3): Brier (each (p - t)**2 in the host
    array's dtype: float32 for float32, float16 and bfloat16 scores, else float64, summed in
    float64), the log of the true class's probability clipped to [eps, 1 - eps] (summed, then
    negated), and whether a score is outside [0, 1] (never, for probabilities: no Brier term
    then); and what multiplies their sums."""
    import torch

    f64 = torch.float64
    host = f64 if rows.dtype == f64 else torch.float32
    p = rows.to(host)
    if kept is not None:  # an ignored row may be NaN: cleaned before any arithmetic
        p = torch.where(kept.unsqueeze(1), p, consts.scalar(0.0, host))
    error = torch.add(p, onehot, alpha=-1)  # (p - t, exact: a bool cannot be subtracted)
    brier = (error * error).sum(dim=1, keepdim=True, dtype=f64)
    log = torch.log(p.gather(1, truth_column).to(f64).clamp(min=eps, max=1 - eps))
    if bounds == _inputs.PROBABILITY:
        return torch.cat([brier, log], dim=1), (1.0, -1.0)
    outside = (torch.clamp(p, 0.0, 1.0) != p).any(dim=1, keepdim=True)
    brier = torch.where(outside, consts.scalar(0.0, f64), brier)
    return torch.cat([brier, log, outside.to(f64)], dim=1), (1.0, -1.0, 1.0)
