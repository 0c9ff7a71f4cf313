"""The layers under the accumulators: declared state (_state), the numpy storage (_storage) and
components (_components), checked against plain numpy and against what the declarations say.

The accumulators' behaviour is tested elsewhere against scikit-learn; here are the rules the
middle layer promises: every array is declared once, with what generic code needs to know; the
storage's overflow bounds refuse exactly what streameval.limits refuses; an accumulator can be
built from components alone (prediction counts and bins, no labels) and inherits no label metric.
"""

from __future__ import annotations

import ast
import pathlib
from typing import Any

import numpy as np
import pytest

import streameval
from streameval import Binary, Decayed, Multiclass, Multilabel, Windowed, limits
from streameval._components.bins import BinsMethods, ScoreBins
from streameval._state import Merge, Role, Spec, StateArray, counts
from streameval._stateful import Stateful
from streameval._storage import REFUSED, NumpyStorage
from streameval.accumulator import DEFAULT
from streameval.serialization import Kind

# --- declarations ------------------------------------------------------------------------------


def test_every_configuration_declares_each_array_once_in_payload_order():
    cases = [
        (Binary(), ["_cm"]),
        (Binary(bins=4, bootstrap=3), ["_cm", "_hist", "_score_sums", "_out_of_range", "_calib", "_boot_cm"]),
        (Binary(exact=True), ["_cm", "_table_scores", "_table_counts", "_table_shift", "_calib"]),
        (Multiclass(3, bins=4, top_k=2), ["_cm", "_hist", "_score_sums", "_out_of_range", "_conf_hist", "_conf_sums",
                                          "_calib", "_topk"]),
        (Multilabel(2, bins=4, bootstrap=3), ["_mcm", "_sample_sums", "_hist", "_score_sums", "_out_of_range",
                                              "_boot_mcm", "_boot_sums"]),
    ]
    for acc, names in cases:
        assert list(acc._spec) == names
        assert [a.shape for a in acc._arrays()] == [acc._spec[n].empty_shape for n in names]
        assert [a.dtype for a in acc._arrays()] == [acc._spec[n].dtype for n in names]


def test_declarations_say_what_generic_code_needs():
    boot = Multiclass(labels="auto", bootstrap=3)._spec
    assert boot["_cm"].class_axes == (0, 1) and boot["_boot_cm"].class_axes == (1, 2)
    assert boot.replicated == (("_cm", "_boot_cm"),)
    binned = Binary(bins=4, score_range=(-3, 3))._spec
    assert binned["_score_sums"].signed and not binned["_hist"].signed  # sums of logits may be negative
    exact = Binary(exact=True)._spec
    assert exact.unsummable and "exact score table" in exact.unsummable
    assert exact["_table_scores"].role is Role.VALUE and exact["_table_shift"].role is Role.METADATA
    assert exact.added == ("_cm", "_calib")  # the table is merged by its component
    assert Binary(bins=4)._spec.unsummable is None
    window = Windowed(Multiclass(2), 4, buckets=2)._spec
    assert window.metadata == ("_position",) and window.vector == ("_cm",) and window["_position"].signed
    decayed = Decayed(Multiclass(2), 5, unit="seconds")._spec
    assert decayed.metadata == ("_time",) and decayed["_time"].merge is Merge.COMPONENT


def test_spec_groups_follow_the_declarations():
    spec = Spec(a=counts((2,), np.int64), b=counts((3,), np.float64, signed=True),
                c=StateArray((-1,), np.dtype(np.float64), merge=Merge.COMPONENT, role=Role.VALUE, unsummable="why"),
                d=StateArray((1,), np.dtype(np.int64), role=Role.METADATA))
    assert spec.added == ("a", "b", "d") and spec.bounded == ("a", "b") and spec.vector == ("a", "b")
    assert spec.metadata == ("d",) and spec.floats == {"b", "c"} and spec.unsummable == "why" and spec.grows
    assert spec.subset(("b",)) is spec.subset(("b",)) and list(spec.subset(("b",))) == ["b"]
    assert spec["c"].empty_shape == (0,) and spec["c"].fits((7,)) and not spec["a"].fits((3,))


# --- the numpy storage -------------------------------------------------------------------------


def _storage(**arrays: np.ndarray) -> NumpyStorage:
    spec = Spec({name: counts(a.shape, a.dtype) for name, a in arrays.items()})
    return NumpyStorage.holding(spec, {name: a.copy() for name, a in arrays.items()})


def test_reserve_raises_a_bound_and_refuses_only_what_really_overflows(monkeypatch):
    storage = _storage(cm=np.array([[3, 0], [0, 4]]))
    monkeypatch.setattr(limits, "MAX_COUNT", 10)
    assert storage.reserve("cm", 3)  # 7 + 3: the bound is now 10
    assert storage.reserve("cm", 2)  # bound 12 > 10: the array is summed again (7 + 2 fits)
    assert not storage.reserve("cm", 4)  # 7 + 4 does not
    assert storage.reserve_all([("cm", 1), ("cm", 5)]) == "cm"
    weighted = _storage(w=np.array([1e308, 0.0]))
    assert not weighted.reserve("w", 1e308) and weighted.reserve("w", 1.0)


