"""Slice keys -> slot indices for ``Sliced``: the keys found so far, in the order they were found.

A batch's keys are mapped in one pass, without sorting:

- integer keys (numpy ints, bools, integer-valued floats): a compiled open-addressing hash table
  (int64 key -> slot, linear probing, at most half full) kept from batch to batch, so a batch of
  known keys is one compiled pass over its keys, whatever the number of slices;
- strings and other objects: hashed once per batch into first-appearance codes (pandas'
  ``factorize`` when pandas is installed, else a dict pass), then each distinct key of the batch
  is looked up once; pandas categoricals are read through their codes;
- crossed keys (a tuple of arrays): each component coded as above, the codes combined into one
  int64 per sample and hashed with the same table, fresh per batch.

Nothing is committed until ``commit``: ``assign`` returns the slots of the batch with new keys
given provisional slots after the known ones, and ``rollback`` undoes the table's insertions
(the positions a batch inserted were empty before it: emptying them restores the table).
"""

from __future__ import annotations

import math
import sys
from typing import Any, NamedTuple

import numpy as np

from . import _inputs
from ._kernels.counting import jit
from .errors import InputError

OTHER = "__other__"  # the slice of new keys past max_slices (overflow="other")
_EMPTY = -1
_OVER = -2  # a sample whose new key found no room (overflow="other")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
DENSE_SPAN = 1 << 16  # integer keys spanning this many values are looked up in a dense array


@jit
def _assign(keys: np.ndarray, table_keys: np.ndarray, table_slots: np.ndarray, shift: int, next_slot: int, room: int,
            other: bool, out: np.ndarray, new_keys: np.ndarray, inserted: np.ndarray,
            n_held: int) -> tuple[int, int, int]:  # pragma: no cover - compiled
    """Each key's slot into out (new keys: next_slot, next_slot + 1... in order of first
    appearance, inserted into the table). Returns (new keys, status, index): status 0 done; 1 a
    new key past room at index (other=False); 2 the table would be more than half full at index.
    Past room with other=True, a new key's samples get _OVER and the key is not inserted."""
    mask = table_keys.shape[0] - 1
    n_new = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        h = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))
        slot = -1
        while True:
            slot = table_slots[h]
            if slot == -1 or table_keys[h] == key:
                break
            h = (h + 1) & mask
        if slot != -1:
            out[i] = slot
            continue
        if n_new >= room:
            if not other:
                return n_new, 1, i
            out[i] = -2
            continue
        if 2 * (n_held + n_new + 1) > table_keys.shape[0]:
            return n_new, 2, i
        table_keys[h] = key
        table_slots[h] = next_slot + n_new
        inserted[n_new] = h
        new_keys[n_new] = key
        out[i] = next_slot + n_new
        n_new += 1
    return n_new, 0, -1


@jit
def _insert(keys: np.ndarray, slots: np.ndarray, table_keys: np.ndarray, table_slots: np.ndarray,
            shift: int) -> int:  # pragma: no cover - compiled
    """Put each key (not held) with its slot; the table has room. Returns the keys inserted."""
    mask = table_keys.shape[0] - 1
    done = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        h = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))
        while table_slots[h] != -1 and table_keys[h] != key:
            h = (h + 1) & mask
        if table_slots[h] == -1:
            done += 1
        table_keys[h] = key
        table_slots[h] = slots[i]
    return done


