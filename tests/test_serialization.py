"""Serialization: a golden version-1 payload, and hostile payloads.

- Round trips through to_bytes / from_bytes, to_dict / JSON / from_dict, pickle and copy give an
  equal, independent accumulator that keeps producing the same metrics: for every registered
  configuration, in tests/test_contract.py (test_round_trips).
- from_bytes must turn every corrupted or forged payload into SerializationError: truncations,
  bit flips, byte overwrites, and payloads rebuilt with a correct CRC-32 but lying lengths, shapes,
  dtypes, kinds and configurations. Never another exception, never a large allocation.
- from_dict must turn garbage into SerializationError.
- Golden payloads written by streameval 0.1 (format version 1) must keep reading back.
"""

from __future__ import annotations

import copy
import json
import math
import struct
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
from helpers import REGISTRY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streameval
from streameval import Binary, Multiclass, Multilabel, SerializationError

# --- accumulators and random data ---------------------------------------------------------------

def random_batch(acc, rng, n):
    """A valid (y_true, y_pred, sample_weight) for acc: labels or scores, weights or none."""
    use_scores = rng.random() < 0.5
    if isinstance(acc, Multilabel):
        shape = (n, acc.num_labels)
        y_true = rng.integers(0, 2, shape)
        y_pred = rng.random(shape) if use_scores else rng.integers(0, 2, shape).astype(bool)
    elif isinstance(acc, Multiclass):
        labels = list(acc.labels)
        y_true = [labels[i] for i in rng.integers(0, len(labels), n)]
        if acc.ignore_index is not None:
            y_true = [acc.ignore_index if r < 0.2 else v for v, r in zip(y_true, rng.random(n))]
        y_true = np.array(y_true)
        if use_scores:
            y_pred = rng.normal(size=(n, len(labels)))
        else:
            y_pred = np.array([labels[i] for i in rng.integers(0, len(labels), n)])
    else:
        if isinstance(acc.pos_label, str):
            pool = np.array([acc.pos_label, "ham"])
            y_true = pool[rng.integers(0, 2, n)]
            y_pred = rng.random(n) if use_scores else pool[rng.integers(0, 2, n)]
        else:
            y_true = rng.integers(0, 2, n)
            y_pred = rng.random(n) if use_scores else rng.integers(0, 2, n)
    weights = None
    if acc.weighted and rng.random() < 0.7:
        weights = rng.uniform(0, 3, n)
        weights[rng.random(n) < 0.1] = 0.0
    return y_true, y_pred, weights


def filled(name, seed=0, batches=3):
    acc = REGISTRY[name].make()
    rng = np.random.default_rng(seed)
    for _ in range(batches):
        acc.update(*random_batch(acc, rng, int(rng.integers(1, 40))))
    return acc


