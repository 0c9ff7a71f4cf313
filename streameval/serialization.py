"""The versioned binary format and the dict form of accumulator state. No pickle inside.

Binary layout (little-endian), format version 1::

    magic        4 bytes  b"SEVL"
    version      u16      1
    kind         u16      accumulator type (Binary = 1, Multiclass = 2, Multilabel = 3)
    config_len   u32      length of the configuration
    config       bytes    UTF-8 JSON object: the constructor's keyword arguments
    n_arrays     u16
    per array:   dtype u8 (1 = int64, 2 = float64), ndim u8, shape ndim * u64, raw data
    checksum     u32      CRC-32 of every byte before it

Reading is safe on untrusted bytes: a payload is at most ``streameval.limits.MAX_PAYLOAD_BYTES``
(2 GiB; ``to_bytes`` refuses to write a larger one, and ``streameval.load`` reads no more), every
length is checked against the bytes that remain before anything is allocated, the configuration
is checked (``bootstrap`` at most ``limits.MAX_BOOTSTRAP``, the count state it lays out at most
``limits.MAX_STATE_BYTES``) and then against the arrays' shapes before the accumulator is built,
and counts must be finite, non-negative and, per array, total at most ``limits.MAX_COUNT``
(integer counts) or a finite float64. Any failure raises SerializationError.

Format history: version 1 (streameval 0.1) is the first.
"""

from __future__ import annotations

import enum
import functools
import json
import reprlib
import struct
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _locking, limits
from .errors import SerializationError

if TYPE_CHECKING:
    from ._state import Spec

MAGIC = b"SEVL"
VERSION = 1
_HEADER = struct.Struct("<4sHHI")
_DTYPES = {1: np.dtype("<i8"), 2: np.dtype("<f8")}
_DTYPE_CODES = {np.dtype(np.int64): 1, np.dtype(np.float64): 2}
MAX_CONFIG_BYTES = 1 << 26
MAX_NDIM = 8  # state arrays have at most 3 dimensions
MAX_DIM = 1 << 40  # larger dimensions are forged: numpy could not even describe their product
_CACHED_STATE_BYTES = 1 << 20  # empty accumulators kept for reuse: small ones only (see _prototype)



class Kind(enum.IntEnum):
    """The kind field of a payload: which class wrote it."""

    BINARY = 1
    MULTICLASS = 2
    MULTILABEL = 3
    WINDOWED = 4
    DECAYED = 5
    SLICED = 6


# kind -> class, filled in as the classes are defined (Stateful.__init_subclass__, windows); keyed by
# Kind, looked up by the payload's raw u16 (an IntEnum hashes as its int).
REGISTRY: dict[int, Any] = {}


def encode(kind: Kind, config_bytes: bytes, arrays: list[np.ndarray]) -> bytes:
    """A payload; config_bytes is config_json(configuration) encoded as UTF-8.

    SerializationError when it would be larger than limits.MAX_PAYLOAD_BYTES, which from_bytes
    and streameval.load refuse: a checkpoint that cannot be read back is not written.
    """
    size = _HEADER.size + len(config_bytes) + 2 + sum(2 + 8 * a.ndim + a.nbytes for a in arrays) + 4
    if size > limits.MAX_PAYLOAD_BYTES:
        raise SerializationError(
            f"the payload would be {size:,} bytes, more than streameval.limits.MAX_PAYLOAD_BYTES = "
            f"{limits.MAX_PAYLOAD_BYTES:,}, which from_bytes and streameval.load refuse: raise the limit "
            "where the payload is written and where it is read"
        )
    parts = [_HEADER.pack(MAGIC, VERSION, kind, len(config_bytes)), config_bytes, struct.pack("<H", len(arrays))]
    for arr in arrays:
        parts.append(struct.pack("<BB", _DTYPE_CODES[arr.dtype], arr.ndim))
        parts.append(struct.pack(f"<{arr.ndim}Q", *arr.shape))
        parts.append(np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes())
    crc = 0
    for part in parts:  # the checksum part by part: one copy of the payload, not two
        crc = zlib.crc32(part, crc)
    return b"".join([*parts, struct.pack("<I", crc)])


