"""Binary on a device (issue 15): streameval._device.binary's plan, run on CPU torch tensors, counts
what the numba path counts (integer counts exactly, float sums to 1e-12), refuses exactly the
samples the host refuses, drops a refused batch whole, runs on "meta" tensors and reads nothing
back to the host. Reference: the host accumulator of the same configuration, fed the same batch."""

from __future__ import annotations

import os
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_same_state, draw_stream, layout_of, remade, select
from streameval import Binary, InputError, _inputs

torch = pytest.importorskip("torch")
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from streameval._device import binary as device_binary  # noqa: E402

DEVICE = os.environ.get("STREAMEVAL_TEST_DEVICE", "cpu")  # benchmarks/gpu_check.py sets "cuda"

TORCH = {np.dtype(np.int64): torch.int64, np.dtype(np.float64): torch.float64}
FORBIDDEN = ("aten._local_scalar_dense", "aten.nonzero", "aten.unique", "aten._unique", "aten.bincount",
             "aten.masked_select")


def zeros(acc, device=DEVICE):
    return {name: torch.zeros(s.shape, dtype=TORCH[np.dtype(s.dtype)], device=device)
            for name, s in acc._storage.spec.items()}


def as_tensors(y_true, y_pred, weight, device=DEVICE):
    def one(x, dtype=None):
        return None if x is None else (x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))).to(
            device=device, dtype=dtype)
    return one(y_true), one(y_pred), one(weight, torch.float64)


def count_by_plan(acc, batches, tensors=None):
    """The plan's counts of valid batches, straight into zeros of the declared arrays."""
    tensors = zeros(acc) if tensors is None else tensors
    for y_true, y_pred, weight in batches:
        plan = device_binary.plan(acc, *as_tensors(y_true, y_pred, weight))
        assert not any(bool(p.bad.any()) for p in plan.problems)
        plan.count(tensors, torch.tensor(True))
    return tensors


def assert_tensors_equal_host(tensors, host, what=""):
    for name, tensor in tensors.items():
        ours, ref = tensor.numpy(), host._storage.host(name)
        assert ours.dtype == ref.dtype, f"{what} {name}: dtype {ours.dtype} != {ref.dtype}"
        if ref.dtype.kind in "iub":
            assert np.array_equal(ours, ref), f"{what} {name}: {ours} != {ref}"
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(ref).max(initial=0))),
                                       err_msg=f"{what} {name}")


def host_of(acc, batches):
    for y_true, y_pred, weight in batches:
        acc.update(y_true, y_pred, weight)
    return acc


# --- the registered configurations --------------------------------------------------------------

BINARY = select(where=lambda c: c.name.startswith("binary"))
SUPPORTED = [c for c in BINARY if device_binary.unsupported(c.make()) is None]
UNSUPPORTED = [c for c in BINARY if device_binary.unsupported(c.make()) is not None]


def test_the_registry_has_both():
    assert SUPPORTED and UNSUPPORTED
    assert {"binary-pos-label-0", "binary-spam", "binary-exact", "binary-bootstrap"} <= {c.name for c in UNSUPPORTED}


@pytest.mark.parametrize("entry", SUPPORTED, ids=repr)
@pytest.mark.parametrize("seed", range(3))
def test_registered_entry_counts_as_the_host(entry, seed):
    acc = entry.make()
    layout = layout_of(acc)
    stream = draw_stream(layout, entry.batches, np.random.default_rng(seed), [7, 0, 1, 40, 5])
    batches = [(b.y_true, b.y_pred, b.sample_weight) for b in stream]
    host = host_of(entry.make(), batches)
    assert_tensors_equal_host(count_by_plan(entry.make(), batches), host, entry.name)
    device = remade(acc, device=DEVICE)  # end to end, through the lead's dispatcher
    host_of(device, batches)
    assert_same_state(device, host, entry.name)