@jit
def _lookup(slots: np.ndarray, codes: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[i] = slots[codes[i]] (a take, without numpy's temporary)."""
    for i in range(codes.shape[0]):
        out[i] = slots[codes[i]]


class IntTable:
    """int64 key -> slot, open addressing; grows (doubling) when it would be more than half full."""

    def __init__(self, capacity: int = 1024) -> None:
        self.keys = np.zeros(capacity, np.int64)
        self.slots = np.full(capacity, _EMPTY, np.int64)
        self.held = 0

    @property
    def shift(self) -> int:
        return 64 - (self.keys.shape[0].bit_length() - 1)

    def copy(self) -> IntTable:
        new = IntTable.__new__(IntTable)
        new.keys, new.slots, new.held = self.keys.copy(), self.slots.copy(), self.held
        return new

    def assign(self, keys: np.ndarray, next_slot: int, room: int, other: bool) -> tuple[np.ndarray, np.ndarray,
                                                                                             np.ndarray, int]:
        """(slots of keys, new keys, table positions inserted, index of the first key past room
        or -1). The insertions stay until rollback(positions) or for good."""
        n = keys.shape[0]
        out = np.empty(n, np.int64)
        bound = min(n, max(room, 0)) + 1
        new_keys = np.empty(bound, np.int64)
        inserted = np.empty(bound, np.int64)
        while True:
            n_new, status, index = _assign(keys, self.keys, self.slots, self.shift, next_slot, room, other, out,
                                           new_keys, inserted, self.held)
            if status != 2:
                self.held += n_new
                return out, new_keys[:n_new], inserted[:n_new], index if status == 1 else -1
            self.slots[inserted[:n_new]] = _EMPTY
            self._grow(self.held + n_new + 1)

    def rollback(self, inserted: np.ndarray) -> None:
        self.slots[inserted] = _EMPTY
        self.held -= inserted.shape[0]

    def _grow(self, needed: int) -> None:
        """A larger table (at most half full with needed keys), holding the same keys."""
        capacity = self.keys.shape[0]
        while 2 * needed > capacity:
            capacity *= 2
        held = self.slots != _EMPTY
        keys, slots = self.keys[held], self.slots[held]
        self.keys = np.zeros(capacity, np.int64)
        self.slots = np.full(capacity, _EMPTY, np.int64)
        self.held = int(_insert(keys, slots, self.keys, self.slots, self.shift))

    def insert(self, keys: np.ndarray, slots: np.ndarray) -> None:
        """Add keys (not held yet) with these slots."""
        if 2 * (self.held + keys.shape[0]) > self.keys.shape[0]:
            self._grow(self.held + keys.shape[0])
        self.held += int(_insert(keys, slots, self.keys, self.slots, self.shift))

    def find(self, key: int) -> int:
        """The slot of key, or -1."""
        out, _, _, _ = self.assign(np.array([key], np.int64), 0, 0, True)
        return int(out[0]) if out[0] >= 0 else -1


class Assignment(NamedTuple):
    """A batch's keys mapped: slots (one per sample), the new keys (in slot order after the known
    ones, the other slice last when it is new) and what to undo in the int table."""

    slots: np.ndarray
    new: list[Any]
    inserted: np.ndarray


class KeyIndex:
    """The keys found so far (slot -> key) and the way back (key -> slot)."""

    def __init__(self, keys: list[Any] | tuple[Any, ...] = ()) -> None:
        self.keys: list[Any] = []
        self.slot_of: dict[Any, int] = {}
        self.table = IntTable()
        self.arity: int | None = None  # components of a crossed key; None: single keys (or none yet)
        self.add(list(keys))

    def copy(self) -> KeyIndex:
        new = KeyIndex.__new__(KeyIndex)
        new.keys, new.slot_of, new.table, new.arity = list(self.keys), dict(self.slot_of), self.table.copy(), self.arity
        return new

    # --- the fused counting paths' maps (see _kernels.sliced) -----------------------------------

    def dense(self) -> tuple[int, np.ndarray] | None:
        """(lo, lookup): lookup[key - lo] is the slot of each integer key held (-1 for none), when
        the integer keys span at most DENSE_SPAN or 8 per key; None otherwise (or none held).
        Made again only when keys were added (keys are only ever appended)."""
        cached = self.__dict__.get("_dense")
        if cached is not None and cached[0] == len(self.keys):
            held: tuple[int, np.ndarray] | None = cached[1]
            return held
        ints = [(int(key), slot) for slot, key in enumerate(self.keys) if isinstance(key, int)]
        made: tuple[int, np.ndarray] | None = None
        if ints:
            values = np.array([key for key, _ in ints], np.int64)
            lo, hi = int(values.min()), int(values.max())
            if hi - lo < max(DENSE_SPAN, 8 * len(ints)):
                lookup = np.full(hi - lo + 1, -1, np.int64)
                lookup[values - lo] = [slot for _, slot in ints]
                made = (lo, lookup)
        self.__dict__["_dense"] = (len(self.keys), made)
        return made

    def codes_to_slots(self, categories: Any) -> np.ndarray | None:
        """A categorical's code -> slot array (-1 for a category not held yet), or None when a
        category is no slice key; kept for the same categories (the same Index, or an equal one)
        while no key is added."""
        cached = self.__dict__.get("_categories")
        if cached is not None and cached[0] == len(self.keys) and (cached[1] is categories
                                                                 or cached[1].equals(categories)):
            return cached[2]  # type: ignore[no-any-return]
        try:
            keys = [_key(v, "by", -1) for v in categories.tolist()]
        except ValueError:
            return None
        slot_of = self.slot_of
        slots = np.array([slot_of.get(key, -1) for key in keys], np.int64)
        self.__dict__["_categories"] = (len(self.keys), categories, slots)
        return slots

    @property
    def other(self) -> int | None:
        return self.slot_of.get(OTHER)

    def named(self) -> int:
        """Keys other than the other slice."""
        return len(self.keys) - (OTHER in self.slot_of)

    def add(self, new: list[Any]) -> None:
        """Append new keys (not held) as the next slots; integer keys go into the table too."""
        ints, slots = [], []
        for key in new:
            slot = len(self.keys)
            self.keys.append(key)
            self.slot_of[key] = slot
            if isinstance(key, tuple):
                self.arity = len(key)
            elif isinstance(key, int):  # bools too: True is the key 1
                ints.append(int(key))
                slots.append(slot)
        if ints:
            self.table.insert(np.array(ints, np.int64), np.array(slots, np.int64))

    def commit(self, assignment: Assignment) -> None:
        """Keep the batch's new keys (the table holds its integer ones already)."""
        for key in assignment.new:
            slot = len(self.keys)
            self.keys.append(key)
            self.slot_of[key] = slot
            if isinstance(key, tuple):
                self.arity = len(key)
        if assignment.new:  # keys of the generic path that are integers: into the table too
            generic_ints = [(int(k), self.slot_of[k]) for k in assignment.new if isinstance(k, int)
                            and self.table.find(int(k)) < 0]
            if generic_ints:
                keys, slots = zip(*generic_ints)
                self.table.insert(np.array(keys, np.int64), np.array(slots, np.int64))

    def rollback(self, assignment: Assignment) -> None:
        self.table.rollback(assignment.inserted)

    # --- a batch ------------------------------------------------------------------------------

    def assign(self, by: Any, n: int, max_slices: int, other: bool) -> Assignment:
        """Slots of a batch of n samples keyed by ``by``; InputError (argument "by") for a bad key,
        ValueError past max_slices when not other. Nothing is kept until commit()."""
        room = max_slices - self.named()
        if isinstance(by, tuple):
            return self._crossed(by, n, room, other)
        if self.arity is not None:
            raise ValueError(f"by= is one array, but this Sliced's keys are crossed ({self.arity} components): "
                             f"pass a tuple of {self.arity} arrays")
        kind, values = _column(by, n, "by")
        if kind == "int":
            slots, new_keys, inserted, index = self.table.assign(values.astype(np.int64, copy=False), len(self.keys),
                                                                 room, other)
            if index >= 0:
                self.table.rollback(inserted)
                raise _too_many(max_slices, values[index].item() if values.dtype != bool else bool(values[index]),
                                index)
            new = new_keys.astype(bool).tolist() if values.dtype == bool else new_keys.tolist()
            return self._with_other(Assignment(slots, new, inserted), other)
        codes, uniques = values
        return self._from_uniques(codes, uniques, room, other, max_slices)

    def _crossed(self, by: tuple[Any, ...], n: int, room: int, other: bool) -> Assignment:
        if len(by) == 0:
            raise ValueError("by=() is empty: expected an array of keys, or a tuple of arrays for crossed slices")
        if self.arity is None and self.keys and self.keys != [OTHER]:
            raise ValueError(f"by= is a tuple of {len(by)} arrays, but this Sliced's keys are single values")
        if self.arity is not None and len(by) != self.arity:
            raise ValueError(f"by= is a tuple of {len(by)} arrays, but this Sliced's keys have {self.arity} components")
        combined = np.zeros(n, np.int64)
        parts: list[list[Any]] = []
        stride = 1
        for j, column in enumerate(by):
            kind, values = _column(column, n, f"by[{j}]")
            if kind == "int":
                table = IntTable()
                codes, uniques_arr, _, _ = table.assign(values.astype(np.int64, copy=False), 0, n + 1, False)
                uniques: list[Any] = uniques_arr.astype(bool).tolist() if values.dtype == bool else uniques_arr.tolist()
            else:
                codes, uniques = values
            if stride * max(len(uniques), 1) >= 2**62:
                raise ValueError("by= crosses too many distinct values in one batch")
            combined += codes * stride
            stride *= max(len(uniques), 1)
            parts.append(uniques)
        table = IntTable()
        codes, combos, _, _ = table.assign(combined, 0, n + 1, False)
        strides = np.cumprod([1] + [max(len(p), 1) for p in parts[:-1]])
        digits = [(combos // s) % max(len(p), 1) for s, p in zip(strides, parts)]
        keys = list(zip(*[[p[d] for d in ds.tolist()] for p, ds in zip(parts, digits)]))
        return self._from_uniques(codes, keys, room, other, None)

    def _from_uniques(self, codes: np.ndarray, uniques: list[Any], room: int, other: bool,
                      max_slices: int | None) -> Assignment:
        """Slots from first-appearance codes and the distinct keys they stand for."""
        next_slot, slot_of = len(self.keys), self.slot_of
        local = np.empty(len(uniques), np.int64)
        new: dict[Any, int] = {}
        for j, key in enumerate(uniques):
            slot = slot_of.get(key)
            if slot is None:
                slot = new.get(key)
                if slot is None:
                    if len(new) >= room:
                        if not other:
                            index = int(np.argmax(codes == j))
                            raise _too_many(room + self.named() if max_slices is None else max_slices, key, index)
                        slot = _OVER
                    else:
                        slot = new[key] = next_slot + len(new)
            local[j] = slot
        slots = np.empty(codes.shape[0], np.int64)
        _lookup(local, codes, slots)
        return self._with_other(Assignment(slots, list(new), np.zeros(0, np.int64)), other)

    def _with_other(self, assignment: Assignment, other: bool) -> Assignment:
        """Samples marked _OVER go to the other slice (new, after the batch's new keys, if need be)."""
        if not other or not (assignment.slots == _OVER).any():
            return assignment
        slot = self.other
        new = assignment.new
        if slot is None:
            slot = len(self.keys) + len(new)
            new = [*new, OTHER]
        slots = assignment.slots
        slots[slots == _OVER] = slot
        return Assignment(slots, new, assignment.inserted)


def _too_many(max_slices: int, key: Any, index: int) -> ValueError:
    return ValueError(f"by[{index}] = {key!r} is a new slice key past max_slices={max_slices}: nothing was counted. "
                      'Give a larger max_slices=, or overflow="other" to count new keys in one "__other__" slice')


def _column(by: Any, n: int, name: str) -> tuple[str, Any]:
    """("int", int64 or bool keys) or ("codes", (first-appearance codes, distinct keys)) of one
    array of keys; InputError naming the argument and the first bad position."""
    codes = _categorical(by, n, name)
    if codes is not None:
        return "codes", codes
    if isinstance(by, (str, bytes)) or not hasattr(by, "__len__"):
        raise InputError(f"{name}={_inputs.show(by)} is not valid: expected an array of {n} slice keys (one per "
                         "sample), or a tuple of such arrays for crossed slices", name)
    values = _inputs.as_labels(by, name)
    if values.ndim != 1:
        raise InputError(f"{name} has shape {values.shape}: expected ({n},), one key per sample (crossed slices: a "
                         "tuple of 1-D arrays)", name)
    if values.shape[0] != n:
        raise InputError(f"{name} has {values.shape[0]} keys, but the batch has {n} samples", name)
    kind = values.dtype.kind
    if kind == "b":
        return "int", values
    if kind == "i" or (kind == "u" and (values.size == 0 or values.max() <= _INT64_MAX)):
        return "int", values.astype(np.int64, copy=False)
    if kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            _inputs.distinct_labels(values, name, None)  # raises naming the first missing or infinite key
        if values.size == 0 or (np.all(values == np.round(values)) and values.min() >= -(2.0**63)
                                and values.max() < 2.0**63):
            return "int", values.astype(np.int64)
    return "codes", _factorize(values, name)


def _categorical(by: Any, n: int, name: str) -> tuple[np.ndarray, list[Any]] | None:
    """A pandas categorical's (codes, categories), read without hashing its values; None otherwise."""
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    dtype = getattr(by, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        cat = by.array if isinstance(by, (pd.Series, pd.Index)) else by
        codes = np.asarray(cat.codes, dtype=np.int64)
        if codes.shape[0] != n:
            raise InputError(f"{name} has {codes.shape[0]} keys, but the batch has {n} samples", name)
        if (codes < 0).any():
            index = int(np.argmax(codes < 0))
            raise _inputs.sample_error(name, index, None, "is missing: every sample needs a slice key")
        categories = _keys(cat.categories.tolist(), codes, name)
        return codes, categories
    return None


def _factorize(values: np.ndarray, name: str) -> tuple[np.ndarray, list[Any]]:
    """(first-appearance codes, distinct keys) of one array of strings or objects."""
    try:
        import importlib
        pd: Any = importlib.import_module("pandas")  # optional: imported at the first batch of string keys
    except ImportError:  # pragma: no cover - pandas is a test dependency
        pd = None
    if pd is not None and values.dtype.kind in "OUS":
        try:
            codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
        except TypeError:  # unhashable objects: the dict pass names the first one
            codes = None
        if codes is not None:
            if (codes < 0).any():
                _inputs.distinct_labels(values, name, None)  # raises naming the first missing key
            keys = _keys(np.asarray(uniques).tolist(), codes, name)
            if len(set(keys)) == len(keys):  # pandas keeps 1 and 1.0 apart when Python equates them
                return codes.astype(np.int64, copy=False), keys
    labels, positions = _inputs.distinct_labels(values, name, None)
    return positions, _keys(labels, positions, name)


def _keys(values: list[Any], codes: np.ndarray, name: str) -> list[Any]:
    """The distinct keys checked (the position of a bad one found only then)."""
    try:
        return [_key(v, name, -1) for v in values]
    except ValueError:
        for j, value in enumerate(values):
            _key(value, name, int(np.argmax(codes == j)))
        raise


def _key(value: Any, name: str, index: int) -> Any:
    """A key as a plain Python value (integer-valued floats are integers), checked."""
    value = _inputs.canonical(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if not isinstance(value, (str, int, float)) or (isinstance(value, float) and not math.isfinite(value)) \
            or (isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX):
        raise _inputs.sample_error(name, index, value, "is not a slice key: expected a string, integer, boolean "
                                   "or finite number")
    return value


def check_keys(keys: Any) -> list[Any]:
    """Keys as a configuration records them (JSON: crossed keys are lists), checked: scalars
    (strings, integers, booleans, finite floats) or lists of them of one length, all distinct."""
    if not isinstance(keys, (list, tuple)):
        raise TypeError(f"keys={_inputs.show(keys)} is not valid: expected a list of slice keys")
    out: list[Any] = []
    arity: int | None = -1
    for i, key in enumerate(keys):
        if isinstance(key, (list, tuple)):
            parts = tuple(_config_scalar(part, f"keys[{i}]") for part in key)
            if arity not in (-1, len(parts)) or not parts:
                raise ValueError(f"keys[{i}] = {key!r} does not have the components of the other keys")
            arity = len(parts)
            out.append(parts)
        else:
            scalar = _config_scalar(key, f"keys[{i}]")
            if arity not in (-1, None) and scalar != OTHER:
                raise ValueError(f"keys[{i}] = {key!r} is a single key among crossed ones")
            if scalar != OTHER:
                arity = None
            out.append(scalar)
    if len(set(out)) != len(out):
        seen: set[Any] = set()
        for i, key in enumerate(out):
            if key in seen:
                raise ValueError(f"keys[{i}] = {key!r} repeats an earlier key (1, 1.0 and True are one key)")
            seen.add(key)
    return out


def _config_scalar(value: Any, name: str) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value) if value.is_integer() else value
    raise ValueError(f"{name} = {_inputs.show(value)} is not a slice key: expected a string, an integer, a boolean or "
                     "a finite number")


def json_keys(keys: list[Any]) -> list[Any]:
    """Keys for a JSON configuration: tuples as lists."""
    return [list(key) if isinstance(key, tuple) else key for key in keys]


# --- the fused counting paths' keys (Sliced._fused_count) ----------------------------------------


def fused_keys(by: Any, index: KeyIndex, n: int) -> tuple[np.ndarray, int, Any] | None:
    """(keys, lo, lookup) for the fused kernels: integer keys with the dense lookup of the keys
    held (or their hash table), or a pandas categorical's codes with its code -> slot array; None
    for other keys, or before any key is held (the general path reads them)."""
    if not index.keys:
        return None
    if type(by) is not np.ndarray:
        codes = _categorical_codes(by)
        if codes is None:
            by = _integer_column(by)
            if by is None:
                return None
        else:
            if codes[0].shape[0] != n:
                return None
            lookup = index.codes_to_slots(codes[1])
            return None if lookup is None else (codes[0], 0, lookup)
    if by.ndim != 1 or by.shape[0] != n or by.dtype.kind not in "iu" or by.dtype == np.uint64:
        return None
    dense = index.dense()
    if dense is not None:
        return by, dense[0], dense[1]
    return by, 0, index.table


def _categorical_codes(by: Any) -> tuple[np.ndarray, Any] | None:
    """(codes, categories) of a pandas categorical (Series, Index or Categorical), without
    importing pandas; None otherwise."""
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(getattr(by, "dtype", None), pd.CategoricalDtype):
        return None
    cat = by.array if isinstance(by, (pd.Series, pd.Index)) else by
    codes = cat.codes
    return (codes, cat.categories) if isinstance(codes, np.ndarray) else None


def _integer_column(by: Any) -> np.ndarray | None:
    """A pandas Series or Index of a numpy integer dtype as its array (no copy), else None."""
    dtype = getattr(by, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and type(by).__module__.startswith("pandas"):
        values = by.to_numpy()
        return values if isinstance(values, np.ndarray) else None
    return None
