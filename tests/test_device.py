"""Counts on a torch device (device=): the contract every device accumulator keeps, beside the
host path's. The kinds' own checks and counts are tested in tests/test_device_<kind>.py; the
contract suite (tests/test_contract.py) runs the registry's device configurations.

- the device path gives the host path's state, queries and payloads (device="cpu");
- an update reads nothing back to the host: it runs on "meta" tensors (no data: any read
  fails) and a TorchDispatchMode sees no scalar read, no nonzero/unique/bincount, no copy to
  the host;
- a bad batch is dropped whole on the device and reported by the next query, once;
  validate="eager" raises at the update with the host path's message;
- what needs host state (exact tables, bootstrap, text labels, windows, decay) says so.

STREAMEVAL_TEST_DEVICE=cuda runs the same tests on a GPU (benchmarks/gpu_check.py does).
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import streameval  # noqa: E402
from streameval import Binary, Decayed, InputError, Multiclass, Multilabel, Windowed  # noqa: E402
from streameval import DroppedBatchError  # noqa: E402
import helpers  # noqa: E402

DEVICE = os.environ.get("STREAMEVAL_TEST_DEVICE", "cpu")
READS = ("aten._local_scalar_dense", "aten.nonzero", "aten.unique", "aten._unique", "aten.bincount",
         "aten.masked_select", "aten.item")


class HostReads(TorchDispatchMode):
    """Counts the ops that read a tensor's values back to the host, and copies off the device."""

    def __init__(self, device: str):
        super().__init__()
        self.device, self.reads = torch.device(device), []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        if any(name.startswith(read) for read in READS):
            self.reads.append(name)
        out = func(*args, **(kwargs or {}))
        if name in ("aten._to_copy", "aten.copy_") and self.device.type != "cpu":
            source = args[1] if name == "aten.copy_" else args[0]
            target = args[0] if name == "aten.copy_" else out
            if getattr(source, "device", None) == self.device and target.device.type == "cpu":
                self.reads.append(f"{name} to the host")
        return out


def _supported(configuration) -> bool:
    acc = configuration.make()
    return isinstance(acc, (Binary, Multiclass, Multilabel)) and streameval._device.unsupported(acc) is None


SUPPORTED = [c for c in helpers.CONFIGURATIONS if "[device" not in c.name and _supported(c)]
ACCUMULATORS = [
    lambda **kw: Binary(**kw), lambda **kw: Binary(0.3, bins=8, weighted=True, **kw),
    lambda **kw: Binary(bins=8, from_logits=True, **kw),
    lambda **kw: Multiclass(4, **kw), lambda **kw: Multiclass(4, ignore_index=-100, weighted=True, **kw),
    lambda **kw: Multiclass(4, bins=5, top_k=2, **kw), lambda **kw: Multiclass(4, from_logits=True, bins=6, **kw),
    lambda **kw: Multilabel(3, bins=4, **kw), lambda **kw: Multilabel(3, from_logits=True, weighted=True, **kw),
]


def _stream(configuration, seed: int = 0, sizes=(7, 0, 12, 5)):
    layout = helpers.layout_of(configuration.make())
    return helpers.draw_stream(layout, configuration.batches, np.random.default_rng(seed), list(sizes))


@pytest.mark.parametrize("supported", SUPPORTED, ids=repr)
def test_the_device_path_holds_the_host_paths_state(supported):
    configuration = supported
    host, device = configuration.make(), configuration.make().to(DEVICE)
    assert device.device == torch.device(DEVICE) and host.device is None
    for batch in _stream(configuration):
        host.update(batch.y_true, batch.y_pred, batch.sample_weight)
        device.update(batch.y_true, batch.y_pred, batch.sample_weight)
        helpers.assert_same_state(device, host, configuration.name)
    assert str(device.report()) == str(host.report())
    assert device.n_samples == host.n_samples
    # payloads are the host's (the device is not configuration), and load on the host
    loaded = streameval.from_bytes(device.to_bytes())
    assert loaded.device is None
    helpers.assert_same_state(loaded, host)
    helpers.assert_same_state(pickle.loads(pickle.dumps(device)), host)
    np.testing.assert_allclose(device.state_vector(), host.state_vector(), rtol=1e-12)