def metrics_of(acc) -> dict:
    """Every scalar metric of compute(), the confusion matrix and n_samples, warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = acc.compute()
        out["precision_per_class"] = acc.precision(average=None, zero_division=0.0)
        out["confusion_matrix"] = acc.confusion_matrix()
        out["n_samples"] = acc.n_samples
    return out


def assert_same_metrics(a, b):
    np.testing.assert_equal(metrics_of(a), metrics_of(b))  # NaN equals NaN here


# --- round trips ---------------------------------------------------------------------------------
# Every registered configuration (tests/helpers.py CONFIGURATIONS), filled and empty, through bytes,
# bytearray, memoryview, dict, JSON, pickle (protocols 0 and default, inside containers), copy,
# deepcopy and save/load: tests/test_contract.py test_round_trips.


def test_to_dict_is_plain_json():
    acc = filled("multilabel-weighted")
    d = acc.to_dict()
    assert d["format"] == "streameval" and d["version"] == 1 and d["kind"] == "Multilabel"
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_from_bytes_rejects_non_bytes():
    with pytest.raises(TypeError, match="data must be bytes"):
        streameval.from_bytes("SEVL")


# --- golden payloads: format version 1 ----------------------------------------------------------


def golden_accumulators():
    """Rebuilt from fixed data; the hex literals below are their to_bytes() in streameval 0.1."""
    binary = Binary(threshold=0.3, inclusive=False)
    binary.update([0, 1, 1, 0, 1, 1, 0, 0, 1], [0.1, 0.9, 0.3, 0.6, 0.8, 0.31, 0.2, 0.3, 0.05])
    multiclass = Multiclass(labels=["cat", "dog", "bird"], ignore_index="skip", weighted=True)
    multiclass.update(
        ["cat", "dog", "bird", "skip", "dog", "cat"],
        ["cat", "bird", "bird", "dog", "dog", "dog"],
        sample_weight=[1.0, 0.5, 2.0, 7.0, 1.25, 3.0],
    )
    multilabel = Multilabel(3, threshold=0.25, inclusive=False)
    multilabel.update(
        [[1, 0, 1], [0, 1, 0], [0, 0, 0], [1, 1, 1]],
        [[0.9, 0.1, 0.25], [0.2, 0.7, 0.3], [0.0, 0.1, 0.2], [0.5, 0.5, 0.5]],
    )
    return {"binary": binary, "multiclass": multiclass, "multilabel": multilabel}


GOLDEN_HEX = {
    "binary": (
        "5345564c01000100420000007b227468726573686f6c64223a302e332c22706f735f6c6162656c223a312c22696e636c7573"
        "697665223a66616c73652c227765696768746564223a66616c73657d01000102020000000000000002000000000000000300"
        "00000000000001000000000000000200000000000000030000000000000025cdf0b8"
    ),
    "multiclass": (
        "5345564c01000200580000007b226e756d5f636c6173736573223a6e756c6c2c226c6162656c73223a5b22636174222c2264"
        "6f67222c2262697264225d2c2269676e6f72655f696e646578223a22736b6970222c227765696768746564223a747275657d"
        "0100020203000000000000000300000000000000000000000000f03f00000000000008400000000000000000000000000000"
        "0000000000000000f43f000000000000e03f000000000000000000000000000000000000000000000040008ddd85"
    ),
    "multilabel": (
        "5345564c01000300440000007b226e756d5f6c6162656c73223a332c227468726573686f6c64223a302e32352c22696e636c"
        "7573697665223a66616c73652c227765696768746564223a66616c73657d0200010303000000000000000200000000000000"
        "0200000000000000020000000000000000000000000000000000000000000000020000000000000002000000000000000000"
        "0000000000000000000000000000020000000000000001000000000000000100000000000000010000000000000001000000"
        "000000000201080000000000000000000000000000400000000000000440000000000000f03f000000000000044000000000"
        "0000f03faaaaaaaaaaaa02400000000000000040000000000000f03f3bf3b1b5"
    ),
}

GOLDEN_DICT = {
    "binary": {
        "format": "streameval",
        "version": 1,
        "kind": "Binary",
        "config": {"threshold": 0.3, "pos_label": 1, "inclusive": False, "weighted": False},
        "state": [[[3, 1], [2, 3]]],
    },
    "multiclass": {
        "format": "streameval",
        "version": 1,
        "kind": "Multiclass",
        "config": {"num_classes": None, "labels": ["cat", "dog", "bird"], "ignore_index": "skip", "weighted": True},
        "state": [[[1.0, 3.0, 0.0], [0.0, 1.25, 0.5], [0.0, 0.0, 2.0]]],
    },
    "multilabel": {
        "format": "streameval",
        "version": 1,
        "kind": "Multilabel",
        "config": {"num_labels": 3, "threshold": 0.25, "inclusive": False, "weighted": False},
        "state": [
            [[[2, 0], [0, 2]], [[2, 0], [0, 2]], [[1, 1], [1, 1]]],
            [2.0, 2.5, 1.0, 2.5, 1.0, 2.333333333333333, 2.0, 1.0],
        ],
    },
}


@pytest.mark.parametrize("name", GOLDEN_HEX)
def test_golden_payload_reads_back(name):
    expected = golden_accumulators()[name]
    restored = streameval.from_bytes(bytes.fromhex(GOLDEN_HEX[name]))
    assert type(restored) is type(expected)
    assert restored == expected
    assert_same_metrics(restored, expected)


@pytest.mark.parametrize("name", GOLDEN_DICT)
def test_golden_dict_reads_back(name):
    expected = golden_accumulators()[name]
    restored = streameval.from_dict(json.loads(json.dumps(GOLDEN_DICT[name])))
    assert restored == expected
    assert_same_metrics(restored, expected)


def test_golden_binary_counts():
    """The golden Binary payload holds [[tn, fp], [fn, tp]] = [[3, 1], [2, 3]] (threshold 0.3, exclusive)."""
    restored = streameval.from_bytes(bytes.fromhex(GOLDEN_HEX["binary"]))
    assert restored.confusion_matrix().tolist() == [[3, 1], [2, 3]]
    assert restored.threshold == 0.3 and restored.inclusive is False


# --- forging payloads ---------------------------------------------------------------------------

MAGIC = b"SEVL"
BIN_CFG = {"threshold": 0.5, "pos_label": 1, "inclusive": True, "weighted": False}
BINW_CFG = {**BIN_CFG, "weighted": True}
MC_CFG = {"num_classes": 3, "labels": None, "ignore_index": None, "weighted": False}
ML_CFG = {"num_labels": 2, "threshold": 0.5, "inclusive": True, "weighted": False}
INT, FLOAT = 1, 2  # dtype codes


def seal(body: bytes) -> bytes:
    """body followed by its CRC-32: what makes a forged payload pass the checksum."""
    return body + struct.pack("<I", zlib.crc32(body))


def array_blob(code, shape, data=None, *, ndim=None, values=None) -> bytes:
    """One array: dtype u8, ndim u8, shape u64s, data (zeros of the right size by default)."""
    ndim = len(shape) if ndim is None else ndim
    if values is not None:
        data = np.asarray(values, dtype="<i8" if code == INT else "<f8").tobytes()
    elif data is None:
        data = bytes(8 * math.prod(shape))
    return struct.pack("<BB", code, ndim) + struct.pack(f"<{len(shape)}Q", *shape) + data


def forge(
    kind=1,
    config=BIN_CFG,
    arrays=None,
    *,
    magic=MAGIC,
    version=1,
    config_len=None,
    n_arrays=None,
    trailing=b"",
    sealed=True,
) -> bytes:
    """A payload in the version-1 layout, every field overridable; sealed with a correct CRC."""
    if arrays is None:
        arrays = [array_blob(INT, (2, 2))]
    config_bytes = config if isinstance(config, bytes) else json.dumps(config, separators=(",", ":")).encode()
    config_len = len(config_bytes) if config_len is None else config_len
    n_arrays = len(arrays) if n_arrays is None else n_arrays
    body = (
        struct.pack("<4sHHI", magic, version, kind, config_len)
        + config_bytes
        + struct.pack("<H", n_arrays)
        + b"".join(arrays)
        + trailing
    )
    return seal(body) if sealed else body


ML_ARRAYS = [array_blob(INT, (2, 2, 2)), array_blob(FLOAT, (8,))]
CFG_LEN = len(json.dumps(BIN_CFG, separators=(",", ":")))  # the configuration's length in forge()


@pytest.mark.parametrize(
    "payload, accumulator",
    [
        (forge(), Binary()),
        (forge(1, BINW_CFG, [array_blob(FLOAT, (2, 2), values=[[1.5, 0], [0, 2]])]), None),
        (forge(2, MC_CFG, [array_blob(INT, (3, 3))]), Multiclass(3)),
        (forge(2, {"num_classes": 3}, [array_blob(INT, (3, 3))]), Multiclass(3)),
        (forge(3, ML_CFG, ML_ARRAYS), Multilabel(2)),
    ],
    ids=["binary", "binary-weighted", "multiclass", "multiclass-defaults", "multilabel"],
)
def test_forger_builds_valid_payloads(payload, accumulator):
    """The forger is right: without a lie its payloads read back (so rejections below are the lie's)."""
    restored = streameval.from_bytes(payload)
    if accumulator is not None:
        assert restored == accumulator


def test_forger_matches_the_encoder():
    assert forge() == Binary().to_bytes()
    assert forge(3, ML_CFG, ML_ARRAYS) == Multilabel(2).to_bytes()


FORGED = {
    # framing
    "empty": b"",
    "magic-only": b"SEVL",
    "header-only-unsealed": forge(sealed=False)[:12],
    "header-only-sealed": seal(forge(sealed=False)[:12]),
    "wrong-magic": forge(magic=b"SEVM"),
    "lowercase-magic": forge(magic=b"sevl"),
    "zero-magic": forge(magic=bytes(4)),
    "version-0": forge(version=0),
    "version-2": forge(version=2),
    "version-65535": forge(version=65535),
    "crc-off-by-one": forge(sealed=False) + struct.pack("<I", (zlib.crc32(forge(sealed=False)) + 1) % 2**32),
    "crc-missing": forge(sealed=False),
    "crc-zero": forge(sealed=False) + bytes(4),
    "byte-after-crc": forge() + b"\x00",
    "crc-twice": seal(forge()),
    "trailing-1": forge(trailing=b"\x00"),
    "trailing-100": forge(trailing=bytes(100)),
    "trailing-array": forge(trailing=array_blob(INT, (2, 2))),
    # kinds
    "kind-0": forge(kind=0),
    "kind-4": forge(kind=4),
    "kind-65535": forge(kind=65535),
    "kind-multiclass-binary-config": forge(kind=2),
    "kind-multilabel-binary-config": forge(kind=3),
    "kind-binary-multilabel-config": forge(1, ML_CFG, ML_ARRAYS),
    "kind-binary-multiclass-2-config": forge(1, {"num_classes": 2}),
    # configuration length and JSON
    "config-len-beyond-end": forge(config_len=CFG_LEN + 1000),
    "config-len-max-u32": forge(config_len=2**32 - 1),
    "config-len-over-limit": forge(config_len=(1 << 26) + 1),
    "config-len-short": forge(config_len=CFG_LEN - 1),
    "config-len-long": forge(config_len=CFG_LEN + 1),
    "config-len-zero": forge(config_len=0),
    "config-empty": forge(config=b""),
    "config-not-json": forge(config=b"{not json"),
    "config-invalid-utf8": forge(config=b'{"threshold": "\xff\xfe"}'),
    "config-utf16": forge(config=json.dumps(BIN_CFG).encode("utf-16")),
    "config-deeply-nested": forge(config=b"[" * 100_000 + b"]" * 100_000),
    "config-huge-integer-text": forge(config=b'{"threshold": ' + b"9" * 5000 + b"}"),
    "config-list": forge(config=[0.5, 1, True, False]),
    "config-null": forge(config=None),
    "config-number": forge(config=1),
    "config-string": forge(config="threshold"),
    "config-unknown-key": forge(config={**BIN_CFG, "colour": "red"}),
    "config-self-key": forge(config={"cls": 1}),
    "config-missing-required": forge(3, {"threshold": 0.5}, ML_ARRAYS),
    # configuration values
    "num-classes-1e12": forge(2, {"num_classes": 10**12}, [array_blob(INT, (3, 3))]),
    "num-classes-1e12-matching-shape": forge(2, {"num_classes": 10**12}, [array_blob(INT, (10**12, 10**12), b"")]),
    "num-classes-2**32-matching-shape": forge(2, {"num_classes": 2**32}, [array_blob(INT, (2**32, 2**32), b"")]),
    "num-classes-10**400": forge(2, {"num_classes": 10**400}, [array_blob(INT, (3, 3))]),
    "num-classes-0": forge(2, {"num_classes": 0}, [array_blob(INT, (0, 0), b"")]),
    "num-classes-negative": forge(2, {"num_classes": -3}, [array_blob(INT, (3, 3))]),
    "num-classes-float": forge(2, {"num_classes": 3.0}, [array_blob(INT, (3, 3))]),
    "num-classes-bool": forge(2, {"num_classes": True}, [array_blob(INT, (1, 1))]),
    "num-classes-string": forge(2, {"num_classes": "3"}, [array_blob(INT, (3, 3))]),
    "num-classes-and-labels": forge(2, {"num_classes": 2, "labels": ["a", "b"]}),
    "num-classes-nor-labels": forge(2, {"weighted": False}),
    "num-labels-1e12": forge(3, {**ML_CFG, "num_labels": 10**12}, ML_ARRAYS),
    "num-labels-0": forge(3, {**ML_CFG, "num_labels": 0}, [array_blob(INT, (0, 2, 2), b""), array_blob(FLOAT, (8,))]),
    "labels-duplicate": forge(2, {"labels": ["a", "b", "a"]}, [array_blob(INT, (3, 3))]),
    "labels-nan-twice": forge(2, b'{"labels": [NaN, NaN]}'),
    "labels-string": forge(2, {"labels": "ab"}),
    "labels-number": forge(2, {"labels": 2}),
    "labels-unhashable": forge(2, {"labels": [[0], [1]]}),
    "labels-object": forge(2, {"labels": ["a", {"b": 1}]}),
    "labels-empty": forge(2, {"labels": []}, [array_blob(INT, (0, 0), b"")]),
    "threshold-nan": forge(1, b'{"threshold": NaN}'),
    "threshold-infinity": forge(1, b'{"threshold": Infinity}'),
    "threshold-1e999": forge(1, b'{"threshold": 1e999}'),
    "threshold-bigint": forge(1, {"threshold": 10**400}),
    "threshold-string": forge(1, {"threshold": "0.5"}),
    "threshold-null": forge(1, {"threshold": None}),
    "multilabel-threshold-nan": forge(3, b'{"num_labels": 2, "threshold": NaN}', ML_ARRAYS),
    "weighted-string": forge(1, {**BIN_CFG, "weighted": "yes"}),
    "weighted-int": forge(1, {**BIN_CFG, "weighted": 1}),
    "inclusive-null": forge(1, {**BIN_CFG, "inclusive": None}),
    "pos-label-list": forge(1, {**BIN_CFG, "pos_label": [1]}),
    "pos-label-nan": forge(1, b'{"pos_label": NaN}'),
    "pos-label-null": forge(1, {**BIN_CFG, "pos_label": None}),
    "ignore-index-float": forge(2, {**MC_CFG, "ignore_index": 1.5}, [array_blob(INT, (3, 3))]),
    "ignore-index-list": forge(2, {**MC_CFG, "ignore_index": [-100]}, [array_blob(INT, (3, 3))]),
    "weighted-config-int-array": forge(1, BINW_CFG),
    "unweighted-config-float-array": forge(1, BIN_CFG, [array_blob(FLOAT, (2, 2))]),
    # array count
    "n-arrays-0": forge(arrays=[]),
    "n-arrays-2": forge(arrays=[array_blob(INT, (2, 2))] * 2),
    "n-arrays-claims-2": forge(n_arrays=2),
    "n-arrays-claims-65535": forge(n_arrays=65535),
    "n-arrays-claims-0": forge(n_arrays=0),
    "n-arrays-missing": seal(forge(sealed=False)[: 12 + CFG_LEN]),
    "n-arrays-half": seal(forge(sealed=False)[: 12 + CFG_LEN + 1]),
    "multilabel-one-array": forge(3, ML_CFG, ML_ARRAYS[:1]),
    "multilabel-arrays-swapped": forge(3, ML_CFG, ML_ARRAYS[::-1]),
    # dtype codes
    "dtype-0": forge(arrays=[array_blob(0, (2, 2))]),
    "dtype-3": forge(arrays=[array_blob(3, (2, 2))]),
    "dtype-255": forge(arrays=[array_blob(255, (2, 2))]),
    "multilabel-sums-int": forge(3, ML_CFG, [ML_ARRAYS[0], array_blob(INT, (8,))]),
    # ndim and shapes
    "ndim-0": forge(arrays=[array_blob(INT, (), bytes(8))]),
    "ndim-1-same-bytes": forge(arrays=[array_blob(INT, (4,))]),
    "ndim-3-same-bytes": forge(arrays=[array_blob(INT, (2, 2, 1))]),
    "ndim-3-missing-dim": forge(arrays=[array_blob(INT, (2, 2), ndim=3)]),
    "ndim-255-no-shape": forge(arrays=[array_blob(INT, (), b"", ndim=255)]),
    "ndim-255-huge-dims": forge(arrays=[array_blob(INT, (2**40,) * 255, b"")]),
    "ndim-64-ones-short-data": forge(arrays=[array_blob(INT, (1,) * 64, b"")]),
    "ndim-64-ones": forge(arrays=[array_blob(INT, (1,) * 64)]),
    "shape-2**40": forge(arrays=[array_blob(INT, (2**40,), b"")]),
    "shape-2**40-squared": forge(arrays=[array_blob(INT, (2**40, 2**40), b"")]),
    "shape-max-u64": forge(arrays=[array_blob(INT, (2**64 - 1, 2**64 - 1), b"")]),
    "shape-max-u64-1d": forge(arrays=[array_blob(INT, (2**64 - 1,), b"")]),
    "shape-2**61-1d": forge(arrays=[array_blob(INT, (2**61,), b"")]),
    "shape-0x2": forge(arrays=[array_blob(INT, (0, 2))]),
    "shape-0x2**40": forge(arrays=[array_blob(INT, (0, 2**40))]),
    "shape-3x3": forge(arrays=[array_blob(INT, (3, 3))]),
    "shape-1x4": forge(arrays=[array_blob(INT, (1, 4))]),
    "shape-transposed-multilabel": forge(3, ML_CFG, [array_blob(INT, (2, 2, 2), ndim=3), array_blob(FLOAT, (2, 4))]),
    "multilabel-wrong-num-labels": forge(3, {**ML_CFG, "num_labels": 3}, ML_ARRAYS),
    "multiclass-shape-not-config": forge(2, MC_CFG, [array_blob(INT, (4, 4))]),
    "data-short": forge(arrays=[array_blob(INT, (2, 2), bytes(31))]),
    "data-long": forge(arrays=[array_blob(INT, (2, 2), bytes(33))]),
    "data-missing": forge(arrays=[array_blob(INT, (2, 2), b"")]),
    # counts
    "negative-count": forge(arrays=[array_blob(INT, (2, 2), values=[[1, -1], [0, 0]])]),
    "min-int64-count": forge(arrays=[array_blob(INT, (2, 2), values=[[0, 0], [0, -(2**63)]])]),
    "nan-count": forge(1, BINW_CFG, [array_blob(FLOAT, (2, 2), values=[[1, np.nan], [0, 0]])]),
    "inf-count": forge(1, BINW_CFG, [array_blob(FLOAT, (2, 2), values=[[1, np.inf], [0, 0]])]),
    "negative-float-count": forge(1, BINW_CFG, [array_blob(FLOAT, (2, 2), values=[[1, -0.5], [0, 0]])]),
    "multiclass-negative-count": forge(2, MC_CFG, [array_blob(INT, (3, 3), values=-np.eye(3))]),
    "multilabel-negative-count": forge(
        3, ML_CFG, [array_blob(INT, (2, 2, 2), values=-np.ones((2, 2, 2))), ML_ARRAYS[1]]
    ),
    "multilabel-nan-sample-sum": forge(3, ML_CFG, [ML_ARRAYS[0], array_blob(FLOAT, (8,), values=[np.nan] + [0] * 7)]),
    "multilabel-negative-sample-sum": forge(
        3, ML_CFG, [ML_ARRAYS[0], array_blob(FLOAT, (8,), values=[-1.0] + [0] * 7)]
    ),
}


def _rejection_problem(payload: bytes) -> str | None:
    """None when from_bytes raises SerializationError, else what happened instead."""
    try:
        acc = streameval.from_bytes(payload)
    except SerializationError:
        return None
    except Exception as exc:  # noqa: BLE001 - MemoryError and RecursionError included
        return f"{type(exc).__name__}: {exc}"
    return f"accepted as {acc!r}"


def assert_all_rejected(cases):
    """Every (description, payload) raises SerializationError; lists every one that does not."""
    problems = [f"{what}: {problem}" for what, payload in cases if (problem := _rejection_problem(payload))]
    assert not problems, f"{len(problems)} payload(s) not rejected:\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("name", FORGED)
def test_forged_payload_is_rejected_without_allocating(name):
    tracemalloc.start()
    try:
        problem = _rejection_problem(FORGED[name])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem is None, problem
    assert peak < 16 * 2**20, f"peak memory {peak} bytes for a {len(FORGED[name])}-byte payload"


# Known library bugs: numpy's ValueError escapes from decode's reshape.
def test_forged_ndim_above_numpy_limit_is_rejected():
    payload = forge(arrays=[array_blob(INT, (1,) * 65)])  # 65 dims of 1: 8 bytes of data, no lie on the size
    with pytest.raises(SerializationError):
        streameval.from_bytes(payload)


@pytest.mark.parametrize("shape", [(0, 2**62), (0, 2**63), (0, 2**64 - 1), (2**40, 2**40, 0)], ids=str)
def test_forged_empty_array_with_huge_dims_is_rejected(shape):
    payload = forge(arrays=[array_blob(INT, shape, b"")])  # zero elements: no data needed
    with pytest.raises(SerializationError):
        streameval.from_bytes(payload)


# --- fuzzing: corrupted valid payloads ----------------------------------------------------------

FUZZ_SOURCES = ["binary", "binary-spam-weighted", "multiclass-int-labels", "multiclass-ignore", "multilabel-weighted"]


def valid_payloads():
    out = {name: filled(name, seed=3).to_bytes() for name in FUZZ_SOURCES}
    out["binary-empty"] = Binary().to_bytes()
    for name, payload in out.items():
        assert streameval.from_bytes(payload).to_bytes() == payload, name
    return out


@pytest.fixture(scope="module")
def payloads():
    return valid_payloads()


def test_every_truncation_is_rejected(payloads):
    cases = [(f"{name}[:{n}]", p[:n]) for name, p in payloads.items() for n in range(len(p))]
    assert len(cases) > 1000
    assert_all_rejected(cases)


def test_every_extension_is_rejected(payloads):
    """Bytes appended after the checksum, or inserted before it."""
    cases = []
    for name, p in payloads.items():
        for extra in (b"\x00", b"\xff" * 3, p[-4:], p):
            cases.append((f"{name} + {extra[:8].hex()}...", p + extra))
            cases.append((f"{name} with {extra[:8].hex()}... before the crc", p[:-4] + extra + p[-4:]))
    assert_all_rejected(cases)


def _flip_bits(p: bytes, rng, max_bits=8) -> tuple[str, bytes]:
    bits = rng.choice(len(p) * 8, size=int(rng.integers(1, max_bits + 1)), replace=False)
    out = bytearray(p)
    for bit in bits:
        out[bit // 8] ^= 1 << (bit % 8)
    return f"bits {sorted(bits.tolist())} flipped", bytes(out)


def _overwrite_bytes(p: bytes, rng, max_bytes=4) -> tuple[str, bytes]:
    positions = rng.choice(len(p), size=int(rng.integers(1, max_bytes + 1)), replace=False)
    out = bytearray(p)
    for pos in positions:
        out[pos] = (out[pos] + int(rng.integers(1, 256))) % 256  # always a different value
    return f"bytes {sorted(positions.tolist())} overwritten", bytes(out)


@pytest.mark.parametrize(
    "corrupt, count, seed", [(_flip_bits, 1000, 20240601), (_overwrite_bytes, 600, 20240602)], ids=["bit-flips", "byte-overwrites"]
)
def test_random_corruptions_are_rejected(payloads, corrupt, count, seed):
    rng = np.random.default_rng(seed)
    names = list(payloads)
    cases = []
    for i in range(count):
        name = names[i % len(names)]
        what, corrupted = corrupt(payloads[name], rng)
        cases.append((f"{name}: {what}", corrupted))
    assert_all_rejected(cases)


def assert_valid_accumulator(acc):
    """What a payload that passes every check must give: a whole, self-consistent accumulator."""
    assert isinstance(acc, streameval.Accumulator)
    for arr in acc._arrays():
        assert np.isfinite(arr).all() and (arr >= 0).all()
    try:
        json.dumps(acc.to_dict()["config"], allow_nan=False)
    except ValueError:  # a non-finite label: see test_infinite_pos_label_is_refused
        assert streameval.from_dict(acc.to_dict()) == acc
    else:
        assert streameval.from_bytes(acc.to_bytes()) == acc
    assert math.isfinite(acc.n_samples)


def _mutate_body(body: bytes, rng) -> tuple[str, bytes]:
    """A random edit of the body (the payload without its CRC)."""
    how = int(rng.integers(0, 5))
    if how == 0:
        return _flip_bits(body, rng, max_bits=3)
    if how == 1:
        return _overwrite_bytes(body, rng, max_bytes=2)
    pos = int(rng.integers(0, len(body) + 1))
    if how == 2:
        n = int(rng.integers(1, 9))
        return f"{n} random bytes inserted at {pos}", body[:pos] + rng.bytes(n) + body[pos:]
    if how == 3:
        n = int(rng.integers(1, 9))
        return f"{n} bytes deleted at {pos}", body[:pos] + body[pos + n :]
    n = int(rng.integers(1, 17))
    return f"{n} bytes duplicated at {pos}", body[:pos] + body[pos : pos + n] + body[pos:]


def test_resealed_mutations_are_rejected_or_valid(payloads):
    """Edits with a recomputed CRC: the one case where a valid accumulator may come back."""
    rng = np.random.default_rng(20240603)
    names = list(payloads)
    problems, accepted = [], 0
    for i in range(1000):
        name = names[i % len(names)]
        what, body = _mutate_body(payloads[name][:-4], rng)
        try:
            acc = streameval.from_bytes(seal(body))
        except SerializationError:
            continue
        except Exception as exc:  # noqa: BLE001 - anything but SerializationError is a failure
            problems.append(f"{name}: {what}: {type(exc).__name__}: {exc}")
            continue
        accepted += 1
        assert_valid_accumulator(acc)
    assert not problems, "\n".join(problems[:20])
    assert accepted < 1000  # most edits must be caught by the structure checks alone


# --- fuzzing with hypothesis: structured forged payloads ----------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
CONFIG_KEYS = ["threshold", "pos_label", "inclusive", "weighted", "num_classes", "labels", "ignore_index", "num_labels"]
plausible_values = (
    st.integers(-2, 6)
    | st.booleans()
    | st.none()
    | st.sampled_from([0.5, 0.0, -1.5, "a", 10**12, 2**63])
    | st.lists(st.integers(0, 4) | st.sampled_from(["a", "b"]), max_size=4)
)
configs = st.dictionaries(
    st.sampled_from(CONFIG_KEYS) | st.text(max_size=3), plausible_values | json_values, max_size=5
)


@st.composite
def forged_arrays(draw):
    code = draw(st.sampled_from([INT, FLOAT, INT, FLOAT, 0, 3, 255]))
    ndim = draw(st.integers(0, 4) | st.integers(5, 80))
    small = st.integers(0, 4)
    huge = st.integers(1, 2**64 - 1)
    shape = draw(st.lists(small | huge, min_size=ndim, max_size=ndim) if ndim <= 4 else st.just([1] * ndim))
    size = math.prod(shape)
    if size <= 64 and draw(st.booleans()):
        numbers = st.integers(-3, 5) if code == INT else (st.floats() | st.integers(-3, 5))
        values = draw(st.lists(numbers, min_size=size, max_size=size))
        data = np.asarray(values, dtype="<i8" if code == INT else "<f8").tobytes()
    else:
        data = draw(st.binary(max_size=80))
    return struct.pack("<BB", code, ndim) + struct.pack(f"<{ndim}Q", *shape) + data


@st.composite
def forged_payloads(draw):
    kind = draw(st.sampled_from([1, 2, 3]) | st.integers(0, 65535))
    config = draw(configs | json_values)
    config_bytes = json.dumps(config).encode()
    config_len = len(config_bytes) if draw(st.integers(0, 9)) else draw(st.integers(0, 2**32 - 1))
    arrays = draw(st.lists(forged_arrays(), max_size=3))
    n_arrays = len(arrays) if draw(st.integers(0, 9)) else draw(st.integers(0, 65535))
    trailing = b"" if draw(st.integers(0, 9)) else draw(st.binary(min_size=1, max_size=8))
    body = struct.pack("<4sHHI", MAGIC, 1, kind, config_len) + config_bytes + struct.pack("<H", n_arrays)
    return seal(body + b"".join(arrays) + trailing)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(forged_payloads())
def test_hypothesis_forged_payloads_are_rejected_or_valid(payload):
    try:
        acc = streameval.from_bytes(payload)
    except SerializationError:
        return
    assert_valid_accumulator(acc)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=300))