def test_a_merge_is_checked_by_bounds_then_by_exact_totals(monkeypatch):
    a, b = _storage(cm=np.array([[5, 1]])), _storage(cm=np.array([[4, 0]]))
    monkeypatch.setattr(limits, "MAX_COUNT", 10)
    assert a.overflowing_sum(b) is None
    a.reserve("cm", 5)  # a bound above the truth: the sum is counted again, and fits
    assert a.overflowing_sum(b) is None
    b.add(a, ["cm"])
    assert b.host("cm").tolist() == [[9, 1]]
    assert b.overflowing_sum(a) == "cm"  # 10 + 6


def test_relayout_places_each_class_axis_as_numpy_indexing_does():
    rng = np.random.default_rng(0)
    old = rng.integers(0, 9, (3, 2, 2))
    spec = Spec(boot=counts((3, 2, 2), np.int64, class_axes=(1, 2)))
    storage = NumpyStorage.holding(spec, {"boot": old})
    where = np.array([3, 0])
    grown = storage.relayout(Spec(boot=counts((3, 4, 4), np.int64, class_axes=(1, 2))), where)
    expected = np.zeros((3, 4, 4), dtype=np.int64)
    expected[:, where[:, None], where] = old
    np.testing.assert_array_equal(grown.host("boot"), expected)


def test_replicate_views_and_batches_counted_aside():
    spec = Spec(cm=counts((2, 2), np.int64, replicated_by="boot"), boot=counts((3, 2, 2), np.int64))
    storage = NumpyStorage.zeros(spec)
    batch = storage.scratch(("cm",))
    assert batch.count_pairs("cm", np.array([0, 1, 1]), np.array([0, 1, 0]), None, 2, 0, False) == -1
    storage.add_counted(batch, ["cm"])
    storage.add_draws("boot", np.array([0, 3]), np.array([[1, 2], [3, 4], [5, 6]]))
    assert storage.host("cm").tolist() == [[1, 0], [1, 1]]
    views = [view.host("cm").copy() for view in storage.replicates()]
    assert [v.ravel().tolist() for v in views] == [[1, 0, 0, 2], [3, 0, 0, 4], [5, 0, 0, 6]]


def test_a_counting_operation_given_a_mass_reserves_it_first(monkeypatch):
    storage = _storage(cm=np.zeros((2, 2), dtype=np.int64))
    monkeypatch.setattr(limits, "MAX_COUNT", 2)
    y = np.array([0, 1, 1])
    assert storage.count_pairs("cm", y, y, None, 2, 0, False, 3) == REFUSED
    assert not storage.host("cm").any()
    assert storage.count_pairs("cm", y[:2], y[:2], None, 2, 0, False, 2) == -1


# --- an accumulator made of components: prediction counts and bins, no labels -------------------


class _Predictions(BinsMethods, Stateful):
    """What issue 17 needs: counts of predicted scores, without labels (a sketch, not an API)."""

    def __init__(self, bins: int):
        self.score_range = (0.0, 1.0)
        self._bins = ScoreBins(bins, self.score_range, names=("_pred_hist", "_pred_sums"))
        self._start(self._state_spec(bins))

    def _config(self) -> dict[str, Any]:
        return {"bins": self._bins.bins}

    @classmethod
    def _state_spec(cls, bins: int) -> Spec:  # type: ignore[override]
        return Spec(ScoreBins.declare(1, bins, (0.0, 1.0), np.dtype(np.int64), names=("_pred_hist", "_pred_sums")))

    def update(self, scores: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=np.float64)[:, None]
        self._reserve_all(self._bins.masses(1, scores.shape[0], 1.0))
        self._bins.count(self._storage, scores, np.zeros(scores.shape, dtype=np.int8), None, "float64", True)

    @property
    def n_samples(self) -> int:
        return int(self._storage.host("_pred_hist").sum())


def test_an_accumulator_of_prediction_counts_and_bins_alone():
    a, b = _Predictions(4), _Predictions(4)
    a.update([0.1, 0.6, 0.9])
    b.update([0.3])
    total = a + b
    hist = total._storage.host("_pred_hist")[0, 0]
    np.testing.assert_array_equal(hist, np.histogram([0.1, 0.6, 0.9, 0.3], [-np.inf, 0, .25, .5, .75, 1, np.inf])[0])
    assert total.n_samples == 4 and a.n_samples == 3 and total == a.copy().merge(b)
    c = _Predictions(4)
    c.load_state_vector(a.state_vector() + b.state_vector())
    assert c == total
    for label_metric in ("precision", "recall", "confusion_matrix", "report", "interval"):
        assert not hasattr(total, label_metric)


