"""Multiclass counted on a device (streameval/_device/multiclass.py): the plan's counts equal the
host path's (the numba kernels) for every supported configuration and input, its value checks
flag exactly the values the host refuses (the first flagged in C order is the one the host's
InputError names), a False gate counts nothing, and the plan reads no value back (meta tensors,
and no ``_local_scalar_dense``/``nonzero``/``unique``/``bincount`` under a dispatch mode).

Until Multiclass(..., device=) is wired, the plan is called directly on tensors laid out as the
accumulator's declared state (``acc._storage.spec``), and compared with the host accumulator's
arrays (``acc._storage.host(name)``).
"""

from __future__ import annotations

import os
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import REGISTRY, draw_stream, layout_of
from streameval import InputError, Multiclass
from streameval.errors import DroppedBatchError

torch = pytest.importorskip("torch")

from streameval._device.multiclass import plan, unsupported  # noqa: E402

DEVICE = os.environ.get("STREAMEVAL_TEST_DEVICE", "cpu")  # benchmarks/gpu_check.py sets "cuda"

MULTICLASS = sorted(name for name in REGISTRY if name.startswith("multiclass"))


def zeros_of(acc, device=DEVICE):
    return {name: torch.zeros(s.shape, dtype=getattr(torch, str(s.dtype)), device=device)
            for name, s in acc._storage.spec.items()}


def as_tensor(x, dtype=None):
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype == object:
        arr = arr.astype(np.int64)
    return torch.as_tensor(arr, dtype=dtype)


def device_count(acc, tensors, y_true, y_pred, weight=None, gate=True):
    """Count one batch with the plan; returns the plan (its problems)."""
    w = None if weight is None else as_tensor(weight, torch.float64)
    p = plan(acc, as_tensor(y_true), as_tensor(y_pred), w)
    p.count(tensors, torch.tensor(gate))
    return p


def assert_state(tensors, host, what=""):
    for name, tensor in tensors.items():
        ours, ref = tensor.cpu().numpy(), host._storage.host(name)
        assert ours.shape == ref.shape, f"{what} {name}"
        if ref.dtype.kind in "iub":
            assert ours.dtype == ref.dtype and np.array_equal(ours, ref), f"{what} {name}: {ours} != {ref}"
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300, err_msg=f"{what} {name}")


def no_problem(p):
    return all(not bool(problem.bad.any()) for problem in p.problems)


def on_device(make, device=DEVICE):
    """The accumulator of make() on a device (end to end: Multiclass(..., device=...))."""
    acc = make()
    return type(acc)(**acc._config(), device=device)


def compare(make, batches, what=""):
    """Feed batches (y_true, y_pred, weight) to a host accumulator, to the plan called directly and
    to a device=DEVICE accumulator (the dispatcher, end to end); the same state."""
    host, acc, device = make(), make(), on_device(make)
    tensors = zeros_of(acc)
    for y_true, y_pred, weight in batches:
        host.update(y_true, y_pred, weight)
        p = device_count(acc, tensors, y_true, y_pred, weight)
        assert no_problem(p), what
        device.update(y_true, y_pred, weight)
    assert_state(tensors, host, what)
    assert_state({name: torch.as_tensor(device._storage.host(name)) for name in tensors}, host, what)
    assert device.n_samples == host.n_samples  # a query: raises if the device dropped a batch


# --- the registry's Multiclass configurations ----------------------------------------------------


@pytest.mark.parametrize("name", MULTICLASS)
def test_registered_configurations(name):
    configuration = REGISTRY[name]
    acc = configuration.make()
    reason = unsupported(acc)
    config = acc._config()
    if (config["labels"] == "auto" or "bootstrap" in config or config.get("unlabelled")
            or any(isinstance(v, str) for v in config["labels"] or [])):
        assert isinstance(reason, str) and reason
        with pytest.raises(ValueError):
            plan(acc, torch.zeros(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64), None)
        return
    assert reason is None
    rng = np.random.default_rng(7)
    layout = layout_of(acc)
    for sizes in ([5, 0, 17, 1], [40, 3]):
        stream = draw_stream(layout, configuration.batches, rng, sizes)
        compare(configuration.make, [(b.y_true, b.y_pred, b.sample_weight) for b in stream], name)


