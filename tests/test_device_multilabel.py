"""Multilabel on a device (issue 15): streameval._device.multilabel's plan, run on CPU torch
tensors, fills _mcm, _sample_sums and the bins as the numba path does; bad values, the gate,
"meta" tensors and no host read. Reference: the host Multilabel fed the same batch."""

from __future__ import annotations

import os
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_same_state, draw_stream, layout_of, remade, select
from streameval import InputError, Multilabel

torch = pytest.importorskip("torch")

from streameval._device import multilabel as device_multilabel  # noqa: E402
from test_device_binary import Forbidden, as_tensors, assert_tensors_equal_host, first_true, host_of, zeros  # noqa: E402

DEVICE = os.environ.get("STREAMEVAL_TEST_DEVICE", "cpu")  # benchmarks/gpu_check.py sets "cuda"


def count_by_plan(acc, batches, tensors=None):
    tensors = zeros(acc) if tensors is None else tensors
    for y_true, y_pred, weight in batches:
        plan = device_multilabel.plan(acc, *as_tensors(y_true, y_pred, weight))
        assert not any(bool(p.bad.any()) for p in plan.problems)
        plan.count(tensors, torch.tensor(True))
    return tensors


MULTILABEL = select(where=lambda c: c.name.startswith("multilabel"))
SUPPORTED = [c for c in MULTILABEL if device_multilabel.unsupported(c.make()) is None]
UNSUPPORTED = [c for c in MULTILABEL if device_multilabel.unsupported(c.make()) is not None]


def test_the_registry_has_both():
    assert SUPPORTED and {"multilabel-bootstrap", "multilabel-bins-bootstrap"} <= {c.name for c in UNSUPPORTED}


@pytest.mark.parametrize("entry", SUPPORTED, ids=repr)
@pytest.mark.parametrize("seed", range(3))
def test_registered_configuration_counts_as_the_host(entry, seed):
    acc = entry.make()
    stream = draw_stream(layout_of(acc), entry.batches, np.random.default_rng(seed), [7, 0, 1, 40, 5])
    batches = [(b.y_true, b.y_pred, b.sample_weight) for b in stream]
    host = host_of(entry.make(), batches)
    assert_tensors_equal_host(count_by_plan(entry.make(), batches), host, entry.name)
    device = remade(acc, device=DEVICE)
    host_of(device, batches)
    assert_same_state(device, host, entry.name)


@pytest.mark.parametrize("entry", UNSUPPORTED, ids=repr)
def test_unsupported_configuration_says_why(entry):
    reason = device_multilabel.unsupported(entry.make())
    assert isinstance(reason, str) and any(option in reason for option in ("bootstrap", "ignore_index", "unlabelled"))
    with pytest.raises(ValueError):
        remade(entry.make(), device=DEVICE)


@st.composite
def configurations(draw):
    config = {"num_labels": draw(st.integers(1, 4)), "threshold": draw(st.sampled_from([0.5, 0.25, 0.0, 1.0])),
              "inclusive": draw(st.booleans()), "weighted": draw(st.booleans()), "from_logits": draw(st.booleans())}
    bins = draw(st.sampled_from([None, None, 4, 6, [0.25, 0.5], [0.0, 0.33, 0.5, 1.0]]))
    if bins is not None:
        config["bins"] = bins
    if draw(st.booleans()):
        config["score_range"] = draw(st.sampled_from([(-1.0, 1.0), (0.0, 1.0)]))
    return config


def score_pool(acc, dtype):
    values = [0.0, 1.0, 0.5, acc.threshold, *acc.score_range, acc.score_range[0] - 1, acc.score_range[1] + 1]
    if acc._bins is not None:
        values += list(acc._bins.edges)
    values = np.array(values)
    values = np.r_[values, np.nextafter(values, -np.inf), np.nextafter(values, np.inf), np.linspace(-2, 2, 9)]
    pool = values.astype(dtype).astype(np.float64)
    if acc.from_logits:
        return np.r_[pool, -40.0, 40.0, -800.0]
    lo, hi = acc._bounds
    return pool[(pool >= lo) & (pool <= hi)]


