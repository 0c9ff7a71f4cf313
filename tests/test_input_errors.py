"""Structured input errors: a bad sample raises streameval.InputError (a ValueError) or
InputTypeError (a TypeError) whose .argument, .index and .value say where, checked against the
position numpy finds (np.argwhere on the bad mask), with the message as before."""

import io
import pickle
import sys

import numpy as np
import pandas as pd
import pytest

import streameval
from streameval import InputError, InputTypeError, StreamevalError, TimestampError

SEEDS = range(6)


def _raised(acc, *args, **kwargs):
    """The error acc.update(*args) raises; the accumulator is checked unchanged by it."""
    before = acc.copy()
    with pytest.raises((InputError, InputTypeError)) as info:
        acc.update(*args, **kwargs)
    assert acc == before
    return info.value


def _first(mask):
    """numpy's first bad position: an int on one axis, a tuple on two."""
    position = tuple(int(i) for i in np.argwhere(mask)[0])
    return position[0] if len(position) == 1 else position


def _check(error, argument, index, value):
    assert (error.argument, error.index) == (argument, index)
    assert error.value == value or (value != value and error.value != error.value)  # NaN is NaN
    shown = ", ".join(map(str, np.atleast_1d(index)))
    assert str(error).startswith(f"{argument}[{shown}] = {error.value!r} {error.problem}"), str(error)
    assert str(error) == f"{argument}[{shown}] = {error.value!r} {error.problem}"
    assert isinstance(error, StreamevalError)
    assert type(error.value) in (int, float, str, bool, type(None))  # plain Python, never numpy


@pytest.mark.parametrize("seed", SEEDS)
def test_class_out_of_range_names_the_first_bad_sample(seed):
    rng = np.random.default_rng(seed)
    k, n = 4, 200
    y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
    y_true[rng.choice(n, 3, replace=False)] = rng.integers(k, 3 * k, 3)
    y_pred[rng.choice(n, 3, replace=False)] = -rng.integers(1, 5, 3)
    bad_true, bad_pred = (y_true < 0) | (y_true >= k), (y_pred < 0) | (y_pred >= k)
    i = _first(bad_true | bad_pred)
    argument, arr = ("y_true", y_true) if bad_true[i] else ("y_pred", y_pred)
    error = _raised(streameval.Multiclass(k), y_true, y_pred)
    assert isinstance(error, ValueError)
    _check(error, argument, i, int(arr[i]))
    assert error.problem == f"is not a class: expected an integer in [0, {k})"


@pytest.mark.parametrize("seed", SEEDS)
def test_bad_score_in_a_score_matrix_has_a_row_and_column(seed):
    rng = np.random.default_rng(seed)
    n, k = 150, 3
    y_true, scores = rng.integers(0, k, n), rng.random((n, k))
    spots = rng.choice(n * k, 4, replace=False)
    scores.reshape(-1)[spots] = rng.choice([np.nan, np.inf, 1.5, -0.25], 4)
    bad = ~((scores >= 0) & (scores <= 1))
    i, j = _first(bad)
    error = _raised(streameval.Multiclass(k, bins=20), y_true, scores)
    _check(error, "y_pred", (i, j), float(scores[i, j]))


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_probability_and_weight(seed):
    rng = np.random.default_rng(seed)
    n = 300
    y_true, scores, w = rng.integers(0, 2, n), rng.random(n), rng.random(n)
    scores[rng.integers(n)] = 2.0
    i = _first(scores > 1)
    _check(_raised(streameval.Binary(bins=10), y_true, scores), "y_pred", i, 2.0)
    scores = np.clip(scores, 0, 1)
    w[rng.choice(n, 2, replace=False)] = -1.0
    error = _raised(streameval.Binary(weighted=True), y_true, scores, sample_weight=w)
    _check(error, "sample_weight", _first(w < 0), -1.0)
    assert error.problem == "is not a valid weight: expected a finite number >= 0"