def test_unsupported_reasons():
    assert "auto" in unsupported(Multiclass(labels="auto"))
    assert "bootstrap" in unsupported(Multiclass(3, bootstrap=2, seed=1))
    assert "integer" in unsupported(Multiclass(labels=["a", "b"]))
    assert "integer" in unsupported(Multiclass(labels=[0.5, 1.5]))
    assert unsupported(Multiclass(labels=[10, -3, 7])) is None
    assert unsupported(Multiclass(4, bins=3, top_k=2, from_logits=True, weighted=True)) is None


# --- hypothesis: any configuration, rank, dtype, ties, edges, ignore_index, weights ---------------


SCORE_VALUES = np.array([0.0, 0.125, 0.25, 0.3, 0.5, 0.5, 0.7, 0.75, 1.0, 1 / 3, 0.1])  # edges and ties


@st.composite
def cases(draw):
    k = draw(st.integers(1, 5))
    labels = draw(st.sampled_from([None, "int"]))
    ignore = draw(st.sampled_from([None, -100, 0]))
    weighted = draw(st.booleans())
    scores = draw(st.booleans())
    bins = top_k = None
    from_logits = False
    score_range = (0.0, 1.0)
    if scores:
        bins = draw(st.sampled_from([None, 4, 8, [0.1, 0.3, 0.5, 0.7], [0.25]]))
        top_k = draw(st.sampled_from([None, 1, 2, 6]))
        from_logits = draw(st.booleans())
        if bins is not None and not from_logits and draw(st.booleans()):
            score_range = (-1.0, 2.0)
    dims = draw(st.lists(st.integers(0, 3), max_size=2))
    n = draw(st.integers(0, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "bfloat16", "int64"] if scores
                                 else ["int64", "int8", "uint8", "float64", "bool"]))
    true_dtype = draw(st.sampled_from(["int64", "int32", "float64", "float32"]))
    per_sample = draw(st.booleans())
    return k, labels, ignore, weighted, bins, top_k, from_logits, score_range, dims, n, seed, dtype, true_dtype, \
        per_sample