@settings(max_examples=150, deadline=None)
@given(configurations(), st.integers(0, 2**32 - 1), st.sampled_from(["bool", "int64", "float32", "float64"]),
       st.integers(0, 6), st.lists(st.integers(1, 3), max_size=2), st.sampled_from([None, "sample", "element"]))
def test_any_batch_counts_as_the_host(config, seed, pred_kind, n, extra, weights):
    acc = Multilabel(**config)
    if acc._bins is not None and pred_kind in ("bool", "int64"):
        pred_kind = "float64"
    if not acc.weighted:
        weights = None
    elif not extra and weights == "element":
        weights = "sample"
    rng = np.random.default_rng(seed)
    shape = (n, acc.num_labels, *extra)
    elements = (n, *extra)
    batches = []
    for _ in range(2):
        y_true = rng.integers(0, 2, shape).astype(rng.choice(["int64", "bool", "float32", "uint8"]))
        if pred_kind in ("bool", "int64"):
            y_pred = rng.integers(0, 2, shape).astype(pred_kind)
        else:
            pool = score_pool(acc, pred_kind)
            y_pred = pool[rng.integers(0, len(pool), shape)].astype(pred_kind)
        weight = None if weights is None else rng.choice([0.0, 0.5, 1.0, 2.5, 1e-3],
                                                         elements if weights == "element" else n)
        batches.append((y_true, y_pred, weight))
    host = host_of(Multilabel(**config), batches)
    assert_tensors_equal_host(count_by_plan(acc, batches), host, str(config))


def test_every_per_sample_case():
    """Samples with no true and no predicted label (0/0), exact matches, partial overlaps, weighted."""
    y_true = np.array([[0, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1], [0, 1, 0]])
    y_pred = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1], [1, 0, 1], [1, 1, 1]])
    weight = np.array([0.5, 2.0, 1.0, 0.25, 3.0, 1.5])
    for w in (None, weight):
        acc = Multilabel(3, weighted=w is not None)
        host = host_of(Multilabel(3, weighted=w is not None), [(y_true, y_pred, w)])
        assert_tensors_equal_host(count_by_plan(acc, [(y_true, y_pred, w)]), host)


BAD = [
    ("y_true 2", {}, "y_true", 2),
    ("y_true nan", {}, "y_true", math.nan),
    ("y_true 0.5", {}, "y_true", 0.5),
    ("indicator 2", {}, "y_pred", 2),
    ("score nan", {}, "y_pred", math.nan),
    ("score past 1", {"bins": 4}, "y_pred", 1.5),
    ("score inf", {"threshold": 0.0}, "y_pred", math.inf),
    ("logit inf", {"from_logits": True}, "y_pred", -math.inf),
    ("weight -1", {"weighted": True}, "sample_weight", -1.0),
    ("weight nan", {"weighted": True, "bins": 3}, "sample_weight", math.nan),
]


