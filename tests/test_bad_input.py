"""Bad inputs: the documented exception, a message naming the argument, the problem and the first
bad position, and the state left exactly as it was.

Every update case runs on an accumulator that has already counted valid batches, in three modes:
unweighted, weighted with sample weights, and weighted without them (counted with weight 1).
These take different kernel paths: unweighted Binary / Multiclass kernels count as they go and undo
on a bad sample; weighted and Multilabel kernels check the batch first.
"""

from __future__ import annotations

import operator
import re
import warnings

import numpy as np
import pytest

from helpers import (AUTO_LABELS, REGISTRY, assert_same_state, binary_pool, class_labels, draw_stream, is_plain,
                     is_replicated, keeps_scores, layout_of, remade)
from streameval import Binary, IncompatibleError, Multiclass, Multilabel

nan, inf = float("nan"), float("inf")

MODES = ["unweighted", "weighted", "weighted-no-weights"]
# The configurations are registered ones (tests/helpers.py CONFIGURATIONS), by name where a case's
# message spells out their classes; a weighted mode counts with the configuration's weighted twin.


def inputs(configuration) -> list[str]:
    """How a configuration's predictions may come: labels, scores, or both (a score state needs
    scores; discovered labels have no score columns)."""
    if keeps_scores(configuration):
        return ["scores"]
    if configuration.batches in ("auto", "auto-mixed"):
        return ["labels"]
    return ["labels", "scores"]


def weighable(configuration) -> bool:
    """A plain configuration that has a weighted twin (bootstrap replicates take no weights)."""
    return is_plain(configuration) and not is_replicated(configuration)


def _every_input(configuration) -> list[str]:
    return inputs(configuration)


def _every_mode(configuration) -> list[str]:
    return MODES if weighable(configuration) else MODES[:1]


# --- helpers ------------------------------------------------------------------------------------


def valid_batch(acc, rng, n, scores=False, kind=None):
    """A valid (y_true, y_pred) of n samples for acc, drawn as the registry draws its input kind
    (tests/helpers.py draw_stream): labels, or scores when scores=True. Ignored samples are
    counted ones here: a test puts its bad value where it is read."""
    layout = layout_of(acc)
    kind = kind or {"Binary": "labels", "Multiclass": "classes", "Multilabel": "multilabel"}[layout.kind]
    if kind in ("labels", "text", "scores"):
        kind = "scores" if scores else "labels"
    elif kind in ("classes", "matrix"):
        kind = "matrix" if scores else "classes"
    (batch,) = draw_stream(layout, kind, rng, [n])
    y_true, y_pred = batch.y_true, batch.y_pred
    if layout.kind == "Multilabel":  # drawn as labels or scores at random: as asked here
        y_pred = rng.random(y_pred.shape) if scores else rng.integers(0, 2, y_pred.shape)
    ignore = layout.config.get("ignore_index")
    if ignore is not None and layout.kind != "Multilabel":  # (Multilabel's streams hold no ignored entry)
        labels = binary_pool(layout.config) if layout.kind == "Binary" else class_labels(layout)
        counted = labels[:1] or AUTO_LABELS[:1]
        y_true = np.array([counted[0] if v == ignore else v for v in y_true.tolist()], dtype=y_true.dtype)
    return y_true, y_pred


def weights_for(mode, n, rng=None):
    if mode != "weighted":
        return None
    return (rng or np.random.default_rng(0)).uniform(0.5, 2.0, n)


def ready(configuration, mode, seed=0):
    """A registered configuration (or its name), in this mode, having counted a few valid batches
    (labels and scores, as it takes them)."""
    configuration = REGISTRY[configuration] if isinstance(configuration, str) else configuration
    acc = remade(configuration.make(), weighted=mode != "unweighted")
    rng = np.random.default_rng(seed)
    allowed = inputs(configuration)
    for scores in (False, True, False):
        scores = scores if ("scores" if scores else "labels") in allowed else allowed[0] == "scores"
        y_true, y_pred = valid_batch(acc, rng, 20, scores, configuration.batches)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a compacting exact table's warning
            acc.update(y_true, y_pred, sample_weight=weights_for(mode, 20, rng))
    assert not acc.is_empty
    return acc


def assert_rejected(acc, exc, match, *args, **kwargs):
    """acc.update(*args, **kwargs) raises exc matching `match` and changes nothing."""
    before, raw = acc.copy(), acc.to_bytes()
    with pytest.raises(exc, match=match) as info:
        acc.update(*args, **kwargs)
    assert acc == before, "a failed update changed the counts"
    assert acc.to_bytes() == raw, "a failed update changed the serialized state"
    return info