def test_hypothesis_random_bytes_are_rejected(data):
    assert _rejection_problem(data) is None
    assert _rejection_problem(b"SEVL\x01\x00" + data) is None


# --- from_dict with garbage ---------------------------------------------------------------------

BIN_DICT = Binary().to_dict()
MC_DICT = Multiclass(3).to_dict()
ML_DICT = Multilabel(2).to_dict()


def edited(d, **changes):
    return {**copy.deepcopy(d), **changes}


BAD_DICTS = {
    "none": None,
    "list": [BIN_DICT],
    "string": json.dumps(BIN_DICT),
    "bytes": Binary().to_bytes(),
    "empty-dict": {},
    "format-missing": {k: v for k, v in BIN_DICT.items() if k != "format"},
    "format-wrong": edited(BIN_DICT, format="streameval2"),
    "format-none": edited(BIN_DICT, format=None),
    "version-missing": {k: v for k, v in BIN_DICT.items() if k != "version"},
    "version-0": edited(BIN_DICT, version=0),
    "version-2": edited(BIN_DICT, version=2),
    "version-string": edited(BIN_DICT, version="1"),
    "version-list": edited(BIN_DICT, version=[1]),
    "kind-missing": {k: v for k, v in BIN_DICT.items() if k != "kind"},
    "kind-unknown": edited(BIN_DICT, kind="Regression"),
    "kind-lowercase": edited(BIN_DICT, kind="binary"),
    "kind-none": edited(BIN_DICT, kind=None),
    "kind-number": edited(BIN_DICT, kind=1),
    "kind-accumulator-base": edited(BIN_DICT, kind="Accumulator"),
    "kind-mismatch-config": edited(BIN_DICT, kind="Multiclass"),
    "config-missing": {k: v for k, v in BIN_DICT.items() if k != "config"},
    "config-list": edited(BIN_DICT, config=[0.5]),
    "config-string": edited(BIN_DICT, config="threshold=0.5"),
    "config-unknown-key": edited(BIN_DICT, config={**BIN_CFG, "colour": "red"}),
    "config-bad-threshold": edited(BIN_DICT, config={**BIN_CFG, "threshold": float("nan")}),
    "config-num-classes-0": edited(MC_DICT, config={"num_classes": 0}, state=[[]]),
    "config-num-classes-1e12": edited(MC_DICT, config={"num_classes": 10**12}),
    "config-weighted-string": edited(BIN_DICT, config={**BIN_CFG, "weighted": "yes"}),
    "state-missing": {k: v for k, v in BIN_DICT.items() if k != "state"},
    "state-none": edited(BIN_DICT, state=None),
    "state-dict": edited(BIN_DICT, state={"_cm": [[0, 0], [0, 0]]}),
    "state-string": edited(BIN_DICT, state="[[[0, 0], [0, 0]]]"),
    "state-empty": edited(BIN_DICT, state=[]),
    "state-too-many": edited(BIN_DICT, state=[[[0, 0], [0, 0]]] * 2),
    "state-too-few-multilabel": edited(ML_DICT, state=ML_DICT["state"][:1]),
    "state-ragged": edited(BIN_DICT, state=[[[1, 2], [3]]]),
    "state-ragged-deep": edited(BIN_DICT, state=[[[1, [2]], [3, 4]]]),
    "state-strings": edited(BIN_DICT, state=[[["1", "2"], ["3", "4"]]]),
    "state-none-entry": edited(BIN_DICT, state=[[[None, 0], [0, 0]]]),
    "state-dict-entry": edited(BIN_DICT, state=[{"a": 1}]),
    "state-bools": edited(BIN_DICT, state=[[[True, False], [False, True]]]),
    "state-complex": edited(BIN_DICT, state=[[[1j, 0], [0, 0]]]),
    "state-negative": edited(BIN_DICT, state=[[[1, -1], [0, 0]]]),
    "state-negative-float": edited(edited(BIN_DICT, config=BINW_CFG), state=[[[1.0, -0.5], [0, 0]]]),
    "state-nan": edited(edited(BIN_DICT, config=BINW_CFG), state=[[[1.0, float("nan")], [0, 0]]]),
    "state-inf": edited(edited(BIN_DICT, config=BINW_CFG), state=[[[1.0, float("inf")], [0, 0]]]),
    "state-non-integral-for-int-counts": edited(BIN_DICT, state=[[[1.5, 0], [0, 0]]]),
    "state-flat": edited(BIN_DICT, state=[[0, 0, 0, 0]]),
    "state-scalar": edited(BIN_DICT, state=[0]),
    "state-3x3": edited(BIN_DICT, state=[np.zeros((3, 3), int).tolist()]),
    "state-multiclass-wrong-k": edited(MC_DICT, state=[np.zeros((2, 2), int).tolist()]),
    "state-multilabel-wrong-l": edited(ML_DICT, state=[np.zeros((3, 2, 2), int).tolist(), [0.0] * 8]),
    "state-multilabel-short-sums": edited(ML_DICT, state=[ML_DICT["state"][0], [0.0] * 7]),
    "state-multilabel-nan-sums": edited(ML_DICT, state=[ML_DICT["state"][0], [float("nan")] + [0.0] * 7]),
    "state-deeply-nested": edited(BIN_DICT, state=[[[[[[0]]]]]]),
}