def config_json(config: dict[str, Any]) -> str:
    """The configuration as JSON; TypeError if it would not read back as the same values."""
    try:
        text = json.dumps(config, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot serialize configuration {config!r}: {exc}") from None
    if json.loads(text) != config:  # tuples become lists: such labels would not load back
        raise TypeError(
            f"cannot serialize configuration {config!r}: labels must be strings, integers, floats or booleans"
        )
    return text


class _Reader:
    def __init__(self, data: bytes | memoryview):
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > len(self.data) - self.pos:
            raise SerializationError(
                f"Possible corruption: {what} needs {n} bytes at offset {self.pos}, "
                f"only {len(self.data) - self.pos} remain"
            )
        out = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        st = struct.Struct(fmt)
        return st.unpack(self.take(st.size, what))


def check_header(head: bytes | memoryview) -> None:
    """SerializationError unless head (a payload's first bytes, at least 8) starts with the magic
    bytes and the version this reader knows."""
    magic, version = struct.unpack_from("<4sH", head)
    if magic != MAGIC:
        raise SerializationError(f"Possible corruption: magic mismatch: expected {MAGIC!r}, got {magic!r}")
    if version != VERSION:
        raise SerializationError(f"Possible corruption: serial version mismatch: expected {VERSION}, got {version}")


def decode(data: Any) -> tuple[int, str, list[np.ndarray]]:
    """(kind, configuration JSON text, arrays) of a payload; SerializationError on anything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    size = memoryview(data).nbytes
    if size > limits.MAX_PAYLOAD_BYTES:
        raise SerializationError(f"payload of {size:,} bytes is larger than streameval.limits.MAX_PAYLOAD_BYTES = "
                                 f"{limits.MAX_PAYLOAD_BYTES:,}")
    if not isinstance(data, bytes):
        data = bytes(data)  # a copy that the caller cannot change while it is read
    if len(data) < _HEADER.size + 4:
        raise SerializationError(f"Possible corruption: payload of {len(data)} bytes is shorter than a header")
    body, (crc,) = memoryview(data)[:-4], struct.unpack("<I", data[-4:])  # no copy of a payload of up to 2 GiB
    check_header(body)
    magic, version, kind, config_len = _HEADER.unpack_from(body)
    if zlib.crc32(body) != crc:
        raise SerializationError("Possible corruption: checksum mismatch")
    reader = _Reader(body)
    reader.pos = _HEADER.size
    if config_len > MAX_CONFIG_BYTES:
        raise SerializationError(f"Possible corruption: configuration of {config_len} bytes")
    try:
        config_text = bytes(reader.take(config_len, "configuration")).decode()
    except UnicodeDecodeError as exc:
        raise SerializationError(f"Possible corruption: configuration is not UTF-8: {exc}") from None
    (n_arrays,) = reader.unpack("<H", "array count")
    arrays = []
    for i in range(n_arrays):
        code, ndim = reader.unpack("<BB", f"array {i} header")
        if code not in _DTYPES:
            raise SerializationError(f"Possible corruption: array {i} has unknown dtype code {code}")
        if ndim > MAX_NDIM:
            raise SerializationError(f"Possible corruption: array {i} has {ndim} dimensions")
        shape = reader.unpack(f"<{ndim}Q", f"array {i} shape")
        if any(dim > MAX_DIM for dim in shape):
            raise SerializationError(f"Possible corruption: array {i} has shape {shape}")
        dtype = _DTYPES[code]
        nbytes = dtype.itemsize
        for dim in shape:
            nbytes *= dim  # Python ints: no overflow, checked against what remains below
        raw = reader.take(nbytes, f"array {i} data")
        try:
            arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
        except ValueError as exc:  # e.g. a zero dimension beside dimensions numpy cannot multiply
            raise SerializationError(f"Possible corruption: array {i} has shape {shape}: {exc}") from None
        arrays.append(arr.astype(dtype.newbyteorder("="), copy=True))
    if reader.pos != len(body):
        raise SerializationError(f"Possible corruption: {len(body) - reader.pos} trailing bytes")
    return kind, config_text, arrays


def from_bytes(data: Any) -> Any:
    """Rebuild an accumulator from :meth:`Accumulator.to_bytes` output.

    >>> import streameval
    >>> acc = streameval.Binary()
    >>> acc.update([0, 1, 1], [0, 1, 0])
    >>> streameval.from_bytes(acc.to_bytes()) == acc
    True
    """
    kind, config_text, arrays = decode(data)
    return _build(kind, config_text, arrays)


def from_dict(d: dict[str, Any]) -> Any:
    """Rebuild an accumulator from :meth:`Accumulator.to_dict` output."""
    if not isinstance(d, dict) or d.get("format") != "streameval":
        raise SerializationError("not a streameval dict: expected the output of to_dict()")
    if type(d.get("version")) is not int or d["version"] != VERSION:
        raise SerializationError(f"serial version mismatch: expected {VERSION}, got {d.get('version')!r}")
    kinds = {cls.__name__: k for k, cls in REGISTRY.items()}
    if not isinstance(d.get("kind"), str) or d["kind"] not in kinds or not isinstance(d.get("state"), list):
        raise SerializationError(f"unknown kind {d.get('kind')!r} or missing state")
    arrays = []
    for i, item in enumerate(d["state"]):
        try:
            arr = np.asarray(item)
        except (TypeError, ValueError, RecursionError) as exc:
            raise SerializationError(f"state[{i}] is not a numeric array: {exc}") from None
        if arr.dtype.kind in "iuf" and _holds_booleans(item):  # numpy reads [0, False] as integers
            raise SerializationError(f"state[{i}] holds booleans: expected counts (numbers)")
        if arr.dtype.kind not in "iuf":
            raise SerializationError(f"state[{i}] is not a numeric array (dtype {arr.dtype})")
        arrays.append(arr)
    try:
        config_text = json.dumps(d.get("config"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(f"configuration is not JSON: {exc}") from None
    return _build(kinds[d["kind"]], config_text, arrays, exact_dtypes=False)


def _holds_booleans(item: Any) -> bool:
    """True when nested lists hold a bool (JSON's true or false), found by the C encoder."""
    try:
        text = json.dumps(item)
    except (TypeError, ValueError, RecursionError):  # not JSON (e.g. numpy arrays): numpy's dtype says
        return False
    return "true" in text or "false" in text  # strings, the only other place, are refused anyway


def _layout(kind: int, config_text: str) -> tuple[Any, dict[str, Any], Spec]:
    """(class, configuration, state spec) of a payload's configuration, checked without allocating.

    Payloads of one configuration arrive again and again (every batch of a worker): short
    configurations are parsed and checked once.
    """
    if len(config_text) <= 4096:
        return _cached_layout(kind, config_text)
    return _cached_layout.__wrapped__(kind, config_text)


@functools.lru_cache(maxsize=256)
def _cached_layout(kind: int, config_text: str) -> tuple[Any, dict[str, Any], Spec]:
    cls = REGISTRY.get(kind)
    if cls is None:
        raise SerializationError(f"Possible corruption: unknown accumulator kind {kind}")
    try:
        config = json.loads(config_text)
    except (ValueError, RecursionError) as exc:
        raise SerializationError(f"Possible corruption: configuration is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise SerializationError("Possible corruption: configuration is not an object")
    try:
        spec = cls._state_spec(**config)  # which bounds the state by limits.MAX_STATE_BYTES
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"Possible corruption: invalid configuration {_shown(config)}: {exc}") from None
    return cls, config, spec


def _shown(config: dict[str, Any]) -> str:
    """A configuration in an error message, cut short: a forged one may be megabytes long."""
    return _SHORT.repr(config)


_SHORT = reprlib.Repr()
_SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlevel = 8, 12, 60, 60, 3


@functools.lru_cache(maxsize=256)
def _prototype(kind: int, config_text: str) -> Any:
    """An empty accumulator of this configuration, copied for each payload (never modified)."""
    cls, config, _ = _layout(kind, config_text)
    try:
        return cls(**config)
    except (TypeError, ValueError) as exc:  # pragma: no cover - _state_spec checks the same
        raise SerializationError(f"Possible corruption: invalid configuration {_shown(config)}: {exc}") from None


def _build(kind: int, config_text: str, arrays: list[np.ndarray], exact_dtypes: bool = True) -> Any:
    cls, config, spec = _layout(kind, config_text)
    if len(arrays) != len(spec):
        raise SerializationError(f"Possible corruption: {len(arrays)} arrays, expected {len(spec)}")
    checked, totals = {}, {}
    for (name, declared), arr in zip(spec.items(), arrays):
        if not exact_dtypes and arr.size == 0 and 0 in declared.empty_shape:
            arr = arr.reshape(declared.empty_shape)  # nested lists (to_dict) lose the dimensions after an empty one
        if not declared.fits(arr.shape) or (exact_dtypes and arr.dtype != declared.dtype):
            raise SerializationError(
                f"Possible corruption: {name} has shape {arr.shape} and dtype {arr.dtype}, "
                f"expected {declared.shape} and {declared.dtype}"
            )
        non_finite = arr.dtype.kind == "f" and not np.isfinite(arr).all()
        if non_finite or (not declared.signed and (arr < 0).any()):
            raise SerializationError(f"Possible corruption: {name} holds negative or non-finite counts")
        if arr.dtype != declared.dtype:
            with np.errstate(invalid="ignore", over="ignore"):
                converted = arr.astype(declared.dtype)
            if not np.array_equal(converted, arr):
                raise SerializationError(f"{name} holds counts that are not {declared.dtype}")
            arr = converted
        if declared.bounded:
            total = totals[name] = float(limits.abs_total(arr)) if arr.size else 0.0
            if not limits.total_fits(total, arr.dtype):
                limit = "the largest float64" if arr.dtype.kind == "f" else f"limits.MAX_COUNT = {limits.MAX_COUNT:,}"
                raise SerializationError(f"Possible corruption: {name} holds counts that total more than {limit}: "
                                         "they would overflow")
        checked[name] = arr
    # Only now, with every array's size checked against the payload, may the configuration allocate.
    # Small prototypes are kept for the next payload; a large one would pin its zeros in the cache.
    cache = len(config_text) <= 4096 and limits.state_bytes(spec) <= _CACHED_STATE_BYTES
    prototype = _prototype(kind, config_text) if cache else _prototype.__wrapped__(kind, config_text)
    acc = object.__new__(cls)
    acc.__dict__ = _locking.unlocked_dict(prototype)
    acc._storage = type(prototype._storage).holding(prototype._spec, checked, totals)
    try:
        acc._check_state()
    except ValueError as exc:
        raise SerializationError(f"Possible corruption: {exc}") from None
    return acc