@settings(max_examples=150, deadline=None)
@given(cases())
def test_hypothesis_batches(case):
    (k, labels, ignore, weighted, bins, top_k, from_logits, score_range, dims, n, seed, dtype, true_dtype,
     per_sample) = case
    if ignore == 0 and labels == "int":
        ignore = -100
    if dtype == "int64" and bins is not None:
        dtype = "float64"  # bins need float scores (refused otherwise: tested apart)
    classes = list(range(k)) if labels is None else [13 * c - 20 for c in range(k)][::-1]
    kwargs = dict(ignore_index=ignore, weighted=weighted, bins=bins, top_k=top_k, from_logits=from_logits,
                  score_range=score_range)
    kwargs = {key: value for key, value in kwargs.items() if value is not None}

    def make():
        return Multiclass(k, **kwargs) if labels is None else Multiclass(labels=classes, **kwargs)

    rng = np.random.default_rng(seed)
    shape = (n, *dims)
    y_true = np.array(classes)[rng.integers(0, k, shape)]
    if ignore is not None:
        y_true = np.where(rng.random(shape) < 0.25, ignore, y_true)
    y_true_t = torch.as_tensor(y_true.astype(true_dtype))
    scored = bins is not None or top_k is not None or from_logits or dtype not in ("int8", "uint8", "bool") \
        and rng.random() < 0.6
    if scored:
        if from_logits:
            values = rng.normal(size=(n, k, *dims)) * 3
            values = np.where(rng.random(values.shape) < 0.3, 0.0, values)  # ties
        else:
            values = SCORE_VALUES[rng.integers(0, len(SCORE_VALUES), (n, k, *dims))]
            if score_range != (0.0, 1.0):
                values = values * 3 - 1
        if dtype == "int64":
            values = np.round(values * 2)
        y_pred_t = torch.as_tensor(values).to(getattr(torch, dtype))
        if ignore is not None:  # the scores of ignored elements are never read: NaN there is no problem
            ignored = torch.as_tensor(y_true == ignore)[:, None].expand(y_pred_t.shape)
            if y_pred_t.dtype.is_floating_point:
                # (not with from_logits and bins: the host's overflow bound reads every logit, a NaN
                # there refuses the batch with an OverflowError)
                y_pred_t = torch.where(ignored, 0.0 if from_logits and bins else float("nan"), y_pred_t)
        if not dims:
            y_pred_t = y_pred_t.reshape(n, k)
    else:
        y_pred_t = torch.as_tensor(np.array(classes)[rng.integers(0, k, shape)])
        if labels is None and dtype == "bool":
            y_pred_t = torch.as_tensor(rng.integers(0, min(k, 2), shape).astype(bool))
        elif labels is None:
            y_pred_t = y_pred_t.to(getattr(torch, dtype))
    # the host's strided argmax cannot reshape (0, K, d1, ...) scores (_batch._argmax: reshape(0, K, -1))
    assume(not (n == 0 and dims and scored and bins is None and top_k is None))
    weight = None
    if weighted and rng.random() < 0.8:
        w_shape = (n,) if per_sample and (not dims or np.prod(shape) > 0) else shape
        weight = rng.choice([0.0, 0.5, 1.0, 2.0, 0.3], w_shape)
    host, acc = make(), make()
    host_pred = y_pred_t.float().numpy() if y_pred_t.dtype == torch.bfloat16 else y_pred_t.numpy()
    host_true = y_true_t.numpy()
    # the host reads a bfloat16 tensor's kind from the tensor: give it the tensor itself
    host.update(y_true_t, y_pred_t if y_pred_t.dtype == torch.bfloat16 else host_pred, weight)
    tensors = zeros_of(acc)
    p = device_count(acc, tensors, host_true if true_dtype != "float32" else y_true_t, y_pred_t, weight)
    assert no_problem(p)
    assert_state(tensors, host, str(case))
    device = on_device(make)
    device.update(y_true_t, y_pred_t, weight)
    assert_state({name: torch.as_tensor(device._storage.host(name)) for name in tensors}, host, str(case))


# --- bad values: the mask's first True is the host's InputError position ----------------------------


def first_true(mask):
    flat = np.flatnonzero(mask.cpu().numpy().reshape(-1))
    return tuple(int(i) for i in np.unravel_index(flat[0], tuple(mask.shape))) if flat.size else None


def host_error(make, y_true, y_pred, weight=None):
    host = make()
    with pytest.raises(InputError) as info:
        host.update(y_true, y_pred, weight)
    error = info.value
    index = error.index if isinstance(error.index, tuple) else (error.index,)
    return error.argument, tuple(int(i) for i in index)


def check_bad(make, y_true, y_pred, weight=None, compare_prefix=None):
    """The host refuses the batch; the plan flags its argument with the same first position, and a
    False gate leaves the counts at zero."""
    argument, index = host_error(make, y_true, y_pred, weight)
    acc = make()
    tensors = zeros_of(acc)
    p = device_count(acc, tensors, y_true, y_pred, weight, gate=False)
    flagged = {problem.argument: first_true(problem.bad) for problem in p.problems}
    for problem in p.problems:
        assert tuple(problem.bad.shape) == tuple(np.shape({"y_true": y_true, "y_pred": y_pred,
                                                             "sample_weight": weight}[problem.argument]))
    found = flagged.get(argument)
    assert found is not None, (argument, index, flagged)
    if compare_prefix is None:
        assert found == index, (argument, index, flagged)
    else:
        assert found[:compare_prefix] == index[:compare_prefix], (argument, index, flagged)
    for tensor in tensors.values():
        assert not tensor.any()
    # end to end: the batch is dropped on the device, and the next query names the same value
    device = on_device(make)
    device.update(y_true, y_pred, weight)
    with pytest.raises(DroppedBatchError) as info:
        device.n_samples
    error = info.value
    dropped = error.index if isinstance(error.index, tuple) else (error.index,)
    assert error.argument == argument
    assert dropped[:compare_prefix] == index[:compare_prefix], (error, index)
    assert device.n_samples == 0
    return p


