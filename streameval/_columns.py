"""How values in a file read: as labels or as numbers, one column chunk at a time.

Labels: a value that reads as an integer is that integer, in every format: ``1``, ``1.0``, the
text ``"1"`` or ``"1.0"`` and ``1e3`` (1000) are integer labels. Booleans and their text
(``true``/``false`` in any case) are 1 and 0, as a bool is an integer in numpy and scikit-learn:
a CSV of ``True`` and a Parquet bool column hold the same labels. ``yes``/``no`` (any case) are
1 and 0 only where the labels must be 0/1 (``evaluate --score`` and ``watch --pos-label 1``);
elsewhere they are text labels, as a column of yes/no/maybe holds three classes. Any other text
is a text label. A number that is not an integer (``0.5``), NaN or an infinity is not a label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from . import limits
from ._command import CliError, plain, short

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)",
                          re.IGNORECASE)


_BOOL_TEXT = {"true": 1, "false": 0}
_YES_NO = {"true": 1, "false": 0, "yes": 1, "no": 0}

Reason = Callable[[int], str]  # the message of bad row i, after the column's name
Converted = tuple[np.ndarray, np.ndarray, Reason]  # (values, bad mask, reason)


def canonical_label(value: Any, max_length: int | None = None, yes_no: bool = False) -> int | str:
    """The label a value stands for: an int for integer-valued numbers, bools and their text
    (``1``, ``1.0``, ``"1"``, ``" 1.0 "``, ``"1e3"``, ``True``, ``"false"``), with yes_no also
    ``"yes"`` (1) and ``"no"`` (0) in any case; else the text itself.

    ValueError (its message the reason) for numbers that are not integers, NaN and infinities, text
    longer than max_length characters (default ``streameval.limits.MAX_LABEL_LENGTH``), and other types.

    >>> [canonical_label(v) for v in (1.0, "2", " 3.0 ", True, "FALSE", "yes", "cat")]
    [1, 2, 3, 1, 0, 'yes', 'cat']
    >>> canonical_label("Yes", yes_no=True)
    1
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{plain(value)} is not a label")
        if not value.is_integer():
            raise ValueError(f"{plain(value)} is not a label: a number label must be an integer")
        return int(value)
    if isinstance(value, str):
        limit = limits.MAX_LABEL_LENGTH if max_length is None else max_length
        if len(value) > limit:
            raise ValueError(f"a label of {len(value):,} characters is longer than --max-label-length {limit:,}")
        text = value.strip()
        word = (_YES_NO if yes_no else _BOOL_TEXT).get(text.lower())
        if word is not None:
            return word
        if _INT_TEXT.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts: it stays text
                return value
        if NUMBER_TEXT.fullmatch(text):
            return canonical_label(float(text))
        return value
    raise ValueError(f"a {type(value).__name__} is not a label")


# --- column conversion ---------------------------------------------------------------------------
#
# A conversion gives (numpy values, bad mask, reason(i)); reason(i) is what follows the column's
# name in the message of bad row i: ": empty (null)", " = 'emu' is not one of the labels [...]".

_INT64 = (-(2**63), 2**63 - 1)
SIMPLE_KINDS = ("int", "float", "bool", "text", "null")


def kind_of(t: Any) -> str:
    """The kind of a pyarrow type: int, float, bool, null, text, bytes, dictionary, decimal or other."""
    import pyarrow as pa

    for kind, test in (("bool", pa.types.is_boolean), ("int", pa.types.is_integer), ("float", pa.types.is_floating),
                       ("null", pa.types.is_null), ("dictionary", pa.types.is_dictionary),
                       ("decimal", pa.types.is_decimal), ("text", pa.types.is_string),
                       ("text", pa.types.is_large_string), ("bytes", pa.types.is_binary),
                       ("bytes", pa.types.is_large_binary)):
        if test(t):
            return kind
    if str(t) == "string_view":
        return "text"
    return "other"


def check_column_types(path: str, schema: Any, columns: Collection[str], label_columns: Collection[str]) -> None:
    """CliError for a column whose type holds neither labels nor numbers (lists, structs, dates...)."""
    for col in columns:
        t = schema.field(col).type
        kind = kind_of(t.value_type) if kind_of(t) == "dictionary" else kind_of(t)
        if kind == "other" or (kind == "bytes" and col not in label_columns):
            what = "labels (integers or text)" if col in label_columns else "numbers"
            raise CliError(f"{path}: column {col!r} has type {short(str(t), 60)[1:-1]}: expected {what}")