@pytest.mark.parametrize("make", ACCUMULATORS)
def test_merges_copies_resets_and_moves_across_devices(make):
    host = make()
    layout = helpers.layout_of(host)
    kind = {"Binary": "scores", "Multiclass": "matrix", "Multilabel": "multilabel"}[type(host).__name__]
    a, b = (helpers.draw_stream(layout, kind, np.random.default_rng(s), [9, 6]) for s in (1, 2))
    ours, theirs, both = make(device=DEVICE), make(), make()
    for batch in a:
        ours.update(*batch[:3])
        both.update(*batch[:3])
    for batch in b:
        theirs.update(*batch[:3])
        both.update(*batch[:3])
    copy = ours.copy()
    assert copy.device == ours.device
    helpers.assert_same_state(ours + theirs, both, "device + host")  # a device accumulator merges a host one
    helpers.assert_same_state(theirs.copy().merge(ours), both, "host + device")
    helpers.assert_same_state(copy.merge(theirs.copy().to(DEVICE)), both, "device + device")
    helpers.assert_same_state(ours.copy().merge(theirs), both, "merge in place")
    assert ours != both
    moved = both.copy().to(None)
    assert moved.device is None and moved == both
    ours.reset()
    assert ours.device == torch.device(DEVICE) and ours.is_empty


@pytest.mark.parametrize("make", ACCUMULATORS)
def test_an_update_reads_nothing_back_to_the_host(make):
    acc = make()
    layout = helpers.layout_of(acc)
    kind = {"Binary": "scores", "Multiclass": "matrix", "Multilabel": "multilabel"}[type(acc).__name__]
    (batch,) = helpers.draw_stream(layout, kind, np.random.default_rng(3), [16])
    tensors = [None if x is None else torch.as_tensor(np.asarray(x)).to(DEVICE) for x in batch[:3]]
    device = make(device=DEVICE)
    with HostReads(DEVICE) as mode:
        for _ in range(3):
            device.update(*tensors)
    assert mode.reads == []
    host = make()
    for _ in range(3):
        host.update(*batch[:3])
    helpers.assert_same_state(device, host)


@pytest.mark.parametrize("make", ACCUMULATORS)
def test_an_update_runs_on_meta_tensors_which_have_no_values(make):
    acc = make()
    layout = helpers.layout_of(acc)
    kind = {"Binary": "scores", "Multiclass": "matrix", "Multilabel": "multilabel"}[type(acc).__name__]
    (batch,) = helpers.draw_stream(layout, kind, np.random.default_rng(4), [16])
    meta = make(device="meta")
    tensors = [None if x is None else torch.as_tensor(np.asarray(x)).to("meta") for x in batch[:3]]
    for _ in range(2):
        meta.update(*tensors)  # any .item(), bool(t), .tolist() or .numpy() would raise here
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.ones(1, device="meta").item()  # (what a host read does on meta)


def test_a_bad_batch_is_dropped_on_the_device_and_reported_once_by_the_next_query():
    good = (np.array([0, 1, 2, 1]), np.array([0, 2, 2, 1]))
    acc = Multiclass(3, device=DEVICE)
    acc.update(*good)
    acc.update(np.array([0, 1, 7, 5]), np.array([0, 1, 2, 1]))  # y_true[2] = 7: not a class
    acc.update(*good)
    acc.update(np.array([0, 1]), np.array([0, 9]))  # a second bad batch: counted in the report
    with pytest.raises(DroppedBatchError) as caught:
        acc.accuracy()
    error = caught.value
    assert isinstance(error, InputError) and error.argument == "y_true" and error.index == 2
    assert "2 batches were dropped" in str(error) and "update 2" in str(error) and "y_true[2]" in str(error)
    reference = Multiclass(3)
    reference.update(*good)
    reference.update(*good)
    assert acc.accuracy() == reference.accuracy() and acc == reference  # reported once; the rest counted