@pytest.mark.parametrize("seed", SEEDS)
def test_multilabel_indicator_matrix(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 2, (80, 5)), rng.integers(0, 2, (80, 5))
    y_true.reshape(-1)[rng.integers(y_true.size)] = 3
    error = _raised(streameval.Multilabel(5), y_true, y_pred)
    _check(error, "y_true", _first(y_true > 1), 3)


def test_unknown_and_missing_labels():
    y_true = np.array(["cat", "dog", "cat", "emu", "owl"])
    y_pred = np.array(["cat", "cat", "dog", "dog", "cat"])
    labels = ["cat", "dog"]
    error = _raised(streameval.Multiclass(labels=labels), y_true, y_pred)
    _check(error, "y_true", _first(~np.isin(y_true, labels)), "emu")
    assert error.problem == "is not one of the labels ['cat', 'dog']"
    y_pred = np.array([1.0, 2.0, np.nan, 1.0, np.nan])
    error = _raised(streameval.Multiclass(labels="auto"), [1, 2, 2, 1, 1], y_pred)
    _check(error, "y_pred", _first(np.isnan(y_pred)), float("nan"))
    assert "is missing (None, NaN or NA)" in error.problem


def test_wrong_type_at_a_position_is_an_input_type_error():
    y_true = np.array([0, 1, "x", 1], dtype=object)
    error = _raised(streameval.Binary(), y_true, [0, 1, 1, 1])
    assert isinstance(error, InputTypeError) and isinstance(error, TypeError) and not isinstance(error, ValueError)
    _check(error, "y_true", 2, "x")
    with pytest.raises(InputError) as info:  # a missing value is a ValueError
        streameval.Binary().update(np.array([0, None, 1], dtype=object), [0, 1, 1])
    _check(info.value, "y_true", 1, None)


def test_timestamp_error_is_an_input_error_with_its_reason():
    win = streameval.Windowed(streameval.Binary(), 10.0, unit="seconds", buckets=2)
    win.update([1], [1], timestamp=100.0)
    with pytest.raises(TimestampError) as info:
        win.update([1], [1], timestamp=50.0)
    error = info.value
    assert isinstance(error, InputError) and isinstance(error, ValueError)
    assert (error.reason, error.argument, error.index) == ("late", "timestamp", None)


def test_errors_pickle_with_their_attributes():
    """A worker's error crosses processes (dask, spark) whole."""
    error = _raised(streameval.Multiclass(3, bins=5), [0, 1], [[0.1, 0.2, 0.7], [0.3, np.nan, 0.7]])
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is InputError and str(back) == str(error)
    assert (back.argument, back.index, back.problem) == (error.argument, error.index, error.problem) == \
        ("y_pred", (1, 1), "is not a finite score")
    late = pickle.loads(pickle.dumps(TimestampError("too late", "late")))
    assert (type(late), str(late), late.reason, late.argument) == (TimestampError, "too late", "late", "timestamp")


def test_the_command_line_maps_the_index_to_the_file_row_and_column(tmp_path):
    """evaluate names the file row and score column of the bad sample, found by its .index."""
    from streameval import cli

    rng = np.random.default_rng(3)
    n = 500
    df = pd.DataFrame({"y": rng.integers(0, 3, n), **{f"p{j}": rng.random(n) for j in range(3)}})
    df.loc[321, "p2"] = 7.5
    df.loc[400, "p0"] = -1.0
    path = tmp_path / "scores.csv"
    df.to_csv(path, index=False)
    bad = ~((df[["p0", "p1", "p2"]] >= 0) & (df[["p0", "p1", "p2"]] <= 1)).to_numpy()
    row, col = _first(bad)
    err, old = io.StringIO(), sys.stderr
    sys.stderr = err
    try:
        code = cli.main(["evaluate", str(path), "--y-true", "y", "--score", "p0", "p1", "p2", "--bins", "10",
                         "--no-progress"])
    finally:
        sys.stderr = old
    assert code == 1
    assert f"scores.csv: row {row + 1}: column 'p{col}' = 7.5 is not a probability" in err.getvalue()