@pytest.mark.parametrize("entry", UNSUPPORTED, ids=repr)
def test_unsupported_entry_says_why(entry):
    acc = entry.make()
    reason = device_binary.unsupported(acc)
    assert isinstance(reason, str) and len(reason) > 20
    with pytest.raises(ValueError, match="on a device|host"):
        remade(acc, device=DEVICE)


# --- hypothesis: any configuration, dtype, rank, edge-valued scores -------------------------------

EDGES = ([0.2, 0.5, 0.7], [0.0, 0.3, 1.0], [-1.0, 0.1, 0.9, 3.0])


@st.composite
def configurations(draw):
    config = {"threshold": draw(st.sampled_from([0.5, 0.3, 0.7, 0.1, 0.0, 1.0])), "inclusive": draw(st.booleans()),
              "weighted": draw(st.booleans()), "from_logits": draw(st.booleans())}
    bins = draw(st.sampled_from([None, None, 4, 8, 10, *EDGES]))
    if bins is not None:
        config["bins"] = bins
    if draw(st.booleans()):
        config["score_range"] = draw(st.sampled_from([(-2.0, 2.0), (0.0, 1.0), (-10.0, 10.0)]))
    if draw(st.booleans()):
        config["ignore_index"] = -100
    return config


def score_pool(acc, dtype):
    """Scores on and beside the threshold and every edge, rounded to dtype, inside the bounds."""
    values = [0.0, 1.0, 0.5, acc.threshold, *acc.score_range, acc.score_range[0] - 1, acc.score_range[1] + 1]
    if acc._bins is not None:
        values += list(acc._bins.edges)
    values = np.array(values, dtype=np.float64)
    values = np.r_[values, np.nextafter(values, -np.inf), np.nextafter(values, np.inf), np.linspace(-3, 3, 13)]
    if dtype == "bfloat16":
        pool = torch.tensor(values, dtype=torch.bfloat16).float().numpy().astype(np.float64)
    else:
        pool = values.astype(dtype).astype(np.float64)
    lo, hi = acc._bounds
    if acc.from_logits:
        return np.r_[pool, -40.0, 40.0, -800.0, 800.0]
    return pool[(pool >= lo) & (pool <= hi)]


def draw_batch(rng, acc, shape, pred_kind, weights):
    y_true = rng.integers(0, 2, shape)
    if acc.ignore_index is not None:
        y_true[rng.random(shape) < 0.2] = -100
    if pred_kind in ("bool", "int8", "uint8", "int64"):
        y_pred = torch.as_tensor(rng.integers(0, 2, shape).astype(pred_kind if pred_kind != "bool" else bool))
    else:
        pool = score_pool(acc, "float64" if pred_kind == "bfloat16" else pred_kind)
        values = pool[rng.integers(0, len(pool), shape)]
        dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
                 "float64": torch.float64}[pred_kind]
        y_pred = torch.tensor(values, dtype=dtype)
        if acc.ignore_index is not None and pred_kind == "float64":
            y_pred[torch.as_tensor(y_true == -100) & torch.as_tensor(rng.random(shape) < 0.5)] = math.nan
    y_true = torch.as_tensor(y_true.astype(rng.choice(["int64", "float64", "int8"]))) if acc.ignore_index is not None \
        else torch.as_tensor(y_true.astype(rng.choice(["int64", "bool", "float32", "uint8"])))
    weight = None
    if weights == "sample":
        weight = rng.choice([0.0, 0.5, 1.0, 2.5, 1e-3], shape[0])
    elif weights == "element":
        weight = rng.choice([0.0, 0.5, 1.0, 2.5, 1e-3], shape)
    return y_true, y_pred, weight


@settings(max_examples=150, deadline=None)
@given(configurations(), st.integers(0, 2**32 - 1),
       st.sampled_from(["bool", "int8", "uint8", "int64", "float16", "bfloat16", "float32", "float64", "float64"]),
       st.lists(st.integers(0, 4), min_size=1, max_size=3), st.sampled_from([None, "sample", "element"]))