def update_in_mode(acc, mode, exc, match, y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return assert_rejected(acc, exc, match, y_true, y_pred, sample_weight=weights_for(mode, len(y_true)))


# --- labels that are not classes ----------------------------------------------------------------

LABEL_CASES = [
    # Multiclass(3)
    ("multiclass", [0, 1, 5, 2], [0, 1, 1, 2], r"^y_true\[2\] = 5 is not a class: expected an integer in \[0, 3\)$"),
    ("multiclass", [0, 1, 1, 2], [0, 1, 2, 3], r"^y_pred\[3\] = 3 is not a class: expected an integer in \[0, 3\)$"),
    ("multiclass", [0, -1, 1, 2], [0, 1, 1, 2], r"^y_true\[1\] = -1 is not a class"),
    ("multiclass", [0, 1, 1, 2], [0, -7, 1, 2], r"^y_pred\[1\] = -7 is not a class"),
    ("multiclass", [0.0, 1.0, 1.5, 2.0], [0, 1, 1, 2], r"^y_true\[2\] = 1\.5 is not a class"),
    ("multiclass", [0, 1, 1, 2], [0.0, 2.5, 1.0, 2.0], r"^y_pred\[1\] = 2\.5 is not a class"),
    ("multiclass", [0, nan, 1, 2], [0, 1, 1, 2], r"^y_true\[1\] = nan is not a class"),
    ("multiclass", [0, 1, 1, 2], [0.0, 1.0, nan, 2.0], r"^y_pred\[2\] = nan is not a class"),
    ("multiclass", [0.0, 1.0, inf], [0, 1, 1], r"^y_true\[2\] = inf is not a class"),
    # Multiclass(5, ignore_index=-100): only -100 is skipped
    (
        "multiclass-ignore",
        [0, -100, 4, -5],
        [0, 99, 4, 1],
        r"^y_true\[3\] = -5 is not a class: expected an integer in \[0, 5\)$",
    ),
    ("multiclass-ignore", [0, -100, 4, 1], [0, 99, 4, 7], r"^y_pred\[3\] = 7 is not a class"),
    ("multiclass-ignore", [0, -100, 5], [0, 1, 1], r"^y_true\[2\] = 5 is not a class"),
    # Binary: 0/1 labels, float y_pred = scores
    ("binary", [0, 1, 2], [0, 1, 1], r"^y_true\[2\] = 2 is not a class: expected 0 or 1$"),
    ("binary", [0, 1, 1], [0, 1, -1], r"^y_pred\[2\] = -1 is not a class: expected 0 or 1$"),
    ("binary", [0, -1], [0.2, 0.7], r"^y_true\[1\] = -1 is not a class"),
    ("binary", [0.0, 0.5], [0.2, 0.7], r"^y_true\[1\] = 0\.5 is not a class"),
    ("binary", [0.0, nan], [0.2, 0.7], r"^y_true\[1\] = nan is not a class"),
    ("binary", [1.0, 0.0, nan], [1, 0, 1], r"^y_true\[2\] = nan is not a class"),
    # Multilabel(4): the position is (sample, label)
    (
        "multilabel",
        [[0, 1, 0, 0], [0, 1, 5, 0]],
        [[0, 1, 0, 0], [0, 1, 0, 0]],
        r"^y_true\[1, 2\] = 5 is not a class: expected 0 or 1$",
    ),
    ("multilabel", [[0, 1, 0, 0], [0, 1, 0, 0]], [[0, 1, 0, -1], [0, 1, 0, 0]], r"^y_pred\[0, 3\] = -1 is not a class"),
    (
        "multilabel",
        [[0, 1, 0, 0], [1, 1, 0, 0], [0.5, 0, 0, 0]],
        [[0, 0, 0, 0]] * 3,
        r"^y_true\[2, 0\] = 0\.5 is not a class",
    ),
    ("multilabel", [[0, 1, 0, 0], [1, nan, 0, 0]], [[0, 0, 0, 0]] * 2, r"^y_true\[1, 1\] = nan is not a class"),
    ("multilabel", [[0, 1, 0, 0], [1, 1, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 2]], r"^y_pred\[1, 3\] = 2 is not a class"),
    # unknown labels
    ("multiclass-two-labels", ["a", "b", "c"], ["a", "b", "b"], r"^y_true\[2\] = 'c' is not one of the labels \['a', 'b'\]$"),
    (
        "multiclass-two-labels",
        ["a", "b", "b"],
        ["a", "zz", "b"],
        r"^y_pred\[1\] = 'zz' is not one of the labels \['a', 'b'\]$",
    ),
    ("multiclass-two-labels", ["b", "A"], ["a", "b"], r"^y_true\[1\] = 'A' is not one of the labels"),
    ("multiclass-int-labels", [10, 3, 4], [10, 3, 7], r"^y_true\[2\] = 4 is not one of the labels \[10, 3, 7\]$"),
    ("multiclass-int-labels", [10, 3, 7], [10, 0, 7], r"^y_pred\[1\] = 0 is not one of the labels \[10, 3, 7\]$"),
    ("multiclass-int-labels", [10, 3, nan], [10, 3, 7], r"^y_true\[2\] = nan is missing \(None, NaN or NA\)"),
    ("multiclass-int-labels", [10.0, 3.5], [10, 3], r"^y_true\[1\] = 3\.5 is not one of the labels"),
    ("multiclass-int-labels", [10, -3], [10, 3], r"^y_true\[1\] = -3 is not one of the labels"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name, y_true, y_pred, match", LABEL_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LABEL_CASES)]
)
def test_bad_label(name, y_true, y_pred, match, mode):
    update_in_mode(ready(name, mode), mode, ValueError, match, y_true, y_pred)


BIG = 50_000
# name -> (bad value for y_true, bad value for y_pred)
BIG_BAD = {
    "binary": (2, 3),
    "binary-spam": None,  # any label is valid: not spam means negative
    "multiclass": (3, -1),
    "multiclass-ignore": (5, 9),
    "multiclass-two-labels": ("zz", "c"),
    "multiclass-int-labels": (4, 11),
    "multilabel": (2, -1),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["y_true", "y_pred"])
@pytest.mark.parametrize("name", [n for n, bad in BIG_BAD.items() if bad is not None])
def test_bad_label_at_the_end_of_a_big_batch(name, which, mode):
    """The unweighted kernels undo BIG - 1 counted samples: the state must come back exactly."""
    acc = ready(name, mode)
    y_true, y_pred = valid_batch(acc, np.random.default_rng(5), BIG)
    arrays = {"y_true": y_true.astype(object), "y_pred": y_pred.astype(object)}
    bad = BIG_BAD[name][which == "y_pred"]
    if isinstance(acc, Multilabel):
        arrays[which][-1, -1] = bad
        position = rf"\[{BIG - 1}, 3\]"
    else:
        arrays[which][-1] = bad
        if which == "y_pred" and isinstance(acc, Multiclass) and acc.ignore_index is not None:
            arrays["y_true"][-1] = 0  # an ignored sample's prediction is not checked
        position = rf"\[{BIG - 1}\]"
    y_true, y_pred = (np.array(arrays[k].tolist()) for k in ("y_true", "y_pred"))
    match = rf"^{which}{position} = {re.escape(repr(bad))} is not "
    assert_rejected(acc, ValueError, match, y_true, y_pred, sample_weight=weights_for(mode, BIG))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["binary", "binary-spam", "multiclass", "multilabel"])
def test_bad_score_at_the_end_of_a_big_batch(name, mode):
    acc = ready(name, mode)
    y_true, y_pred = valid_batch(acc, np.random.default_rng(6), BIG, scores=True)
    y_pred[-1, ...] = nan
    position = rf"\[{BIG - 1}\]" if y_pred.ndim == 1 else rf"\[{BIG - 1}, 0\]"
    assert_rejected(
        acc,
        ValueError,
        rf"^y_pred{position} = nan is not a finite score$",
        y_true,
        y_pred,
        sample_weight=weights_for(mode, BIG),
    )


@pytest.mark.parametrize("mode", MODES)
def test_ignored_samples_are_not_checked(mode):
    """Documented: samples whose y_true is ignore_index are skipped, whatever their prediction."""
    acc = ready("multiclass-ignore", mode)
    before = acc.copy()
    acc.update(np.array([-100, -100, 2]), np.array([77, -5, 2]), sample_weight=weights_for(mode, 3))
    assert acc.n_samples == pytest.approx(before.n_samples + (weights_for(mode, 3)[2] if mode == "weighted" else 1))
    scores = np.full((3, 5), 0.2)
    scores[0] = np.nan  # an ignored row's scores are not read either
    scores[1, 2] = np.inf
    acc.update(np.array([-100, -100, 2]), scores, sample_weight=weights_for(mode, 3))
    assert acc.n_samples == pytest.approx(before.n_samples + 2 * (weights_for(mode, 3)[2] if mode == "weighted" else 1))


# --- non-finite scores --------------------------------------------------------------------------


def _scores(shape, bad_at, bad):
    out = np.random.default_rng(1).random(shape)
    for at in bad_at if isinstance(bad_at, list) else [bad_at]:
        out[at] = bad
    return out


SCORE_CASES = [
    ("binary", [0, 1, 1, 0], _scores(4, 3, nan), r"^y_pred\[3\] = nan is not a finite score$"),
    ("binary", [0, 1, 1, 0], _scores(4, 1, inf), r"^y_pred\[1\] = inf is not a finite score$"),
    ("binary", [0, 1, 1, 0], _scores(4, 0, -inf), r"^y_pred\[0\] = -inf is not a finite score$"),
    ("binary-spam", ["spam", "ham", "ham", "spam"], _scores(4, 2, nan), r"^y_pred\[2\] = nan is not a finite score$"),
    ("multiclass", [0, 1, 2, 0], _scores((4, 3), (3, 1), nan), r"^y_pred\[3, 1\] = nan is not a finite score$"),
    ("multiclass", [0, 1, 2, 0], _scores((4, 3), (0, 2), inf), r"^y_pred\[0, 2\] = inf is not a finite score$"),
    # row 1 is ignored, whatever its scores (test_ignored_samples_are_not_checked): row 2's NaN is reported
    ("multiclass-ignore", [0, -100, 2], _scores((3, 5), [(1, 4), (2, 3)], nan), r"^y_pred\[2, 3\] = nan is not a finite score$"),
    (
        "multiclass-two-labels",
        ["a", "b", "a"],
        _scores((3, 2), (2, 0), -inf),
        r"^y_pred\[2, 0\] = -inf is not a finite score$",
    ),
    ("multilabel", np.ones((4, 4), int), _scores((4, 4), (3, 1), nan), r"^y_pred\[3, 1\] = nan is not a finite score$"),
    (
        "multilabel",
        np.ones((4, 4), int),
        _scores((4, 4), (0, 0), -inf),
        r"^y_pred\[0, 0\] = -inf is not a finite score$",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name, y_true, y_pred, match", SCORE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SCORE_CASES)]
)
def test_non_finite_score(name, y_true, y_pred, match, mode):
    update_in_mode(ready(name, mode), mode, ValueError, match, y_true, y_pred)


def test_first_bad_position_wins():
    """The error names the earliest bad sample, whichever array it is in."""
    acc = ready("multiclass", "unweighted")
    assert_rejected(acc, ValueError, r"^y_pred\[1\] = 9 ", np.array([0, 1, 2, 7]), np.array([0, 9, 1, 1]))
    acc = ready("multilabel", "unweighted")
    y_true, y_pred = np.zeros((3, 4), int), np.zeros((3, 4), int)
    y_true[2, 0], y_pred[1, 3] = 7, 7
    assert_rejected(acc, ValueError, r"^y_pred\[1, 3\] = 7 ", y_true, y_pred)
    y_true[1, 2] = 5  # same sample: y_true is named first
    assert_rejected(acc, ValueError, r"^y_true\[1, 2\] = 5 ", y_true, y_pred)


# --- shapes -------------------------------------------------------------------------------------

SHAPE_CASES = [
    ("binary", [0, 1, 1, 0], [0, 1, 1], r"^y_pred has 3 samples but y_true has 4"),
    ("binary", [0, 1], [0, 1, 1], r"^y_pred has 3 samples but y_true has 2"),
    # inputs of any rank (issue 14): (N, d1, ...) labels take y_pred of the same shape
    ("binary", [[0, 1]], [0, 1], r"^y_pred has shape \(2,\): expected y_true's shape; y_true has \(1, 2\)$"),
    ("binary", 1, 1, r"^y_true has shape \(\): expected \(n_samples,\)$"),
    (
        "binary",
        [0, 1],
        [[0.1, 0.9], [0.2, 0.8]],
        r"^y_pred has shape \(2, 2\): expected \(n_samples,\) labels or scores$",
    ),
    ("multiclass", [0, 1, 2], [0, 1], r"^y_pred has 2 samples but y_true has 3"),
    ("multiclass", [0, 1, 2], np.zeros((2, 3)), r"^y_pred has 2 samples but y_true has 3"),
    ("multiclass", [0, 1, 2], np.zeros((3, 4)), r"^y_pred has shape \(3, 4\): scores need 3 columns, one per class$"),
    ("multiclass", [0, 1, 2], np.zeros((3, 2)), r"^y_pred has shape \(3, 2\): scores need 3 columns"),
    ("multiclass", [[0], [1]], [0, 1], r"^y_pred has shape \(2,\): expected y_true's shape \(labels\) or "
                                       r"\(2, 3, 1\) \(scores\); y_true has \(2, 1\)$"),
    (
        "multiclass",
        [0, 1],
        np.zeros((2, 3, 1)),
        r"^y_pred has shape \(2, 3, 1\): expected \(n_samples,\) labels or \(n_samples, 3\) scores$",
    ),
    ("multiclass-two-labels", ["a", "b"], np.zeros((2, 3)), r"^y_pred has shape \(2, 3\): scores need 2 columns"),
    ("multilabel", np.zeros((2, 3)), np.zeros((2, 3)), r"^y_true has shape \(2, 3\): expected \(n_samples, 4\)$"),
    ("multilabel", np.zeros((2, 4)), np.zeros((2, 5)), r"^y_pred has shape \(2, 5\): expected \(n_samples, 4\)$"),
    ("multilabel", np.zeros((3, 4)), np.zeros((2, 4)), r"^y_pred has 2 samples but y_true has 3"),
    ("multilabel", np.zeros(4), np.zeros(4), r"^y_true has shape \(4,\): expected \(n_samples, 4\)$"),
    ("multilabel", np.zeros((2, 4)), np.zeros((2, 4, 1)), r"^y_pred has shape \(2, 4, 1\): expected \(n_samples, 4\)$"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name, y_true, y_pred, match", SHAPE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_CASES)]
)
def test_shape_mismatch(name, y_true, y_pred, match, mode):
    acc = ready(name, mode)
    weights = None if mode != "weighted" else np.ones(np.shape(y_true)[0] if np.ndim(y_true) else 1)
    assert_rejected(acc, ValueError, match, y_true, y_pred, sample_weight=weights)


WEIGHT_SHAPE_CASES = [
    ("binary", [1.0, 1.0, 1.0], r"^sample_weight has 3 samples but y_true has 4"),
    ("binary", [1.0] * 5, r"^sample_weight has 5 samples but y_true has 4"),
    ("multiclass", [[1.0] * 4], r"^sample_weight has shape \(1, 4\): expected \(n_samples,\)$"),
    ("multiclass", 1.0, r"^sample_weight has shape \(\): expected \(n_samples,\)$"),
    ("multilabel", [1.0, 1.0], r"^sample_weight has 2 samples but y_true has 4"),
    ("multilabel", np.ones((4, 1)), r"^sample_weight has shape \(4, 1\)"),
]


@pytest.mark.parametrize(
    "name, weights, match", WEIGHT_SHAPE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(WEIGHT_SHAPE_CASES)]
)
def test_weight_shape_mismatch(name, weights, match):
    acc = ready(name, "weighted")
    y_true, y_pred = valid_batch(acc, np.random.default_rng(2), 4)
    assert_rejected(acc, ValueError, match, y_true, y_pred, sample_weight=weights)


# --- weights ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1.0, -1e-300, nan, inf, -inf], ids=repr)
@pytest.mark.configs(where=weighable, each=_every_input)
def test_bad_weight(configuration, case, bad):
    acc = ready(configuration, "weighted")
    y_true, y_pred = valid_batch(acc, np.random.default_rng(3), 4, case == "scores", configuration.batches)
    weights = [1.0, 0.0, bad, 2.0]
    match = rf"^sample_weight\[2\] = {re.escape(repr(bad))} is not a valid weight: expected a finite number >= 0$"
    assert_rejected(acc, ValueError, match, y_true, y_pred, sample_weight=weights)


@pytest.mark.parametrize("name", ["binary", "multiclass", "multiclass-two-labels", "multilabel"])
def test_first_bad_of_label_and_weight(name):
    """A bad weight before a bad label is reported first, and the other way round."""
    acc = ready(name, "weighted")
    y_true, y_pred = valid_batch(acc, np.random.default_rng(4), 4)
    y_true = y_true.astype(object)
    bad_label = {"binary": 2, "multiclass": 3, "multiclass-two-labels": "q", "multilabel": 2}[name]
    late = y_true.copy()
    late[3] = bad_label
    late = np.array(late.tolist())
    if name == "multiclass-two-labels":
        # Labels are looked up before the weights are checked, so today the later unknown label is
        # named; naming sample_weight[1] would be better. Either names its argument and position.
        match = r"^(y_true\[3\] = 'q' is not one of the labels|sample_weight\[1\] = -1\.0 )"
        assert_rejected(acc, ValueError, match, late, y_pred, sample_weight=[1, -1, 1, 1])
        return
    assert_rejected(acc, ValueError, r"^sample_weight\[1\] = -1\.0 ", late, y_pred, sample_weight=[1, -1, 1, 1])
    early = y_true.copy()
    early[1] = bad_label
    early = np.array(early.tolist())
    position = r"\[1, 0\]" if name == "multilabel" else r"\[1\]"
    match = rf"^y_true{position} = {re.escape(repr(bad_label))} is not a class"
    assert_rejected(acc, ValueError, match, early, y_pred, sample_weight=[1, 1, 1, -1])


@pytest.mark.configs(where=is_plain)
def test_sample_weight_on_unweighted_accumulator(configuration):
    acc = ready(configuration, "unweighted")
    y_true, y_pred = valid_batch(acc, np.random.default_rng(5), 4, inputs(configuration) == ["scores"],
                                 configuration.batches)
    match = r"^sample_weight was given to an unweighted accumulator: create it with weighted=True"
    assert_rejected(acc, ValueError, match, y_true, y_pred, sample_weight=np.ones(4))
    assert_rejected(acc, ValueError, match, y_true[:0], y_pred[:0], sample_weight=[])  # even when empty


@pytest.mark.configs(where=weighable, each=_every_input)
def test_weighted_without_weights_counts_ones(configuration, case):
    implicit, explicit = (remade(configuration.make(), weighted=True) for _ in range(2))
    unweighted = remade(configuration.make(), weighted=False)
    rng = np.random.default_rng(6)
    for n in (1, 17, 40):
        y_true, y_pred = valid_batch(implicit, rng, n, case == "scores", configuration.batches)
        implicit.update(y_true, y_pred)
        explicit.update(y_true, y_pred, sample_weight=np.ones(n))
        unweighted.update(y_true, y_pred)
    if layout_of(implicit).kind == "Binary" and layout_of(implicit).bins is not None:
        # The binned calibration sums (log loss) of a Binary add the same terms by another path with
        # weights than without: equal to the last bit or two (issue 13 report), the counts exactly.
        assert_same_state(implicit, explicit, "weights of 1")
        np.testing.assert_array_equal(implicit.confusion_matrix(), explicit.confusion_matrix())
    else:
        assert implicit == explicit
        assert implicit.to_bytes() == explicit.to_bytes()
    assert implicit.confusion_matrix().dtype == np.float64
    np.testing.assert_array_equal(implicit.confusion_matrix(), unweighted.confusion_matrix())
    assert implicit.n_samples == unweighted.n_samples


# --- strings and other types --------------------------------------------------------------------

TYPE_CASES = [
    (
        "binary",
        ["a", "b"],
        ["a", "b"],
        r"^y_true holds strings or objects \(dtype <U1\), but Binary\(pos_label=1\) expects 0/1 labels",
    ),
    ("binary", [0, 1], ["a", "b"], r"^y_pred holds strings or objects"),
    # an object array of numbers is read as numbers; None is missing (ValueError: tests/test_hostile_inputs.py)
    ("binary", np.array([0, b"x"], dtype=object), [0, 1], r"^y_true\[1\] = b'x' is not a number, but Binary\(pos_label=1\) expects 0/1 labels"),
    ("binary-spam", [0, 1], [0, 1], r"^y_true holds numbers \(dtype int64\) but pos_label='spam'$"),
    ("binary-spam", ["spam", "ham"], [1, 0], r"^y_pred holds numbers \(dtype int64\) but pos_label='spam'$"),
    (
        "multiclass",
        ["a"],
        [0],
        r"^y_true holds strings or objects \(dtype <U1\), but this accumulator's labels are integers$",
    ),
    ("multiclass", [0], ["a"], r"^y_pred holds strings or objects"),
    (
        "multiclass",
        [0],
        [["a", "b", "c"]],
        r"^y_pred holds strings or objects \(dtype <U1\), but scores must be numbers$",
    ),
    # an object array of numbers is read as numbers; None is missing (ValueError: tests/test_hostile_inputs.py)
    ("multiclass", np.array([0, b"x"], dtype=object), [0, 1], r"^y_true\[1\] = b'x' is not a number, but this accumulator's labels are integers"),
    ("multiclass-ignore", ["x"], [0], r"^y_true holds strings or objects"),
    (
        "multiclass-int-labels",
        ["10"],
        [10],
        r"^y_true holds strings or objects \(dtype <U2\) but the labels are not strings$",
    ),
    ("multiclass-int-labels", [10], ["10"], r"^y_pred holds strings or objects"),
    ("multiclass-two-labels", [0, 1], ["a", "b"], r"^y_true holds numbers \(dtype int64\) but the labels are strings$"),
    ("multiclass-two-labels", ["a", "b"], [0.0, 1.0], r"^y_pred holds numbers \(dtype float64\) but the labels are strings$"),
    (
        "multilabel",
        [["a"] * 4],
        [["a"] * 4],
        r"^y_true holds strings or objects \(dtype <U1\), but multilabel indicators must be 0/1$",
    ),
    ("multilabel", [[0] * 4], [["a"] * 4], r"^y_pred holds strings or objects"),
    (
        "multiclass",
        np.array([0, 1], dtype=complex),
        [0, 1],
        r"^y_true has dtype complex128: expected integers, booleans, floats or labels$",
    ),
    ("multiclass", {0: 1}, [0, 1], r"^y_true must be array-like, got dict$"),
    # (y_true=None is an unlabelled batch: ValueError naming unlabelled=True, see tests/test_unlabelled.py)
    ("multilabel", np.zeros((1, 4)), object(), r"^y_pred must be array-like, got object$"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name, y_true, y_pred, match", TYPE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(TYPE_CASES)]
)
def test_wrong_type(name, y_true, y_pred, match, mode):
    acc = ready(name, mode)
    weights = np.ones(len(y_true)) if mode == "weighted" and isinstance(y_true, (list, np.ndarray)) else None
    assert_rejected(acc, TypeError, match, y_true, y_pred, sample_weight=weights)


@pytest.mark.configs(where=weighable)
def test_string_weights(configuration):
    acc = ready(configuration, "weighted")
    y_true, y_pred = valid_batch(acc, np.random.default_rng(7), 3, inputs(configuration) == ["scores"],
                                 configuration.batches)
    match = r"^sample_weight holds strings or objects \(dtype <U1\), but weights must be numbers$"
    assert_rejected(acc, TypeError, match, y_true, y_pred, sample_weight=["1", "2", "3"])


# --- empty batches ------------------------------------------------------------------------------


def empty_batches(acc, allowed=("labels", "scores")):
    """Empty batches of every form acc takes (labels, scores, as allowed)."""
    labels_too = "labels" in allowed
    if isinstance(acc, Multilabel):
        shape = (0, acc.num_labels)
        return [
            *([(np.empty(shape, int), np.empty(shape, int))] if labels_too else []),
            (np.empty(shape, int), np.empty(shape)),
            *([(np.empty(shape, bool), np.empty(shape, bool))] if labels_too else []),
        ]
    out = [(np.empty(0, int), np.empty(0))] if isinstance(acc, Binary) else []
    if labels_too:
        out += [([], []), (np.empty(0, int), np.empty(0, int))]
        if isinstance(acc, Multiclass):
            out.append((np.empty(0, int), np.empty(0)))
    if isinstance(acc, Multiclass) and "scores" in allowed:
        out.append((np.empty(0, int), np.empty((0, acc.num_classes))))
    labels = acc.labels if isinstance(acc, Multiclass) else [acc.pos_label]
    if labels_too and all(isinstance(label, str) for label in labels):
        out.append((np.empty(0, "<U3"), np.empty(0, "<U3")))
    return out


@pytest.mark.configs(where=is_plain, each=_every_mode)
def test_empty_batch_is_a_no_op(configuration, case):
    mode = case
    for initially_empty in (True, False):
        acc = remade(configuration.make(), weighted=mode != "unweighted") if initially_empty else \
            ready(configuration, mode)
        before, raw = acc.copy(), acc.to_bytes()
        for y_true, y_pred in empty_batches(acc, inputs(configuration)):
            acc.update(y_true, y_pred, sample_weight=[] if mode == "weighted" else None)
        assert acc == before
        assert acc.to_bytes() == raw
        assert acc.is_empty == initially_empty


# --- constructors -------------------------------------------------------------------------------

CONSTRUCTOR_CASES = [
    (lambda: Multiclass(0), ValueError, r"^num_classes=0 is not valid: expected an integer >= 1$"),
    (lambda: Multiclass(-1), ValueError, r"^num_classes=-1 is not valid"),
    (lambda: Multiclass(2.5), ValueError, r"^num_classes=2\.5 is not valid"),
    (lambda: Multiclass(3.0), ValueError, r"^num_classes=3\.0 is not valid"),
    (lambda: Multiclass(True), ValueError, r"^num_classes=True is not valid"),
    (lambda: Multiclass("3"), ValueError, r"^num_classes='3' is not valid"),
    (lambda: Multiclass(3, labels=["a", "b", "c"]), ValueError, r"^give exactly one of num_classes and labels$"),
    (lambda: Multiclass(), ValueError, r"^give exactly one of num_classes and labels$"),
    (lambda: Multiclass(labels=["a", "b", "a"]), ValueError, r"^labels\[2\] = 'a' repeats labels\[0\]$"),
    (lambda: Multiclass(labels=[1, 2, 1.0]), ValueError, r"^labels\[2\] = 1\.0 repeats labels\[0\]$"),
    (lambda: Multiclass(labels=[]), ValueError, r"^labels is empty: expected at least one label$"),
    (lambda: Multiclass(labels="abc"), TypeError, r"^labels='abc' is not valid: expected a sequence of labels$"),
    (lambda: Multiclass(labels=5), TypeError, r"^labels=5 is not valid"),
    (lambda: Multiclass(labels=[[0], [1]]), TypeError, r"^labels\[0\] = \[0\] is not hashable$"),
    (lambda: Multiclass(3, ignore_index=1.5), TypeError, r"^ignore_index=1\.5 is not valid"),
    (lambda: Multiclass(3, ignore_index=[-100]), TypeError, r"^ignore_index=\[-100\] is not valid"),
    (lambda: Multiclass(3, weighted="yes"), TypeError, r"^weighted='yes' is not valid: expected True or False$"),
    (lambda: Multiclass(3, weighted=1), TypeError, r"^weighted=1 is not valid"),
    (lambda: Binary(threshold=nan), ValueError, r"^threshold=nan is not valid: expected a finite number$"),
    (lambda: Binary(threshold=inf), ValueError, r"^threshold=inf is not valid"),
    (lambda: Binary(threshold="0.5"), ValueError, r"^threshold='0\.5' is not valid"),
    (lambda: Binary(threshold=True), ValueError, r"^threshold=True is not valid"),
    (lambda: Binary(threshold=None), ValueError, r"^threshold=None is not valid"),
    (lambda: Binary(weighted="yes"), TypeError, r"^weighted='yes' is not valid: expected True or False$"),
    (lambda: Binary(inclusive=1), TypeError, r"^inclusive=1 is not valid: expected True or False$"),
    (lambda: Binary(pos_label=[1]), TypeError, r"^pos_label=\[1\] is not valid"),
    (lambda: Binary(pos_label=nan), TypeError, r"^pos_label=nan is not valid"),
    (lambda: Binary(pos_label=None), TypeError, r"^pos_label=None is not valid"),
    (lambda: Multilabel(0), ValueError, r"^num_labels=0 is not valid: expected an integer >= 1$"),
    (lambda: Multilabel(-2), ValueError, r"^num_labels=-2 is not valid"),
    (lambda: Multilabel(2.0), ValueError, r"^num_labels=2\.0 is not valid"),
    (lambda: Multilabel(True), ValueError, r"^num_labels=True is not valid"),
    (lambda: Multilabel(3, threshold=nan), ValueError, r"^threshold=nan is not valid"),
    (lambda: Multilabel(3, threshold="high"), ValueError, r"^threshold='high' is not valid"),
    (lambda: Multilabel(3, weighted="yes"), TypeError, r"^weighted='yes' is not valid"),
    (lambda: Multilabel(3, inclusive="no"), TypeError, r"^inclusive='no' is not valid"),
]


@pytest.mark.parametrize(
    "make, exc, match", CONSTRUCTOR_CASES, ids=[f"case-{i}" for i in range(len(CONSTRUCTOR_CASES))]
)
def test_bad_constructor_argument(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# --- metric arguments ---------------------------------------------------------------------------

ANY = ["binary", "multiclass", "multilabel"]
METRIC_CASES = [
    (ANY, lambda a: a.precision(average="bogus"), r"^average='bogus' is not valid: expected one of "),
    (ANY, lambda a: a.recall(average="bogus"), r"^average='bogus' is not valid"),
    (ANY, lambda a: a.f1(average="MACRO"), r"^average='MACRO' is not valid"),
    (ANY, lambda a: a.fbeta(0.5, average="bogus"), r"^average='bogus' is not valid"),
    (ANY, lambda a: a.jaccard(average="bogus"), r"^average='bogus' is not valid"),
    (ANY, lambda a: a.specificity(average="bogus"), r"^average='bogus' is not valid"),
    (
        ANY,
        lambda a: a.precision(zero_division=2),
        r'^zero_division=2 is not valid: expected "warn", 0\.0, 1\.0 or np\.nan$',
    ),
    (ANY, lambda a: a.recall(average="macro", zero_division="yes"), r"^zero_division='yes' is not valid"),
    (ANY, lambda a: a.f1(average="micro", zero_division=True), r"^zero_division=True is not valid"),
    (ANY, lambda a: a.fbeta(-1), r"^beta=-1 is not valid: expected a number >= 0$"),
    (ANY, lambda a: a.fbeta(nan), r"^beta=nan is not valid"),
    (ANY, lambda a: a.fbeta("2"), r"^beta='2' is not valid"),
    (
        ANY,
        lambda a: a.confusion_matrix(normalize="rows"),
        r"""^normalize='rows' is not valid: expected None, "true", "pred" or "all"$""",
    ),
    (ANY, lambda a: a.stat_scores(average="macro"), r'^stat_scores takes average=None, "micro" or "binary", got '),
    (ANY, lambda a: a.report(target_names=["x"]), r"^target_names has 1 names for \d+ classes$"),
    (["binary"], lambda a: a.precision(average="samples"), r"^average='samples' is not valid"),
    (["binary"], lambda a: a.compute(zero_division=2), r"^zero_division=2 is not valid"),
    (["multiclass"], lambda a: a.precision(average="samples"), r"^average='samples' is not valid"),
    (["multiclass"], lambda a: a.recall(average="binary"), r"^average='binary' is not valid"),
    (["multiclass"], lambda a: a.cohen_kappa(weights="cubic"), r"^weights='cubic' is not valid"),
    (
        ["multilabel"],
        lambda a: a.fbeta(2, average="samples"),
        r'^average="samples" is available for precision, recall, f1 \(beta=1\) and jaccard',
    ),
    (["multilabel"], lambda a: a.specificity(average="samples"), r'^average="samples" is available for'),
    (["multilabel"], lambda a: a.precision(average="samples", zero_division=2), r"^zero_division=2 is not valid"),
    (["multilabel"], lambda a: a.precision(average="binary"), r"^average='binary' is not valid"),
    (["multilabel"], lambda a: a.matthews_corrcoef(average="bogus"), r"^average='bogus' is not valid"),
    (["multilabel"], lambda a: a.balanced_accuracy(average="samples"), r"^average='samples' is not valid"),
]


@pytest.mark.parametrize(
    "name, call, match",
    [(name, call, match) for names, call, match in METRIC_CASES for name in names],
    ids=[f"{name}-{i}" for i, (names, _, _) in enumerate(METRIC_CASES) for name in names],
)
def test_bad_metric_argument(name, call, match):
    acc = ready(name, "unweighted")
    before = acc.copy()
    with pytest.raises(ValueError, match=match):
        call(acc)
    assert acc == before


# --- merging ------------------------------------------------------------------------------------

INCOMPATIBLE = {
    "binary-vs-multiclass": (lambda: Binary(), lambda: Multiclass(2)),
    "multiclass-vs-multilabel": (lambda: Multiclass(2), lambda: Multilabel(2)),
    "multilabel-vs-binary": (lambda: Multilabel(1), lambda: Binary()),
    "num-classes": (lambda: Multiclass(3), lambda: Multiclass(4)),
    "labels": (lambda: Multiclass(labels=["a", "b"]), lambda: Multiclass(labels=["a", "c"])),
    "labels-order": (lambda: Multiclass(labels=["a", "b"]), lambda: Multiclass(labels=["b", "a"])),
    "multiclass-weighted": (lambda: Multiclass(3), lambda: Multiclass(3, weighted=True)),
    "ignore-index": (lambda: Multiclass(5, ignore_index=-100), lambda: Multiclass(5)),
    "ignore-index-value": (lambda: Multiclass(5, ignore_index=-100), lambda: Multiclass(5, ignore_index=-1)),
    "threshold": (lambda: Binary(), lambda: Binary(threshold=0.3)),
    "inclusive": (lambda: Binary(), lambda: Binary(inclusive=False)),
    "binary-weighted": (lambda: Binary(weighted=True), lambda: Binary()),
    "pos-label": (lambda: Binary(pos_label="spam"), lambda: Binary(pos_label="ham")),
    "pos-label-type": (lambda: Binary(), lambda: Binary(pos_label="1")),
    "num-labels": (lambda: Multilabel(4), lambda: Multilabel(5)),
    "multilabel-threshold": (lambda: Multilabel(4), lambda: Multilabel(4, threshold=0.7)),
    "multilabel-weighted": (lambda: Multilabel(4), lambda: Multilabel(4, weighted=True)),
}


def describe(acc) -> str:
    """How an error message names an accumulator: its type and constructor arguments."""
    args = ", ".join(f"{k}={v!r}" for k, v in acc.to_dict()["config"].items())
    return f"{type(acc).__name__}({args})"


def filled(acc, seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = valid_batch(acc, rng, 10)
    acc.update(y_true, y_pred, sample_weight=rng.uniform(0, 2, 10) if acc.weighted else None)
    return acc


MERGES = {
    "merge": lambda a, b: a.merge(b),
    "iadd": operator.iadd,
    "add": operator.add,
    "sum": lambda a, b: sum([a, b]),
}


@pytest.mark.parametrize("how", MERGES)
@pytest.mark.parametrize("swap", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("pair", INCOMPATIBLE)
def test_incompatible_merge(pair, swap, how):
    make_a, make_b = INCOMPATIBLE[pair]
    a, b = filled(make_a(), 1), filled(make_b(), 2)
    if swap:
        a, b = b, a
    a_before, b_before = a.copy(), b.copy()
    a_raw, b_raw = a.to_bytes(), b.to_bytes()
    with pytest.raises(IncompatibleError, match=r"^Cannot merge ") as info:
        MERGES[how](a, b)
    message = str(info.value)
    assert describe(a) in message and describe(b) in message, message
    assert a == a_before and b == b_before
    assert a.to_bytes() == a_raw and b.to_bytes() == b_raw


def test_incompatible_error_message_exactly():
    with pytest.raises(IncompatibleError) as info:
        Multiclass(3).merge(Multiclass(4))
    assert str(info.value) == (
        "Cannot merge Multiclass(num_classes=3, labels=None, ignore_index=None, weighted=False) "
        "with Multiclass(num_classes=4, labels=None, ignore_index=None, weighted=False)"
    )
    assert isinstance(info.value, TypeError)


# Merging with what is no accumulator ("x", 1, 0.0, None, [1], an array): every registered
# configuration, in tests/test_contract.py test_incompatible_merges_change_nothing.


def test_add_string_is_type_error():
    acc = ready("binary", "unweighted")
    with pytest.raises(TypeError, match="unsupported operand"):
        acc + "x"