def test_a_dropped_batch_is_located_in_the_users_shape():
    acc = Multiclass(3, from_logits=True, device=DEVICE)
    logits = np.zeros((2, 3, 4, 5), dtype=np.float32)
    logits[1, 2, 3, 4] = np.nan
    acc.update(np.zeros((2, 4, 5), dtype=np.int64), logits)
    with pytest.raises(DroppedBatchError) as caught:
        acc.confusion_matrix()
    assert caught.value.argument == "y_pred" and caught.value.index == (1, 2, 3, 4)
    assert acc.n_samples == 0


@pytest.mark.parametrize("make", ACCUMULATORS)
def test_eager_validation_raises_the_host_paths_error_and_changes_nothing(make):
    acc = make()
    layout = helpers.layout_of(acc)
    kind = {"Binary": "scores", "Multiclass": "matrix", "Multilabel": "multilabel"}[type(acc).__name__]
    good = helpers.draw_stream(layout, kind, np.random.default_rng(5), [8])[0]
    eager = make(device=DEVICE, validate="eager")
    eager.update(*good[:3])
    before = eager.to_bytes()
    for case in helpers.bad_batches(layout, kind, good):
        host = make()
        with pytest.raises(case.error) as expected:
            host.update(*case.batch[:3])
        with pytest.raises(case.error) as caught:
            eager.update(*case.batch[:3])
        assert str(caught.value) == str(expected.value), case.name
        assert eager.to_bytes() == before, case.name


@pytest.mark.parametrize("make, reason", [
    (lambda: Binary(exact=True), "exact"),
    (lambda: Binary(bootstrap=3, seed=1), "bootstrap"),
    (lambda: Multiclass(labels=["a", "b"]), "label"),
    (lambda: Multiclass(labels="auto"), "auto"),
    (lambda: Multilabel(3, bootstrap=3, seed=1), "bootstrap"),
])
def test_what_needs_host_state_says_so(make, reason):
    acc = make()
    with pytest.raises(ValueError, match=reason):
        acc.to(DEVICE)
    assert acc.device is None
    with pytest.raises(ValueError, match="windows and decay keep"):
        Windowed(Multiclass(3, device=DEVICE), 10)
    with pytest.raises(ValueError, match="windows and decay keep"):
        Decayed(Binary(device=DEVICE), half_life=10)


def test_a_host_accumulator_stays_on_the_host_for_host_data():
    acc = Multiclass(3)
    acc.update(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3]]))
    acc.update([0, 1], [0, 1])
    assert acc.device is None
    assert streameval._device.tensors.gpu_device(torch.zeros(2)) is None
    assert streameval._device.tensors.gpu_device(np.zeros(2)) is None


class _FakeGpuArray:
    """An array that says it lives on a CUDA device (DLPack device type 2), as CuPy's and JAX's do."""

    def __dlpack_device__(self):
        return (2, 1)


def test_arrays_on_a_gpu_are_recognised_by_their_dlpack_device():
    assert streameval._device.tensors.gpu_device(_FakeGpuArray()) == "cuda:1"


def test_dlpack_arrays_count_on_the_device():
    class Exported:  # a host array seen only through DLPack, as another library would hand it over
        def __init__(self, array):
            self._array = array

        def __dlpack__(self, **kwargs):
            return self._array.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self._array.__dlpack_device__()

    acc, host = Multiclass(3, device=DEVICE), Multiclass(3)
    y, p = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    acc.update(Exported(y), Exported(p))
    host.update(y, p)
    assert acc == host


def test_device_and_validate_are_checked():
    with pytest.raises(ValueError, match="validate="):
        Multiclass(3, validate="sometimes")
    with pytest.raises(ValueError, match="meta"):
        Multiclass(3, device="meta", validate="eager")
    with pytest.raises(RuntimeError):
        Multiclass(3, device="no-such-device")