@pytest.mark.parametrize("name, config, argument, value", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("extra", [(), (3,)], ids=str)
def test_bad_value_is_the_hosts(name, config, argument, value, extra):
    rng = np.random.default_rng(2)
    shape = (5, 3, *extra)
    y_true = rng.integers(0, 2, shape)
    y_pred = rng.integers(0, 2, shape) if name.startswith("indicator") else rng.random(shape)
    weight = np.ones(5) if config.get("weighted") else None
    arrays = {"y_true": y_true, "y_pred": y_pred, "sample_weight": weight}
    target = arrays[argument].astype(np.float64) if isinstance(value, float) else arrays[argument]
    at = (2,) if argument == "sample_weight" else (2, 1, *(1 for _ in extra))
    target[at] = value
    arrays[argument] = target
    with pytest.raises(InputError) as caught:
        Multilabel(3, **config).update(*arrays.values())
    error = caught.value
    plan = device_multilabel.plan(Multilabel(3, **config), *as_tensors(*arrays.values()))
    bad = [p for p in plan.problems if bool(p.bad.any())]
    assert [p.argument for p in bad] == [error.argument] == [argument]
    assert bad[0].bad.shape == torch.as_tensor(arrays[argument]).shape
    expected = error.index if isinstance(error.index, tuple) else (error.index,)
    assert first_true(bad[0].bad) == expected[:bad[0].bad.ndim]
    device = Multilabel(3, **config, device=DEVICE)
    device.update(*arrays.values())
    with pytest.raises(InputError) as caught:
        device.confusion_matrix()
    assert caught.value.argument == error.argument


def test_shapes_raise_as_the_host():
    cases = [
        ({}, np.zeros((3, 3), int), np.zeros((3, 2)), None),
        ({}, np.zeros((3, 2), int), np.zeros((3, 2)), None),
        ({}, np.zeros(3, int), np.zeros(3), None),
        ({}, np.zeros((3, 3, 2), int), np.zeros((3, 3)), None),
        ({}, np.zeros((3, 3), int), np.zeros((4, 3)), None),
        ({"weighted": True}, np.zeros((3, 3), int), np.zeros((3, 3)), np.ones(4)),
        ({"weighted": True}, np.zeros((3, 3, 2), int), np.zeros((3, 3, 2)), np.ones((3, 3))),
        ({"bins": 4}, np.zeros((3, 3), int), np.zeros((3, 3), int), None),
    ]
    for config, y_true, y_pred, weight in cases:
        with pytest.raises((ValueError, TypeError)) as host:
            Multilabel(3, **config).update(y_true, y_pred, weight)
        with pytest.raises(type(host.value)) as ours:
            device_multilabel.plan(Multilabel(3, **config), *as_tensors(y_true, y_pred, weight))
        assert str(ours.value) == str(host.value)


CONFIGS = [{}, {"weighted": True, "bins": 5}, {"from_logits": True, "bins": [0.2, 0.6]},
           {"threshold": 0.0, "score_range": (-1, 1), "bins": 4, "weighted": True}]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_gate_false_leaves_the_counts(config):
    acc = Multilabel(3, **config)
    tensors = {name: (torch.rand(t.shape, dtype=torch.float64) * 10).to(t.dtype) for name, t in zeros(acc).items()}
    before = {name: t.clone() for name, t in tensors.items()}
    y_true = np.array([[0, 1, 1], [3, 0, 1]])
    y_pred = np.array([[0.2, math.nan, math.inf], [-math.inf, 0.7, 0.1]])
    weight = np.array([math.nan, -1.0]) if acc.weighted else None
    plan = device_multilabel.plan(acc, *as_tensors(y_true, y_pred, weight))
    plan.count(tensors, torch.tensor(False))
    for name in tensors:
        assert torch.equal(tensors[name], before[name]), name


# (indicator predictions only where there are no bins: bins need scores)
META_CASES = [(config, indicators) for config in CONFIGS for indicators in [False, True]
              if not (indicators and "bins" in config)]


@pytest.mark.parametrize("config, indicators", META_CASES,
                         ids=[f"{c}-{'indicators' if i else 'scores'}" for c, i in META_CASES])
def test_meta_and_no_host_read(config, indicators):
    acc = Multilabel(3, **config)
    shape = (4, 3, 2)
    dtype = torch.int64 if indicators else torch.float32
    weight = torch.zeros(4, dtype=torch.float64, device="meta") if acc.weighted else None
    plan = device_multilabel.plan(acc, torch.zeros(shape, dtype=torch.int64, device="meta"),
                                  torch.zeros(shape, dtype=dtype, device="meta"), weight)
    plan.count(zeros(acc, "meta"), torch.zeros((), dtype=torch.bool, device="meta"))
    Multilabel(3, **config, device="meta").update(torch.zeros(shape, dtype=torch.int64, device="meta"),
                                                  torch.zeros(shape, dtype=dtype, device="meta"), weight)
    rng = np.random.default_rng(0)
    y_true = torch.as_tensor(rng.integers(0, 2, shape))
    y_pred = torch.as_tensor(rng.integers(0, 2, shape) if indicators else rng.random(shape))
    weight = torch.as_tensor(rng.random(4)) if acc.weighted else None
    device = Multilabel(3, **config, device=DEVICE)
    with Forbidden() as mode:
        device_multilabel.plan(acc, y_true, y_pred, weight).count(zeros(acc), torch.tensor(True))
        device.update(y_true, y_pred, weight)
    assert mode.seen == []