def test_any_batch_counts_as_the_host(config, seed, pred_kind, shape, weights):
    acc = Binary(**config)
    if acc._scored and pred_kind in ("bool", "int8", "uint8", "int64"):
        pred_kind = "float64"
    if not acc.weighted or len(shape) == 1 and weights == "element":
        weights = None if not acc.weighted else "sample"
    rng = np.random.default_rng(seed)
    batches = [draw_batch(rng, acc, tuple(shape), pred_kind, weights) for _ in range(2)]
    try:
        host = host_of(Binary(**config), batches)
    except ValueError as error:  # (1, 0) elements with (1,) weights: refused, by both
        with pytest.raises(ValueError) as ours:
            count_by_plan(acc, batches)
        assert str(ours.value) == str(error)
        return
    assert_tensors_equal_host(count_by_plan(acc, batches), host, str(config))


def test_scores_on_every_edge_and_float32():
    """Each score exactly on an edge (and one ulp either side), float32 and float64, both rules."""
    for bins in (10, 8, [0.1, 0.7, 0.9], 7):
        for inclusive in (True, False):
            for dtype in (np.float32, np.float64):
                acc = Binary(bins=bins, inclusive=inclusive)
                edges = acc._bins.edges.astype(dtype)
                scores = np.r_[edges, np.nextafter(edges, dtype(0)), np.nextafter(edges, dtype(1))].clip(0, 1)
                scores = scores.astype(dtype)
                y = np.arange(scores.shape[0]) % 2
                host = host_of(Binary(bins=bins, inclusive=inclusive), [(y, scores, None)])
                assert_tensors_equal_host(count_by_plan(acc, [(y, scores, None)]), host, f"{bins} {inclusive} {dtype}")


# --- bad values: the mask names the host's bad value ------------------------------------------------

BAD = [
    ("y_true 2", {}, "y_true", 2),
    ("y_true 0.5", {}, "y_true", 0.5),
    ("y_true nan", {}, "y_true", math.nan),
    ("y_true -1", {}, "y_true", -1),
    ("label 2", {}, "y_pred", 2),
    ("label -1", {}, "y_pred", -1),
    ("score nan", {}, "y_pred", math.nan),
    ("score inf", {"threshold": 0.0}, "y_pred", math.inf),
    ("score past 1", {}, "y_pred", 1.5),
    ("score below 0", {"bins": 4}, "y_pred", -0.25),
    ("score out of range", {"bins": 4, "score_range": (-1, 1), "threshold": 0.0}, "y_pred", -math.inf),
    ("logit inf", {"from_logits": True}, "y_pred", math.inf),
    ("logit nan", {"from_logits": True, "bins": 4}, "y_pred", math.nan),
    ("weight -1", {"weighted": True}, "sample_weight", -1.0),
    ("weight nan", {"weighted": True, "bins": 3}, "sample_weight", math.nan),
    ("weight inf", {"weighted": True}, "sample_weight", math.inf),
]


def host_error(config, y_true, y_pred, weight):
    with pytest.raises(InputError) as caught:
        Binary(**config).update(y_true, y_pred, weight)
    return caught.value


def first_true(mask):
    flat = mask.reshape(-1).numpy()
    assert flat.any()
    index = np.unravel_index(int(np.argmax(flat)), tuple(mask.shape))
    return tuple(int(i) for i in index)


# per-sample weights (N,) of rank > 1 inputs: only where there are weights
BAD_CASES = [(*bad, shape, per_sample) for bad in BAD for shape in [(9,), (3, 4), (2, 3, 2)]
             for per_sample in [False, True] if not per_sample or bad[1].get("weighted", False)]


@pytest.mark.parametrize("name, config, argument, value, shape, per_sample", BAD_CASES,
                         ids=[f"{c[0]}-{c[4]}-{'per-sample' if c[5] else 'per-element'}" for c in BAD_CASES])