def test_bad_labels():
    nan = float("nan")
    check_bad(lambda: Multiclass(3), np.array([0, 1, 3, 1]), np.array([0, 1, 2, 1]))
    check_bad(lambda: Multiclass(3), np.array([0, 1, -1]), np.array([0, 1, 2]))
    check_bad(lambda: Multiclass(3), np.array([0, 1.5, 1]), np.array([0, 1, 2]))
    check_bad(lambda: Multiclass(3), np.array([0, nan, 1]), np.array([0, 1, 2]))
    check_bad(lambda: Multiclass(3), np.array([0, 1, 1]), np.array([0, 1, 5], dtype=np.uint8))
    check_bad(lambda: Multiclass(3, ignore_index=-100), np.array([-100, 1, 1]), np.array([7, 1, 9]))
    check_bad(lambda: Multiclass(labels=[10, 20, 30]), np.array([10, 20, 25]), np.array([10, 20, 30]))
    check_bad(lambda: Multiclass(labels=[10, 20, 30]), np.array([10, 20, 30]), np.array([10, 21, 30]))
    check_bad(lambda: Multiclass(labels=[10, 20, 30]), np.array([10.0, 20.5, 30]), np.array([10, 20, 30]))
    check_bad(lambda: Multiclass(labels=[10, 20, 30], ignore_index=-1), np.array([-1, 20, 30]),
              np.array([11, 20, 31]))
    # any rank: positions in the user's arrays
    y = np.zeros((2, 3, 4), dtype=np.int64)
    y[1, 2, 1] = 9
    check_bad(lambda: Multiclass(3), y, np.zeros((2, 3, 4), dtype=np.int64))
    check_bad(lambda: Multiclass(3), np.zeros((2, 3, 4), dtype=np.int64), y)


def test_bad_scores():
    nan, inf = float("nan"), float("inf")
    scores = np.full((4, 3), 0.25)
    for value in (nan, inf, -inf):
        bad = scores.copy()
        bad[2, 1] = value
        check_bad(lambda: Multiclass(3), np.array([0, 1, 2, 1]), bad)
        check_bad(lambda: Multiclass(3, from_logits=True), np.array([0, 1, 2, 1]), bad.astype(np.float32))
        check_bad(lambda: Multiclass(3, top_k=2), np.array([0, 1, 2, 1]), bad)
        check_bad(lambda: Multiclass(labels=[4, 5, 6], bins=4), np.array([4, 5, 6, 5]), bad)
        # an ignored row's scores are not read
        host, acc = Multiclass(3, ignore_index=-1, bins=4), Multiclass(3, ignore_index=-1, bins=4)
        host.update(np.array([0, 1, -1, 1]), bad)
        tensors = zeros_of(acc)
        assert no_problem(device_count(acc, tensors, np.array([0, 1, -1, 1]), bad))
        assert_state(tensors, host)
    for value in (1.5, -0.001):  # probabilities with bins on [0, 1]
        bad = scores.copy()
        bad[3, 0] = value
        p = check_bad(lambda: Multiclass(3, bins=4), np.array([0, 1, 2, 1]), bad)
        assert "probability" in [q for q in p.problems if q.argument == "y_pred"][0].problem
    bad = scores.copy()
    bad[3, 0] = 1.5  # a score range other than [0, 1]: any finite score
    compare(lambda: Multiclass(3, bins=4, score_range=(0, 1.2)), [(np.array([0, 1, 2, 1]), bad, None)])
    # any rank, labels-only state: the strided argmax names positions in C order
    x = np.zeros((2, 3, 2, 2))
    x[1, 2, 0, 1] = nan
    x[1, 1, 1, 1] = inf
    check_bad(lambda: Multiclass(3), np.zeros((2, 2, 2), dtype=np.int64), x)
    x = np.zeros((2, 3, 4))
    x[0, 2, 1] = nan
    check_bad(lambda: Multiclass(3, top_k=2), np.zeros((2, 4), dtype=np.int64), x)