def test_an_array_on_a_gpu_without_torch_says_torch_is_needed(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # as if torch were not installed
    acc = Multiclass(3)
    with pytest.raises(ImportError, match="install torch"):
        acc.update(np.array([0, 1]), _FakeGpuArray())
    assert acc.device is None and acc.is_empty


def test_an_array_on_a_gpu_given_to_a_configuration_that_needs_host_state_says_so():
    acc = Binary(exact=True)
    with pytest.raises(TypeError, match="needs host state"):
        acc.update(np.array([0, 1]), _FakeGpuArray())


def test_batches_of_ever_new_shapes_keep_a_bounded_record(monkeypatch):
    from streameval._device import update as device_update

    monkeypatch.setattr(device_update, "MAX_RUNS", 8)
    acc = Multiclass(3, device=DEVICE)
    acc.update(np.array([0, 7]), np.array([0, 1]))  # dropped: the first of this read
    for n in range(1, 40):  # variable-length batches: a new shape each update
        acc.update(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    assert len(acc._storage.runs) <= 8
    with pytest.raises(DroppedBatchError, match="is not known here") as caught:
        acc.accuracy()
    assert caught.value.index is None
    assert acc.n_samples == sum(range(1, 40)) and len(acc._storage.runs) == 1


# Bad batches that reach the device (shape, dtype and missing-value errors raise at once, as on the host)
_VALUE_ERRORS = ("y_true not a class", "y_pred not a class", "score nan", "score inf", "score past 1", "y_true 2",
                 "weight -2.0", "weight nan", "weight inf", "weights sum past float64")


# Weighted score states with logits, bins and ignore_index: the registry's device lines count them
# with validate="eager"; here they drop bad batches on the device
WEIGHTED_SCORES = [
    helpers.Configuration(name, make, batches, reference) for name, make, batches, reference in [
        ("multiclass-weighted-logits-bins-top-k",
         lambda: Multiclass(4, bins=8, top_k=2, from_logits=True, weighted=True), "matrix", "multiclass"),
        ("multiclass-weighted-ignore-logits",
         lambda: Multiclass(3, from_logits=True, ignore_index=-100, weighted=True), "matrix", "multiclass"),
        ("multilabel-weighted-range-bins",
         lambda: Multilabel(2, 0.0, bins=4, score_range=(-1, 1), weighted=True), "multilabel", "multilabel"),
        ("binary-weighted-ignore-logits-bins",
         lambda: Binary(0.3, bins=8, from_logits=True, weighted=True, ignore_index=-100), "scores", "binary"),
    ]]


@pytest.mark.parametrize("supported", SUPPORTED + WEIGHTED_SCORES, ids=repr)
def test_a_stream_mixing_bad_batches_holds_the_host_counts_of_the_good_ones(supported):
    """Every kind of bad value the device can meet, each between good batches: the device drops
    each such batch whole (a NaN logit or score must not reach the float sums) and ends with the
    host's counts of the good ones."""
    configuration = supported
    layout = helpers.layout_of(configuration.make())
    host, device = configuration.make(), configuration.make().to(DEVICE)
    stream = helpers.draw_stream(layout, configuration.batches, np.random.default_rng(11), [8, 9, 7, 10])
    dropped = 0
    for good in stream:
        for case in helpers.bad_batches(layout, configuration.batches, good):
            if case.name not in _VALUE_ERRORS:
                continue
            with pytest.raises((ValueError, OverflowError)):  # the host refuses it at once...
                host.update(*case.batch[:3])
            device.update(*case.batch[:3])  # ...the device drops it
            dropped += 1
        host.update(*good[:3])
        device.update(*good[:3])
    if dropped:
        with pytest.raises(DroppedBatchError, match=f"{dropped} batch"):
            device.n_samples
    helpers.assert_same_state(device, host, configuration.name)