def test_bad_value_is_the_hosts(name, config, argument, value, shape, per_sample):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, shape)
    labels = name.startswith("label")
    y_pred = rng.integers(0, 2, shape) if labels else rng.random(shape)
    weighted = config.get("weighted", False)
    weight = None
    if weighted:
        weight = np.ones(shape[0] if per_sample and len(shape) > 1 else shape)
    target = {"y_true": y_true, "y_pred": y_pred, "sample_weight": weight}[argument]
    target = target.astype(np.float64) if isinstance(value, float) else target
    at = tuple(i // 2 for i in target.shape)
    target[at] = value
    arrays = {"y_true": y_true, "y_pred": y_pred, "sample_weight": weight, argument: target}
    error = host_error(config, arrays["y_true"], arrays["y_pred"], arrays["sample_weight"])
    plan = device_binary.plan(Binary(**config), *as_tensors(arrays["y_true"], arrays["y_pred"],
                                                             arrays["sample_weight"]))
    bad = [p for p in plan.problems if bool(p.bad.any())]
    assert [p.argument for p in bad] == [error.argument] == [argument]
    index = first_true(bad[0].bad)
    expected = error.index if isinstance(error.index, tuple) else (error.index,)
    if argument == "sample_weight" and per_sample:  # the host names the weight's first element
        expected = expected[:1]
    assert index == expected
    assert bad[0].bad.shape == torch.as_tensor(arrays[argument]).shape
    # end to end: the batch is dropped and the next query names the host's bad value
    device = Binary(**config, device=DEVICE)
    device.update(*arrays.values())
    with pytest.raises(InputError) as caught:
        device.confusion_matrix()
    assert caught.value.argument == error.argument


def test_ignored_elements_are_never_bad():
    y_true = np.array([[1, -100, 0], [-100, -100, 1]])
    y_pred = np.array([[0.2, math.nan, 0.9], [math.inf, 7.0, 0.4]])
    weight = np.array([[1.0, -1.0, 2.0], [math.nan, math.nan, 0.5]])
    acc = Binary(bins=4, weighted=True, ignore_index=-100)
    plan = device_binary.plan(acc, *as_tensors(y_true, y_pred, weight))
    assert not any(bool(p.bad.any()) for p in plan.problems)
    host = host_of(Binary(bins=4, weighted=True, ignore_index=-100), [(y_true, y_pred, weight)])
    assert_tensors_equal_host(count_by_plan(acc, [(y_true, y_pred, weight)]), host)
    per_sample = np.array([math.nan, 2.0])  # sample 0 has kept elements: its weight is read
    plan = device_binary.plan(acc, *as_tensors(y_true, y_pred, per_sample))
    assert [p.argument for p in plan.problems if bool(p.bad.any())] == ["sample_weight"]
    assert host_error({"bins": 4, "weighted": True, "ignore_index": -100}, y_true, y_pred, per_sample).argument \
        == "sample_weight"


def test_shapes_and_dtypes_raise_as_the_host():
    cases = [
        ({}, np.zeros(3, int), np.zeros(4), None),
        ({}, np.zeros((3, 2), int), np.zeros((3, 3)), None),
        ({}, np.zeros(3, int), np.zeros((3, 1)), None),
        ({}, np.zeros(3, int), np.zeros(3), np.ones(3)),
        ({"weighted": True}, np.zeros(3, int), np.zeros(3), np.ones(4)),
        ({"weighted": True}, np.zeros((3, 2), int), np.zeros((3, 2)), np.ones((3, 3))),
        ({"weighted": True}, np.zeros((3, 2), int), np.zeros((3, 2)), np.ones(2)),
        ({"bins": 4}, np.zeros(3, int), np.zeros(3, int), None),
    ]
    for config, y_true, y_pred, weight in cases:
        with pytest.raises((ValueError, TypeError)) as host:
            Binary(**config).update(y_true, y_pred, weight)
        with pytest.raises(type(host.value)) as ours:
            device_binary.plan(Binary(**config), *as_tensors(y_true, y_pred, weight))
        assert str(ours.value) == str(host.value)


# --- the gate, meta tensors, no host read -------------------------------------------------------------


@pytest.mark.parametrize("config", [{}, {"bins": 5, "weighted": True}, {"from_logits": True, "bins": 3},
                                    {"ignore_index": -100, "weighted": True, "bins": [0.3, 0.6]}], ids=str)
def test_gate_false_leaves_the_counts(config):
    acc = Binary(**config)
    tensors = {name: (torch.rand(t.shape, dtype=torch.float64) * 10).to(t.dtype) for name, t in zeros(acc).items()}
    before = {name: t.clone() for name, t in tensors.items()}
    y_true = np.array([0, 1, 1, 5, 0])
    y_pred = np.array([0.2, math.nan, math.inf, -math.inf, 0.7])
    weight = np.array([1.0, math.nan, -1.0, math.inf, 2.0]) if acc.weighted else None
    plan = device_binary.plan(acc, *as_tensors(y_true, y_pred, weight))
    assert any(bool(p.bad.any()) for p in plan.problems)
    plan.count(tensors, torch.tensor(False))
    for name in tensors:
        assert torch.equal(tensors[name], before[name]), name


META = [{}, {"weighted": True, "bins": 8}, {"from_logits": True, "bins": [0.2, 0.4]}, {"ignore_index": -100},
        {"threshold": 0.0, "score_range": (-3, 3), "bins": 6, "weighted": True, "ignore_index": -1}]


# (label predictions only where there are no bins: bins need scores)
META_CASES = [(config, labels) for config in META for labels in [False, True] if not (labels and "bins" in config)]


@pytest.mark.parametrize("config, labels", META_CASES, ids=[f"{c}-{'labels' if l else 'scores'}" for c, l in META_CASES])
def test_plan_runs_on_meta_tensors(config, labels):
    acc = Binary(**config)
    shape = (4, 3)
    y_pred = torch.zeros(shape, dtype=torch.int64 if labels else torch.float32, device="meta")
    weight = torch.zeros(4, dtype=torch.float64, device="meta") if acc.weighted else None
    tensors = zeros(acc, "meta")
    plan = device_binary.plan(acc, torch.zeros(shape, dtype=torch.int64, device="meta"), y_pred, weight)
    for problem in plan.problems:
        assert problem.bad.device.type == "meta" and problem.bad.dtype == torch.bool
    plan.count(tensors, torch.zeros((), dtype=torch.bool, device="meta"))
    device = Binary(**config, device="meta")  # end to end
    device.update(torch.zeros(shape, dtype=torch.int64, device="meta"), y_pred, weight)


class Forbidden(TorchDispatchMode):
    """Counts the ops that read a value back to the host (or size an output from the data)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        if name.startswith(FORBIDDEN):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("config", META, ids=str)
def test_no_host_read(config):
    acc = Binary(**config)
    rng = np.random.default_rng(0)
    y_true = torch.as_tensor(rng.integers(0, 2, (6, 2)))
    y_pred = torch.as_tensor(rng.random((6, 2)))
    weight = torch.as_tensor(rng.random(6)) if acc.weighted else None
    tensors = zeros(acc)
    device = Binary(**config, device=DEVICE)
    with Forbidden() as mode:
        plan = device_binary.plan(acc, y_true, y_pred, weight)
        plan.count(tensors, torch.tensor(True))
        device.update(y_true, y_pred, weight)
    assert mode.seen == []


def test_probability_problem_wording():
    plan = device_binary.plan(Binary(), *as_tensors(np.array([1]), np.array([0.5]), None))
    assert plan.problems[-1].problem.startswith("is not a probability")
    assert _inputs.PROBABILITY == (0.0, 1.0)