def test_bad_weights():
    nan = float("nan")
    for value in (-1.0, nan, float("inf")):
        w = np.array([1.0, 2.0, value, 1.0])
        check_bad(lambda: Multiclass(3, weighted=True), np.array([0, 1, 2, 1]), np.array([0, 1, 2, 1]), w)
        check_bad(lambda: Multiclass(3, weighted=True, bins=4), np.array([0, 1, 2, 1]), np.full((4, 3), 0.5), w)
        # an ignored sample's weight is not read (by the plan; end to end: the test below)
        host, acc = Multiclass(3, weighted=True, ignore_index=-1), Multiclass(3, weighted=True, ignore_index=-1)
        host.update(np.array([0, 1, -1, 1]), np.array([0, 1, 2, 1]), w)
        tensors = zeros_of(acc)
        assert no_problem(device_count(acc, tensors, np.array([0, 1, -1, 1]), np.array([0, 1, 2, 1]), w))
        assert_state(tensors, host)
    # any rank: per element, and per sample (the host names an element of it: its sample matches)
    w = np.ones((2, 3))
    w[1, 1] = -1
    check_bad(lambda: Multiclass(3, weighted=True), np.zeros((2, 3), dtype=np.int64),
              np.zeros((2, 3), dtype=np.int64), w)
    check_bad(lambda: Multiclass(3, weighted=True), np.zeros((2, 3), dtype=np.int64),
              np.zeros((2, 3), dtype=np.int64), np.array([1.0, -2.0]), compare_prefix=1)


def test_ignored_bad_weight_end_to_end():
    w = np.array([1.0, 2.0, float("nan"), 1.0])
    compare(lambda: Multiclass(3, weighted=True, ignore_index=-1), [(np.array([0, 1, -1, 1]), np.array([0, 1, 2, 1]), w)])


def test_gate_false_counts_nothing():
    acc = Multiclass(3, bins=4, top_k=2, weighted=True)
    tensors = zeros_of(acc)
    scores = np.full((3, 3), float("nan"))
    p = device_count(acc, tensors, np.array([0, 1, 2]), scores, np.array([1.0, float("nan"), 2.0]), gate=False)
    assert not no_problem(p)
    for tensor in tensors.values():
        assert not tensor.any() and not tensor.isnan().any()
    # a good batch with a False gate (another argument's problem) adds nothing either
    p = device_count(acc, tensors, np.array([0, 1, 2]), np.eye(3), np.ones(3), gate=False)
    assert no_problem(p)
    for tensor in tensors.values():
        assert not tensor.any()


# --- shapes and dtypes: the host's exceptions, before any value is read ---------------------------


@pytest.mark.parametrize("make, y_true, y_pred, weight", [
    (lambda: Multiclass(3), np.zeros(3, np.int64), np.zeros(4, np.int64), None),
    (lambda: Multiclass(3), np.zeros(3, np.int64), np.zeros((3, 4)), None),
    (lambda: Multiclass(3), np.zeros(3, np.int64), np.zeros((3, 3, 1)), None),
    (lambda: Multiclass(3), np.zeros((3, 2), np.int64), np.zeros((3, 2, 3)), None),
    (lambda: Multiclass(3), np.zeros(3, np.int64), np.zeros(3, np.int64), np.ones(3)),
    (lambda: Multiclass(3, weighted=True), np.zeros(3, np.int64), np.zeros(3, np.int64), np.ones(2)),
    (lambda: Multiclass(3, weighted=True), np.zeros((3, 2), np.int64), np.zeros((3, 2), np.int64), np.ones((2, 3))),
    (lambda: Multiclass(3, bins=4), np.zeros(3, np.int64), np.zeros(3, np.int64), None),
    (lambda: Multiclass(3, bins=4), np.zeros(3, np.int64), np.zeros((3, 3), np.int64), None),
    (lambda: Multiclass(3, top_k=2), np.zeros(3, np.int64), np.zeros(3, np.int64), None),
])
def test_shape_errors_as_host(make, y_true, y_pred, weight):
    with pytest.raises((ValueError, TypeError)) as host:
        make().update(y_true, y_pred, weight)
    with pytest.raises(type(host.value)) as ours:
        device_count(make(), zeros_of(make()), y_true, y_pred, weight)
    assert str(ours.value).replace("torch.", "") == str(host.value)