def to_array(column: Any) -> Any:
    """A pyarrow Array from an Array or ChunkedArray (a reader's chunk is small)."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)
    return column


def _nulls(column: Any) -> np.ndarray:
    nulls: np.ndarray = column.is_null().to_numpy(zero_copy_only=False)
    return nulls


def convert_labels(column: Any, int_labels: bool = False, allowed: Collection[Any] | None = None,
                   max_length: int | None = None, yes_no: bool = False) -> Converted:
    """(labels, bad mask, reason(i)) of a label column, read as ``canonical_label`` reads a value
    (yes_no: with "yes" and "no" as 1 and 0).

    The labels are int64 when every good one is an integer that fits int64, else an object array in
    which each distinct label is one Python object: 8 bytes a row plus the distinct labels, never
    fixed-width strings. int_labels: only integers are good (class indices); allowed: only these.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = to_array(column)
    kind = kind_of(column.type)
    limit = limits.MAX_LABEL_LENGTH if max_length is None else max_length
    wide = kind == "int" and pa.types.is_uint64(column.type) and (pc.max(column).as_py() or 0) > _INT64[1]
    if kind == "null" or (kind in ("int", "bool") and allowed is None and not wide):
        nulls = _nulls(column)
        values = np.zeros(len(column), np.int64) if kind == "null" else \
            column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)  # (bools: cast first)
        return values, nulls, lambda i: ": empty (null)"
    too_long: np.ndarray | None = None
    if kind == "bytes":
        try:
            column = column.cast(pa.string())
        except pa.ArrowInvalid:
            raise CliError("a label column holds bytes that are not UTF-8 text") from None
        kind = "text"
    if kind == "text":  # overlong text never enters the dictionary
        lengths = pc.utf8_length(column)
        long_rows = pc.fill_null(pc.greater(lengths, limit), False)
        if pc.any(long_rows).as_py():
            too_long, lengths = long_rows.to_numpy(zero_copy_only=False), lengths.to_numpy(zero_copy_only=False)
            column = pc.if_else(long_rows, pa.scalar(None, column.type), column)
    elif kind == "decimal":
        column = column.cast(pa.string())
    if kind != "dictionary":
        column = pc.dictionary_encode(column)
    values, bad, reason = _from_dictionary(column.indices, column.dictionary, int_labels, allowed, limit, yes_no)
    if too_long is None:
        return values, bad, reason
    overlong = too_long

    def long_reason(i: int) -> str:
        if overlong[i]:
            return f": a label of {int(lengths[i]):,} characters is longer than --max-label-length {limit:,}"
        return reason(i)

    return values, bad | too_long, long_reason


def _from_dictionary(indices: Any, dictionary: Any, int_labels: bool, allowed: Collection[Any] | None,
                     max_length: int, yes_no: bool) -> Converted:
    """Labels of rows given as indices into a dictionary: each value a row uses is read once."""
    nulls = _nulls(indices)
    n = len(indices)
    if len(dictionary) == 0 or nulls.all():
        return np.zeros(n, np.int64), np.ones(n, dtype=bool), lambda i: ": empty (null)"
    used, pos = np.unique(indices.fill_null(0).to_numpy(zero_copy_only=False), return_inverse=True)
    entries = dictionary.take(used).to_pylist()
    canon: list[Any] = []
    reasons: dict[int, str] = {}
    shown: list[Any] | None = None
    for k, value in enumerate(entries):
        try:
            if value is None:
                raise ValueError("empty (null)")
            label = canonical_label(value, max_length, yes_no)
        except ValueError as e:
            canon.append(0)
            reasons[k] = f": {e}"
            continue
        canon.append(label)
        is_int = isinstance(label, int) and _INT64[0] <= label <= _INT64[1]
        if int_labels and not is_int:
            reasons[k] = f" = {short(value)} is not an integer label"
        elif allowed is not None and label not in allowed:
            if shown is None:
                listed = sorted(allowed, key=lambda v: (isinstance(v, str), v))
                shown = listed[:10] + (["..."] if len(listed) > 10 else [])
            reasons[k] = f" = {short(label)} is not one of the labels {shown}"
    entry_bad = np.zeros(len(canon), dtype=bool)
    entry_bad[list(reasons)] = True
    good = [v for k, v in enumerate(canon) if k not in reasons]
    if all(isinstance(v, int) and _INT64[0] <= v <= _INT64[1] for v in good):
        table = np.array([0 if k in reasons else v for k, v in enumerate(canon)], dtype=np.int64)
    else:
        table = np.empty(len(canon), dtype=object)
        table[:] = canon
    pos = pos.reshape(-1)

    def reason(i: int) -> str:
        return ": empty (null)" if nulls[i] else reasons.get(int(pos[i]), ": bad value")

    return table[pos], nulls | entry_bad[pos], reason


def convert_floats(column: Any, weight: bool = False) -> Converted:
    """(float64 values, bad mask, reason(i)) of a score or weight column: nulls, text that is not
    a number, NaN and infinities are bad (and negative weights)."""
    import pyarrow as pa

    column = to_array(column)
    if kind_of(column.type) == "dictionary":
        column = column.dictionary_decode()
    nulls = _nulls(column)
    raw: list[str | None] = []
    try:
        values = column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        unparsed = np.zeros(len(values), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # text that is not all numbers: find which
        raw = column.cast(pa.string()).to_pylist()
        values, unparsed = _parse_numbers(raw)
    with np.errstate(invalid="ignore"):
        bad = nulls | unparsed | ~np.isfinite(values) | ((values < 0) if weight else False)

    def reason(i: int) -> str:
        if nulls[i]:
            return ": empty (null)"
        if unparsed[i]:
            return f": {short(raw[i])} is not a number"
        if weight and values[i] < 0:
            return f": {plain(values[i])} is not a valid weight: expected a finite number >= 0"
        return f": {plain(values[i])} is not a finite {'weight' if weight else 'score'}"

    return values, bad, reason


def _parse_numbers(raw: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, unparsed mask) of text: numbers as written in CSV ("1", "-2.5e3", "nan")."""
    values = np.zeros(len(raw), dtype=np.float64)
    unparsed = np.zeros(len(raw), dtype=bool)
    for i, text in enumerate(raw):
        if text is None:
            continue
        if NUMBER_TEXT.fullmatch(text.strip()):
            values[i] = float(text)
        else:
            unparsed[i] = True
    return values, unparsed