# --- tidy: one import direction, named kinds, one default sentinel ------------------------------


def test_plot_imports_no_accumulator():
    source = pathlib.Path(streameval.__file__).with_name("plot.py").read_text()
    # what it imports when it runs: imports read only by the type checker (under TYPE_CHECKING) do not count
    run_time = [node for node in ast.parse(source).body
                if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")]
    imported = {node.module for top in run_time for node in ast.walk(top) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"binary", "multiclass", "multilabel", "accumulator", "windows"}


def test_kinds_have_names_and_the_payload_values():
    assert [(k.name, int(k)) for k in Kind] == [("BINARY", 1), ("MULTICLASS", 2), ("MULTILABEL", 3),
                                               ("WINDOWED", 4), ("DECAYED", 5), ("SLICED", 6)]
    assert streameval.from_bytes(Multilabel(2).to_bytes())._KIND is Kind.MULTILABEL


def test_the_default_average_reads_well_and_the_old_string_still_works():
    assert repr(DEFAULT) == "DEFAULT" and "average: 'Average' = DEFAULT" in str(_signature(Binary.precision))
    acc = Multiclass(3)
    acc.update([0, 1, 2, 2], [0, 2, 2, 1])
    assert acc.f1() == acc.f1("default") == acc.f1("macro")
    binary = Binary()
    binary.update([1, 1, 0, 1], [1, 0, 0, 1])
    assert binary.interval("recall", average="default") == binary.interval("recall") == binary.interval(
        "recall", average="binary")


def _signature(function: Any) -> Any:
    import inspect

    return inspect.signature(function)


def test_every_state_array_attribute_reads_the_storage():
    acc = Binary(bins=3, bootstrap=2, seed=0)
    acc.update([0, 1], [0.2, 0.7])
    for name in acc._spec:
        assert getattr(acc, name) is acc._storage.host(name)
    with pytest.raises(AttributeError, match="no state array '_table_scores'"):
        acc._table_scores


# --- slots: a wrapper's stacked states, counted through a view ----------------------------------


def test_a_slot_view_counts_into_one_slot_or_one_per_sample_and_refuses_past_a_slots_share():
    from streameval._slots import stacked_spec
    from streameval._storage import SlotView

    inner = Multiclass(3)._spec
    ring = NumpyStorage.zeros(Spec(stacked_spec(inner, 4, "a test ring")))
    refusals = []

    def refuse(name: str) -> Exception:
        refusals.append(name)
        return OverflowError(f"{name} past its share")

    view = SlotView(inner, ring, leading=True, share=4, refuse=refuse)
    yt, yp = np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])
    assert view.aim(slot=2).count_pairs("_cm", yt, yp, None, 3, 0, False, mass=4) == -1
    slots = np.array([0, 0, 3, 3])
    assert view.aim(slots=slots, touched=[0, 3]).count_pairs("_cm", yt, yp, None, 3, 0, False, mass=4) == -1
    expected = np.zeros((4, 3, 3), np.int64)
    np.add.at(expected, (np.full(4, 2), yt, yp), 1)
    np.add.at(expected, (slots, yt, yp), 1)
    assert np.array_equal(ring.host("_cm"), expected)
    view.zero([2])
    assert ring.host("_cm")[2].sum() == 0 and ring.host("_cm")[0].sum() == 2
    # A slot may total MAX_COUNT / 4: a batch that would pass it is refused before anything is counted.
    before = ring.host("_cm").copy()
    with pytest.raises(OverflowError, match="_cm past its share"):
        view.aim(slot=0).count_pairs("_cm", yt, yp, None, 3, 0, False, mass=limits.MAX_COUNT // 3)
    assert refusals == ["_cm"] and np.array_equal(ring.host("_cm"), before)


def test_wrapper_slots_grow_and_merge_slot_by_slot():
    """What Sliced will do with new keys and merges: more slots, ours kept first; add by slot."""
    from streameval._slots import stacked_spec

    window = Windowed(Multiclass(2), 4, buckets=2)
    window.update([0, 1, 1], [0, 1, 0])
    ring = window._cm.copy()
    bigger = Spec({**stacked_spec(Multiclass(2)._spec, 5, "a test ring"), "_position": window._spec["_position"]})
    window._grow_slots(bigger)
    assert window._cm.shape == (5, 2, 2) and np.array_equal(window._cm[:2], ring) and not window._cm[2:].any()
    assert window._position.tolist() == [1, 3]
    other = Windowed(Multiclass(2), 4, buckets=2)
    other.update([1, 1], [1, 1])
    window._add_slots(other, np.array([4]), np.array([0]))
    assert np.array_equal(window._cm[4], other._cm[0]) and np.array_equal(window._cm[:2], ring)