@pytest.mark.parametrize("name", BAD_DICTS)
def test_from_dict_rejects_garbage(name):
    with pytest.raises(SerializationError):
        streameval.from_dict(BAD_DICTS[name])


@pytest.mark.parametrize("kind", [["Binary"], {"name": "Binary"}], ids=["list", "dict"])
def test_from_dict_rejects_unhashable_kind(kind):
    with pytest.raises(SerializationError):
        streameval.from_dict(edited(BIN_DICT, kind=kind))


@pytest.mark.parametrize("count", [1e300, 2.0**63, 2**63, 2**64 - 1], ids=repr)
def test_from_dict_rejects_counts_beyond_int64_silently(count):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(SerializationError):
            streameval.from_dict(edited(BIN_DICT, state=[[[count, 0], [0, 0]]]))


def test_from_dict_counts_beyond_int64_are_rejected():
    """With the RuntimeWarning above ignored, they are rejected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for count in [1e300, 2.0**63, 2**63, 2**64 - 1, 2**70]:
            with pytest.raises(SerializationError):
                streameval.from_dict(edited(BIN_DICT, state=[[[count, 0], [0, 0]]]))


def test_from_dict_accepts_integral_floats_for_int_counts():
    """JSON readers may turn 3 into 3.0: integral floats are accepted and stored as int64."""
    acc = streameval.from_dict(edited(BIN_DICT, state=[[[3.0, 1.0], [0.0, 2.0]]]))
    assert acc == streameval.from_dict(edited(BIN_DICT, state=[[[3, 1], [0, 2]]]))
    assert acc.confusion_matrix().dtype == np.int64


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from([BIN_DICT, MC_DICT, ML_DICT]),
    st.sampled_from(["format", "version", "kind", "config", "state"]),
    json_values | configs,
)
def test_hypothesis_from_dict_field_replaced(base, field, value):
    """Any one field replaced by random JSON."""
    d = edited(base, **{field: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            acc = streameval.from_dict(d)
        except SerializationError:
            return
    assert_valid_accumulator(acc)


# --- limitations found while testing round trips ------------------------------------------------


def test_numpy_num_classes_serializes():
    acc = Multiclass(np.int64(3))
    assert streameval.from_bytes(acc.to_bytes()) == Multiclass(3)


def test_labels_that_json_cannot_keep_refuse_to_serialize():
    """Tuple labels would come back from JSON as lists: to_bytes says so instead of writing them."""
    acc = Multiclass(labels=[(0, 1), (1, 0)])
    with pytest.raises(TypeError, match="labels must be strings, integers, floats or booleans"):
        acc.to_bytes()


def test_infinite_pos_label_is_refused():
    with pytest.raises(TypeError, match="pos_label"):
        Binary(pos_label=float("inf"))