# --- no host read: meta tensors, and no synchronizing op --------------------------------------------


NO_SYNC_CONFIGS = [
    (lambda: Multiclass(4), "labels"),
    (lambda: Multiclass(labels=[10, 3, 7, 5], weighted=True, ignore_index=-1), "labels"),
    (lambda: Multiclass(4, ignore_index=-100), "scores"),
    (lambda: Multiclass(4, bins=8, top_k=2, weighted=True, ignore_index=-100), "scores"),
    (lambda: Multiclass(labels=[10, 3, 7, 5], bins=[0.2, 0.5], top_k=3, from_logits=True), "scores"),
    (lambda: Multiclass(4, bins=5, score_range=(-3, 3)), "scores"),
]


def _batch(make, kind, device, rank):
    acc = make()
    classes = torch.as_tensor(list(acc.labels), dtype=torch.int64)
    shape = (6, 5)[:rank]
    y_true = classes[torch.randint(0, 4, shape)].to(device)
    if kind == "labels":
        y_pred = classes[torch.randint(0, 4, shape)].to(device)
    else:
        y_pred = torch.rand(shape[0], 4, *shape[1:], dtype=torch.float32).to(device)
    weight = torch.rand(shape, dtype=torch.float64).to(device) if acc.weighted else None
    return acc, y_true, y_pred, weight


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("make, kind", NO_SYNC_CONFIGS)
def test_plan_runs_on_meta(make, kind, rank):
    acc, y_true, y_pred, weight = _batch(make, kind, "meta", rank)
    tensors = zeros_of(acc, "meta")
    p = plan(acc, y_true, y_pred, weight)
    gate = torch.ones((), dtype=torch.bool, device="meta")
    for problem in p.problems:
        gate = gate & ~problem.bad.any()
    p.count(tensors, gate)
    for problem in p.problems:
        assert problem.bad.device.type == "meta" and problem.bad.dtype == torch.bool


SYNCING = ("_local_scalar_dense", "nonzero", "unique", "bincount", "item")


@pytest.mark.parametrize("rank", [1, 3])
@pytest.mark.parametrize("make, kind", NO_SYNC_CONFIGS)
def test_no_synchronizing_op(make, kind, rank):
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.__name__ if hasattr(func, "__name__") else str(func)
            if any(word in str(func) for word in SYNCING):
                self.seen.append(str(func))
            return func(*args, **(kwargs or {}))

    acc, y_true, y_pred, weight = _batch(make, kind, DEVICE, min(rank, 2))
    if rank == 3:
        y_true, y_pred = y_true[..., None].expand(*y_true.shape, 2).contiguous(), (
            y_pred[..., None].expand(*y_pred.shape, 2).contiguous())
        weight = None if weight is None else weight.reshape(-1)[: y_true.shape[0]].contiguous()
    tensors = zeros_of(acc)
    with Count() as mode:
        p = plan(acc, y_true, y_pred, weight)
        gate = torch.ones((), dtype=torch.bool)
        for problem in p.problems:
            gate = gate & ~problem.bad.any()
        p.count(tensors, gate)
    assert mode.seen == []
    assert int(tensors["_cm"].sum()) > 0
