"""Shared test helpers: the registry of accumulator configurations, comparisons, streams of every
input kind, what a stream's samples are in scikit-learn's terms, and a corpus of bad batches.

Everything here reads accumulators through their public API only (``to_dict()``, ``to_bytes()``,
``update()``...): the middle layer may change under it. tests/conftest.py hands the registry to
tests as their ``configuration`` argument; tests/test_contract.py checks every entry.

Registering a new accumulator, option, wrapper or storage is one line in CONFIGURATIONS below::

    C("binary-bins-torch", lambda: Binary(bins=8, device="cpu"), "scores", "binary"),

name (the test id), a factory of a fresh empty object, the input kind its streams are drawn from
(BATCH_KINDS; a new kind of input is a branch in ``_draw``), the scikit-learn family it is checked
against, and what it does not support (``**LOCAL``: no merge, no state vector; ``**TABLE``: no
state vector; ``commutes=False`` / ``associates=False`` where the documentation says so). Every
contract test, and every test that takes a ``configuration`` argument or iterates a view of the
registry (``select(where=...)``, ``plain()``, ``scored()``, ``replicated()``), then runs it. A new
wrapper also needs its coverage rule in ``_coverage`` (which samples count, with what factor).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from streameval import Binary, Decayed, Multiclass, Multilabel, Windowed


def assert_same(ours, ref, exact: bool, what: str = "", rtol: float = 1e-12):
    """ours == ref elementwise (NaN equals NaN); exact, or to rtol (1e-12) relative."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    if exact:
        same = (ours == ref) | (np.isnan(ours) & np.isnan(ref))
        assert same.all(), f"{what}: {ours} != {ref} (exact)"
    else:
        # Relative to the largest value, and at least to 1, the scale of every ratio metric: a
        # count computed by subtraction (scikit-learn's tn) carries rounding noise of the totals'
        # size where the exact value is 0, and kappa = 1 - x with x near 1 sits at +-1e-16.
        scale = max(np.nanmax(np.abs(ref), initial=0.0) if ref.size else 0.0, 1.0)
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale, equal_nan=True, err_msg=what)


def assert_same_state(ours, ref, what: str = "") -> None:
    """Same kind, configuration and state arrays (from to_dict()): integer counts exactly, float
    sums to 1e-12, as sums of the same numbers in another order are."""
    a, b = ours.to_dict(), ref.to_dict()
    assert (a["kind"], a["config"]) == (b["kind"], b["config"]), f"{what}: {a['config']} != {b['config']}"
    assert len(a["state"]) == len(b["state"])
    for i, (x, y) in enumerate(zip(a["state"], b["state"])):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, f"{what}: state[{i}] has shape {x.shape}, expected {y.shape}"
        if x.dtype.kind in "iub" and y.dtype.kind in "iub":
            assert np.array_equal(x, y), f"{what}: state[{i}] {x} != {y}"
        else:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, err_msg=f"{what}: state[{i}]")


# --- the registry: every configuration the contract suite checks, one line each -----------------


@dataclass(frozen=True)
class Configuration:
    """One registered configuration.

    name: the test id. make: a factory of a fresh, empty object (deterministic: bootstrap
    replicates are seeded). batches: the input kind its streams are drawn from (a key of
    helpers.BATCH_KINDS). reference: the scikit-learn family it is checked against ("binary",
    "multiclass", "multilabel"); a wrapper is checked against it on the samples (or decayed
    weights) it documents. The flags say what it supports; what it does not support must be
    refused, clearly:

    - merges: merge(), + and sum() add two of them (False: IncompatibleError saying why);
    - sums: state vectors add (False: unsummable_reason() says why, the protocol refuses);
    - commutes: a + b equals b + a (False where order is documented to matter: labels="auto"
      with labels that do not sort keeps self's labels first);
    - associates: (a + b) + c equals a + (b + c) (False for an exact table that compacts: the
      groups it keeps depend on the order of merges; the counts at each kept score stay exact,
      which the parity check sees).
    """

    name: str
    make: Callable[[], Any]
    batches: str
    reference: str
    merges: bool = True
    sums: bool = True
    commutes: bool = True
    associates: bool = True

    def __repr__(self) -> str:
        return self.name


C = Configuration
# Windows over samples or updates have no common clock across workers; exact tables hold scores.
LOCAL = {"merges": False, "sums": False}
TABLE = {"sums": False}

# Every accumulator, option and wrapper, once. A new class, option or storage is one more line:
# a storage of counts (issue 15: device="cpu" torch tensors) would be, for instance,
#     C("binary-bins-torch", lambda: Binary(bins=8, device="cpu"), "scores", "binary"),
# and every contract check (tests/test_contract.py) then runs on it.
CONFIGURATIONS: tuple[Configuration, ...] = (
    # Binary: threshold, pos_label, score_range, bins, exact tables, bootstrap, weights
    C("binary", lambda: Binary(), "scores", "binary"),
    C("binary-labels", lambda: Binary(), "labels", "binary"),
    C("binary-weighted", lambda: Binary(weighted=True), "scores", "binary"),
    C("binary-threshold", lambda: Binary(threshold=0.3, inclusive=False), "scores", "binary"),
    C("binary-pos-label-0", lambda: Binary(pos_label=0), "labels", "binary"),
    C("binary-spam", lambda: Binary(pos_label="spam"), "text", "binary"),
    C("binary-spam-weighted", lambda: Binary(pos_label="spam", weighted=True), "text", "binary"),
    C("binary-logits", lambda: Binary(0.0, score_range=(-10, 10)), "scores", "binary"),
    C("binary-bins", lambda: Binary(bins=8), "scores", "binary"),
    C("binary-bins-weighted", lambda: Binary(bins=[0.2, 0.5, 0.7], weighted=True), "scores", "binary"),
    C("binary-bins-range", lambda: Binary(0.0, bins=8, score_range=(-2, 2)), "scores", "binary"),
    C("binary-bins-threshold", lambda: Binary(0.3, bins=8), "scores", "binary"),
    C("binary-bins-strict", lambda: Binary(bins=[0.05, 0.2, 0.5, 0.7, 0.99], inclusive=False), "scores", "binary"),
    C("binary-bins-strict-weighted", lambda: Binary(bins=[0.05, 0.2, 0.5, 0.7, 0.99], inclusive=False, weighted=True),
      "scores", "binary"),
    C("binary-exact", lambda: Binary(exact=True), "scores", "binary", **TABLE),
    C("binary-exact-weighted", lambda: Binary(exact=True, weighted=True), "scores", "binary", **TABLE),
    C("binary-exact-compacting", lambda: Binary(exact=True, max_distinct=6), "scores", "binary", associates=False,
      **TABLE),
    C("binary-exact-compacting-weighted", lambda: Binary(exact=True, max_distinct=6, weighted=True), "scores", "binary",
      associates=False, **TABLE),
    C("binary-bootstrap", lambda: Binary(bootstrap=3, seed=1), "scores", "binary"),
    C("binary-from-logits", lambda: Binary(from_logits=True), "scores", "binary"),
    C("binary-from-logits-bins", lambda: Binary(0.3, bins=8, from_logits=True, weighted=True), "scores", "binary"),
    C("binary-bins-bootstrap", lambda: Binary(bins=4, bootstrap=3, seed=1), "scores", "binary"),
    # unlabelled=True (issue 17): labelled streams counted as before, with the prediction-side arrays declared
    C("binary-bins-unlabelled", lambda: Binary(bins=8, unlabelled=True), "scores", "binary"),
    C("binary-unlabelled-weighted", lambda: Binary(weighted=True, unlabelled=True), "scores", "binary"),
    C("multiclass-bins-unlabelled", lambda: Multiclass(3, bins=5, unlabelled=True), "matrix", "multiclass"),
    C("multilabel-unlabelled", lambda: Multilabel(3, unlabelled=True), "multilabel", "multilabel"),
    C("binary-exact-bootstrap", lambda: Binary(exact=True, bootstrap=3, seed=1), "scores", "binary", **TABLE),
    C("binary-ignore", lambda: Binary(ignore_index=-100), "scores", "binary"),
    C("binary-ignore-labels", lambda: Binary(ignore_index=-1, weighted=True), "labels", "binary"),
    C("binary-ignore-spam", lambda: Binary(pos_label="spam", ignore_index=-100), "text", "binary"),
    C("binary-ignore-bins-bootstrap", lambda: Binary(bins=8, ignore_index=-100, bootstrap=3, seed=1), "scores",
      "binary"),
    C("binary-ignore-exact", lambda: Binary(exact=True, ignore_index=-100), "scores", "binary",
      **TABLE),
    # Multiclass: num_classes, labels, ignore_index, scores, bins, top_k, bootstrap, labels="auto"
    C("multiclass", lambda: Multiclass(3), "classes", "multiclass"),
    C("multiclass-5", lambda: Multiclass(5), "classes", "multiclass"),
    C("multiclass-weighted", lambda: Multiclass(5, weighted=True), "classes", "multiclass"),
    C("multiclass-ignore", lambda: Multiclass(5, ignore_index=-100), "classes", "multiclass"),
    C("multiclass-labels", lambda: Multiclass(labels=[10, 20, 30]), "classes", "multiclass"),
    C("multiclass-str-labels", lambda: Multiclass(labels=["a", "b", "c"]), "classes", "multiclass"),
    C("multiclass-two-labels", lambda: Multiclass(labels=["a", "b"]), "classes", "multiclass"),
    C("multiclass-int-labels", lambda: Multiclass(labels=[10, 3, 7]), "classes", "multiclass"),
    C("multiclass-int-labels-weighted", lambda: Multiclass(labels=[10, 3, 7], weighted=True), "classes", "multiclass"),
    C("multiclass-scores", lambda: Multiclass(3), "matrix", "multiclass"),
    C("multiclass-bins", lambda: Multiclass(3, bins=5), "matrix", "multiclass"),
    C("multiclass-bins-simplex", lambda: Multiclass(4, bins=8), "matrix", "multiclass"),
    C("multiclass-bins-weighted", lambda: Multiclass(3, bins=[0.3, 0.6], weighted=True), "matrix", "multiclass"),
    C("multiclass-top-k", lambda: Multiclass(3, top_k=2), "matrix", "multiclass"),
    C("multiclass-top-k-weighted", lambda: Multiclass(4, top_k=3, weighted=True), "matrix", "multiclass"),
    C("multiclass-bins-top-k", lambda: Multiclass(labels=["a", "b", "c", "d"], bins=[0.1, 0.4, 0.6], top_k=2),
      "matrix", "multiclass"),
    C("multiclass-bins-top-k-weighted",
      lambda: Multiclass(labels=["a", "b", "c", "d"], bins=[0.1, 0.4, 0.6], top_k=2, weighted=True), "matrix",
      "multiclass"),
    C("multiclass-bootstrap", lambda: Multiclass(3, bootstrap=3, seed=1), "classes", "multiclass"),
    C("multiclass-from-logits", lambda: Multiclass(3, from_logits=True, ignore_index=-100), "matrix", "multiclass"),
    C("multiclass-from-logits-bins", lambda: Multiclass(4, bins=8, top_k=2, from_logits=True), "matrix", "multiclass"),
    C("multiclass-bins-bootstrap", lambda: Multiclass(3, bins=5, bootstrap=3, seed=1), "matrix", "multiclass"),
    C("multiclass-auto", lambda: Multiclass(labels="auto"), "auto", "multiclass"),
    C("multiclass-auto-weighted", lambda: Multiclass(labels="auto", weighted=True, ignore_index="pad"), "auto",
      "multiclass"),
    C("multiclass-auto-bootstrap", lambda: Multiclass(labels="auto", bootstrap=3, seed=1, max_labels=4), "auto",
      "multiclass"),
    C("multiclass-auto-mixed", lambda: Multiclass(labels="auto"), "auto-mixed", "multiclass", commutes=False),
    # Multilabel: threshold, bins, bootstrap, weights
    C("multilabel", lambda: Multilabel(4), "multilabel", "multilabel"),
    C("multilabel-weighted", lambda: Multilabel(4, weighted=True), "multilabel", "multilabel"),
    C("multilabel-threshold", lambda: Multilabel(3, threshold=0.25, inclusive=False), "multilabel", "multilabel"),
    C("multilabel-bins", lambda: Multilabel(3, bins=6), "multilabel", "multilabel"),
    C("multilabel-bins-weighted", lambda: Multilabel(3, bins=[0.25, 0.5], weighted=True), "multilabel", "multilabel"),
    C("multilabel-bins-strict", lambda: Multilabel(4, bins=[0.0, 0.33, 0.5, 1.0], inclusive=False), "multilabel",
      "multilabel"),
    C("multilabel-bins-range", lambda: Multilabel(2, 0.0, bins=4, score_range=(-1, 1)), "multilabel", "multilabel"),
    C("multilabel-bootstrap", lambda: Multilabel(3, bootstrap=3, seed=1), "multilabel", "multilabel"),
    C("multilabel-bins-bootstrap", lambda: Multilabel(3, bins=4, bootstrap=3, seed=1), "multilabel", "multilabel"),
    C("multilabel-from-logits-bins", lambda: Multilabel(3, bins=6, from_logits=True, weighted=True), "multilabel",
      "multilabel"),
    # (the contract's multilabel reference is per row: its streams hold no ignored entry; the entries
    # ignored are checked against scikit-learn label by label in tests/test_ignore_index.py)
    C("multilabel-ignore", lambda: Multilabel(3, ignore_index=-100), "multilabel", "multilabel"),
    C("multilabel-ignore-bins-bootstrap", lambda: Multilabel(3, bins=4, ignore_index=-100, bootstrap=3, seed=1),
      "multilabel", "multilabel"),
    # Counts on a torch device (device="cpu": the torch ops a GPU runs), validate="eager" so that the
    # contract's bad batches raise at the update as on the host (the deferred contract: test_device.py)
    C("binary[device]", lambda: Binary(device="cpu", validate="eager"), "scores", "binary"),
    C("binary-bins-weighted[device]", lambda: Binary(0.3, bins=8, weighted=True, device="cpu", validate="eager"),
      "scores", "binary"),
    C("binary-from-logits-bins[device]", lambda: Binary(bins=8, from_logits=True, device="cpu", validate="eager"),
      "scores", "binary"),
    C("multiclass[device]", lambda: Multiclass(3, device="cpu", validate="eager"), "classes", "multiclass"),
    C("multiclass-int-labels-weighted[device]",
      lambda: Multiclass(labels=[10, 3, 7], weighted=True, ignore_index=-100, device="cpu", validate="eager"),
      "classes", "multiclass"),
    C("multiclass-bins-top-k[device]", lambda: Multiclass(4, bins=[0.1, 0.4, 0.6], top_k=2, device="cpu",
                                                          validate="eager"), "matrix", "multiclass"),
    C("multiclass-from-logits-bins[device]",
      lambda: Multiclass(4, bins=8, top_k=2, from_logits=True, weighted=True, device="cpu", validate="eager"),
      "matrix", "multiclass"),
    C("multilabel-bins-strict[device]",
      lambda: Multilabel(4, bins=[0.0, 0.33, 0.5, 1.0], inclusive=False, device="cpu", validate="eager"),
      "multilabel", "multilabel"),
    C("multilabel-from-logits-bins[device]",
      lambda: Multilabel(3, bins=6, from_logits=True, weighted=True, device="cpu", validate="eager"), "multilabel",
      "multilabel"),
    # Windowed: samples, updates, seconds
    C("windowed-samples-multiclass", lambda: Windowed(Multiclass(3), 8, buckets=4), "classes", "multiclass", **LOCAL),
    C("windowed-samples-binary-bins-weighted", lambda: Windowed(Binary(weighted=True, bins=4), 12, buckets=3), "scores",
      "binary", **LOCAL),
    C("windowed-samples-text-ignore", lambda: Windowed(Multiclass(labels=["cat", "dog", "fox"], ignore_index="pad"), 4,
                                                       buckets=2), "classes", "multiclass", **LOCAL),
    C("windowed-samples-multilabel-bins", lambda: Windowed(Multilabel(3, bins=5), 12, buckets=4, step=6), "multilabel",
      "multilabel", **LOCAL),
    C("windowed-samples-binary-ignore", lambda: Windowed(Binary(bins=4, ignore_index=-100), 12, buckets=3), "scores",
      "binary", **LOCAL),
    C("windowed-samples-binary-bootstrap", lambda: Windowed(Binary(bootstrap=3, seed=1), 6, buckets=3), "scores",
      "binary", **LOCAL),
    C("windowed-updates-binary-weighted", lambda: Windowed(Binary(weighted=True), 4, unit="updates", step=2), "scores",
      "binary", **LOCAL),
    C("windowed-updates-multiclass-top-k", lambda: Windowed(Multiclass(3, top_k=2), 6, unit="updates", buckets=3),
      "matrix", "multiclass", **LOCAL),
    C("windowed-seconds-binary-bins-weighted",
      lambda: Windowed(Binary(weighted=True, bins=[0.2, 0.7]), 30.0, unit="seconds", buckets=6, step=10.0), "scores",
      "binary"),
    C("windowed-seconds-multiclass", lambda: Windowed(Multiclass(4), 120, unit="seconds", buckets=4), "classes",
      "multiclass"),
    C("windowed-seconds-multilabel-weighted", lambda: Windowed(Multilabel(3, weighted=True), 60, unit="seconds",
                                                               buckets=3), "multilabel", "multilabel"),
    # Decayed: samples, updates, seconds
    C("decayed-samples-binary-bins", lambda: Decayed(Binary(weighted=True, bins=3), 5.0), "scores", "binary", **LOCAL),
    C("decayed-samples-text-ignore", lambda: Decayed(Multiclass(labels=["a", "b", "c"], ignore_index="pad"), 4.0),
      "classes", "multiclass", **LOCAL),
    C("decayed-updates-binary-weighted", lambda: Decayed(Binary(weighted=True), 2.0, unit="updates"), "scores",
      "binary", **LOCAL),
    C("decayed-updates-multilabel", lambda: Decayed(Multilabel(3), 3.0, unit="updates"), "multilabel", "multilabel",
      **LOCAL),
    C("decayed-seconds-binary-weighted", lambda: Decayed(Binary(weighted=True), 20.0, unit="seconds"), "scores",
      "binary"),
    C("decayed-seconds-multiclass-bins", lambda: Decayed(Multiclass(4, bins=8), 60, unit="seconds"), "matrix",
      "multiclass"),
)

REGISTRY: dict[str, Configuration] = {c.name: c for c in CONFIGURATIONS}
assert len(REGISTRY) == len(CONFIGURATIONS), "configuration names must be unique"


def select(*names: str, where: Callable[[Configuration], bool] | None = None) -> list[Configuration]:
    """The registered configurations named (in that order; all when none is named) that pass where."""
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise KeyError(f"no registered configuration named {unknown}: see CONFIGURATIONS in tests/helpers.py")
    chosen = [REGISTRY[name] for name in names] if names else list(CONFIGURATIONS)
    return [c for c in chosen if where is None or where(c)]


# Views of the registry by what a configuration is (each a predicate, for select(where=...) and
# @pytest.mark.configs(where=...)): a new registered line joins every view it belongs to.


def is_plain(configuration: Configuration) -> bool:
    """An accumulator itself (Binary, Multiclass, Multilabel), not a wrapper of one."""
    return layout_of(configuration.make()).wrapper is None


def keeps_scores(configuration: Configuration) -> bool:
    """A plain accumulator with a score state: histograms (bins), an exact table or top-k counts."""
    layout = layout_of(configuration.make())
    config = layout.config
    return layout.wrapper is None and (layout.bins is not None or bool(config.get("exact")) or
                                       config.get("top_k") is not None)


def is_replicated(configuration: Configuration) -> bool:
    """A plain accumulator that keeps bootstrap replicates."""
    layout = layout_of(configuration.make())
    return layout.wrapper is None and "bootstrap" in layout.config


def reads_probabilities(configuration: Configuration) -> bool:
    """A plain accumulator that refuses scores outside [0, 1] (see _reads_probabilities)."""
    layout = layout_of(configuration.make())
    return layout.wrapper is None and _reads_probabilities(layout)


def plain() -> list[Configuration]:
    return select(where=is_plain)


def scored() -> list[Configuration]:
    return select(where=keeps_scores)


def replicated() -> list[Configuration]:
    return select(where=is_replicated)


def remade(acc, **changes):
    """A fresh, empty plain accumulator of acc's class and configuration, with changes (through the
    constructor, which takes the keys to_dict() gives): its weighted twin, another bootstrap..."""
    layout = layout_of(acc)
    if layout.wrapper is not None:
        raise TypeError(f"remade() rebuilds plain accumulators, not a {layout.wrapper}")
    return type(acc)(**{**layout.config, **changes})


def twin(configuration: Configuration, **changes) -> Configuration:
    """A registered plain configuration with changes (e.g. weighted=True): a derived test case,
    named after its original; not a registry entry, so the contract suite does not run it."""
    suffix = "-".join(f"{key}={value}" for key, value in changes.items())
    return Configuration(f"{configuration.name}[{suffix}]", lambda: remade(configuration.make(), **changes),
                         configuration.batches, configuration.reference, configuration.merges, configuration.sums,
                         configuration.commutes, configuration.associates)


# --- what an object counts, read from its to_dict() -------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """An accumulator's kind and configuration; for a wrapper, the wrapped one's and the wrapper's."""

    kind: str  # "Binary", "Multiclass" or "Multilabel"
    config: dict
    wrapper: str | None = None  # "Windowed" or "Decayed"
    window: dict = field(default_factory=dict)  # the wrapper's configuration

    @property
    def weighted(self) -> bool:
        """Whether update() takes sample_weight (a Decayed takes it when its template does)."""
        return bool(self.config["weighted"])

    @property
    def unit(self) -> str | None:
        return self.window.get("unit")

    @property
    def timed(self) -> bool:
        return self.unit == "seconds"

    @property
    def integer_counts(self) -> bool:
        """Counts are integers, so metrics equal scikit-learn's exactly."""
        return not self.weighted and self.wrapper != "Decayed"

    @property
    def score_range(self) -> tuple[float, float]:
        return tuple(self.config.get("score_range", (0.0, 1.0)))

    @property
    def bins(self):
        return self.config.get("bins")

    def _replace_config(self, **changes) -> Layout:
        return Layout(self.kind, {**self.config, **changes}, self.wrapper, self.window)


def layout_of(obj) -> Layout:
    described = obj.to_dict()
    if described["kind"] in ("Windowed", "Decayed"):
        inner = described["config"]["accumulator"]
        window = {k: v for k, v in described["config"].items() if k != "accumulator"}
        return Layout(inner["kind"], inner["config"], described["kind"], window)
    return Layout(described["kind"], described["config"])


# --- streams ---------------------------------------------------------------------------------------


class Batch(NamedTuple):
    y_true: Any
    y_pred: Any
    sample_weight: Any = None
    timestamp: float | None = None

    def feed(self, acc) -> None:
        extra = {} if self.timestamp is None else {"timestamp": self.timestamp}
        acc.update(self.y_true, self.y_pred, self.sample_weight, **extra)


def binary_pool(config: dict) -> list:
    """[negative, positive]: the two labels a Binary's batches hold."""
    pos = config["pos_label"]
    if isinstance(pos, str):
        return ["ham" if pos != "ham" else "spam", pos]
    return [1 - pos if pos in (0, 1) else pos + 1, pos]


AUTO_LABELS = ["x", "y", "z"]
MIXED_LABELS = [2, "b", "a"]  # an int among strings: no order, labels keep their order of arrival


def class_labels(layout: Layout) -> list:
    """The fixed classes of a Multiclass, in order ([] for labels="auto": none is fixed)."""
    config = layout.config
    if config["labels"] == "auto":
        return []
    return list(range(config["num_classes"])) if config["labels"] is None else list(config["labels"])


def cell_scores(layout: Layout) -> np.ndarray:
    """Scores to draw from: with bins, one per histogram cell (its midpoint), so binned curves
    equal scikit-learn's; otherwise a grid of the range with the threshold on it (ties).
    from_logits=True: the logits of those probabilities (of the open ones: 0 and 1 have none)."""
    values = _cell_probabilities(layout)
    if not layout.config.get("from_logits"):
        return values
    values = values[(values > 0) & (values < 1)]
    return np.log(values) - np.log1p(-values)


def _cell_probabilities(layout: Layout) -> np.ndarray:
    lo, hi = layout.score_range
    bins = layout.bins
    probabilities = (lo, hi) == (0.0, 1.0)
    if bins is None:
        grid = lo + (hi - lo) * np.arange(9) / 8
        return np.unique(np.r_[grid, layout.config.get("threshold", 0.5)])
    edges = np.linspace(lo, hi, bins + 1) if isinstance(bins, int) else np.asarray(bins, dtype=np.float64)
    cells = list((edges[:-1] + edges[1:]) / 2)
    # the edge cells: below the first edge and above the last (out of range for uniform bins)
    below, above = (edges[0] / 2, (edges[-1] + 1) / 2) if probabilities else (edges[0] - 0.5, edges[-1] + 0.5)
    if not probabilities or edges[0] > 0:
        cells.insert(0, below)
    if not probabilities or edges[-1] < 1:
        cells.append(above)
    return np.array(cells)


def _with_ignored(y: list, layout: Layout, rng) -> list:
    ignore = layout.config.get("ignore_index")
    if ignore is None:
        return y
    return [ignore if r < 0.15 else v for v, r in zip(y, rng.random(len(y)))]


def _labels_array(values: list) -> np.ndarray:
    if any(isinstance(v, str) for v in values) and not all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)  # numpy would make 2 the string "2"
    return np.array(values) if values else np.zeros(0, dtype=np.int64)


def _draw(layout: Layout, kind: str, rng, n: int) -> tuple:
    """(y_true, y_pred) of n samples of an input kind."""
    if kind in ("scores", "labels", "text"):
        pool = binary_pool(layout.config)
        y_true = _labels_array(_with_ignored([pool[i] for i in rng.integers(0, 2, n)], layout, rng))
        if kind == "scores":
            values = cell_scores(layout)
            scores = values[rng.integers(0, len(values), n)]
            if layout.config.get("exact") and rng.random() < 0.5:  # continuous scores too: few ties
                scores = np.round(rng.random(n) * (values[-1] - values[0]) + values[0], 3)
            return y_true, scores
        return y_true, _labels_array([pool[i] for i in rng.integers(0, 2, n)])
    if kind in ("classes", "matrix", "auto", "auto-mixed"):
        labels = MIXED_LABELS if kind == "auto-mixed" else AUTO_LABELS if kind == "auto" else class_labels(layout)
        y_true = _labels_array(_with_ignored([labels[i] for i in rng.integers(0, len(labels), n)], layout, rng))
        if kind != "matrix":
            return y_true, _labels_array([labels[i] for i in rng.integers(0, len(labels), n)])
        k = len(labels)
        if layout.bins is None:
            return y_true, rng.integers(0, 4, (n, k)).astype(np.float64)  # small integers: ties
        if isinstance(layout.bins, int) and k % 2 == 0 and layout.score_range == (0.0, 1.0):
            # rows of bin midpoints (a + 1/2) / bins summing to 1: probabilities for Brier and log loss
            parts = rng.multinomial(layout.bins - k // 2, np.ones(k) / k, size=n)
            probabilities = (parts + 0.5) / layout.bins
            return y_true, np.log(probabilities) if layout.config.get("from_logits") else probabilities
        values = cell_scores(layout)
        return y_true, values[rng.integers(0, len(values), (n, k))]
    if kind == "multilabel":
        shape = (n, layout.config["num_labels"])
        y_true = rng.integers(0, 2, shape)
        if layout.bins is None and rng.random() < 0.4:
            return y_true, rng.integers(0, 2, shape)
        values = cell_scores(layout)
        return y_true, values[rng.integers(0, len(values), shape)]
    raise ValueError(f"unknown input kind {kind!r}")


BATCH_KINDS = ("scores", "labels", "text", "classes", "matrix", "auto", "auto-mixed", "multilabel")
WEIGHTS = np.array([0.0, 0.5, 1.0, 2.0, 2.5])  # dyadic: sums of a few are exact in any order
START = 1000.0  # the first timestamp of a timed stream (epoch seconds, on a quarter-second grid)


def draw_stream(layout: Layout, kind: str, rng, sizes: list[int], start: float = START) -> list[Batch]:
    """Batches of the given sizes: weights where the accumulator takes them (sometimes none:
    weight 1), and non-decreasing timestamps on a quarter-second grid where it counts seconds."""
    span = layout.window.get("size", layout.window.get("half_life", 1.0))
    batches, t = [], start
    for n in sizes:
        y_true, y_pred = _draw(layout, kind, rng, n)
        weights = None
        if layout.weighted and rng.random() < 0.8:
            weights = WEIGHTS[rng.choice(5, n, p=[0.1, 0.2, 0.3, 0.2, 0.2])]
        timestamp = None
        if layout.timed:
            timestamp = t
            t += float(rng.integers(0, int(4 * span / 2) + 1)) / 4
        batches.append(Batch(y_true, y_pred, weights, timestamp))
    return batches


# --- a stream in scikit-learn's terms -----------------------------------------------------------------


@dataclass
class Samples:
    """The samples an object covers, as scikit-learn takes them.

    Binary: y_true, y_pred as 0/1 (positive = pos_label), scores (or None). Multiclass: the raw
    labels (ignored samples dropped), scores (N, K) or None. Multilabel: (N, L) indicators and
    predictions at the threshold, scores or None. weight: per-sample weights (None: all 1).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray | None
    weight: np.ndarray | None
    labels: list | None = None  # Multiclass: the classes in scikit-learn's order (by the documented rules)

    @property
    def total(self) -> float:
        return float(len(self.y_true) if self.weight is None else self.weight.sum())


def _positive(values, config: dict) -> np.ndarray:
    """A Binary's reading: float scores are positive at the threshold, labels when they are pos_label."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        t = config["threshold"]
        return (values >= t) if config["inclusive"] else (values > t)
    return np.array([v == config["pos_label"] for v in values.tolist()], dtype=bool)


def _sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _softmax(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _reference_rows(layout: Layout, batch: Batch) -> dict:
    """One batch, row by row: what each sample means, and the rows that count (not ignored).
    from_logits=True: the sigmoid (softmax) of the logits, and the argmax of the logits."""
    config = layout.config
    if config.get("from_logits") and np.asarray(batch.y_pred).dtype.kind == "f":
        logits = np.asarray(batch.y_pred)
        if layout.kind == "Multiclass":
            rows = _reference_rows(layout._replace_config(from_logits=False), batch._replace(y_pred=logits.argmax(1)))
            # rounded to 12 decimals: equal probabilities drawn in two rows stay tied (a row's own
            # max and sum of exp would part them by an ulp, which a bin cannot see)
            rows["scores"] = np.round(_softmax(logits), 12) if len(logits) else np.zeros((0, logits.shape[1]))
            return rows
        return _reference_rows(layout._replace_config(from_logits=False), batch._replace(y_pred=_sigmoid(logits)))
    n = len(batch.y_true)
    weight = np.ones(n) if batch.sample_weight is None else np.asarray(batch.sample_weight, dtype=np.float64)
    if layout.kind == "Binary":
        scored = np.asarray(batch.y_pred).dtype.kind == "f"
        ignore = config.get("ignore_index")
        keep = np.array([ignore is None or v != ignore for v in list(batch.y_true)], dtype=bool)
        return {"y_true": _positive(batch.y_true, config).astype(np.int64),
                "y_pred": _positive(batch.y_pred, config).astype(np.int64),
                "scores": np.asarray(batch.y_pred, dtype=np.float64) if scored else None,
                "weight": weight, "keep": keep}
    if layout.kind == "Multiclass":
        y_true = list(batch.y_true)
        keep = np.array([v != config.get("ignore_index") for v in y_true], dtype=bool) if n else np.ones(0, bool)
        y_pred = np.asarray(batch.y_pred)
        scores = None
        if y_pred.ndim == 2:
            scores = y_pred.astype(np.float64)
            classes = class_labels(layout)
            y_pred = [classes[i] for i in np.argmax(scores, axis=1)]
        return {"y_true": _labels_array(y_true), "y_pred": _labels_array(list(y_pred)), "scores": scores,
                "weight": weight, "keep": keep}
    y_pred = np.asarray(batch.y_pred)
    scored = y_pred.dtype.kind == "f"
    t = config["threshold"]
    predicted = ((y_pred >= t) if config["inclusive"] else (y_pred > t)) if scored else y_pred.astype(bool)
    return {"y_true": np.asarray(batch.y_true).astype(np.int64), "y_pred": predicted.astype(np.int64),
            "scores": y_pred.astype(np.float64) if scored else None, "weight": weight, "keep": np.ones(n, dtype=bool)}


def _coverage(layout: Layout, batches: list[Batch]) -> list[np.ndarray]:
    """Per batch, the factor of each of its samples (1 plain; 0 or 1 in a window; the decay)."""
    sizes = [len(b.y_true) for b in batches]
    if layout.wrapper is None:
        return [np.ones(n) for n in sizes]
    unit = layout.unit
    if unit == "samples":
        position = np.arange(sum(sizes), dtype=np.float64)
        now = sum(sizes)
    elif unit == "updates":
        position = np.repeat(np.arange(len(batches), dtype=np.float64), sizes)
        now = len(batches)
    else:
        position = np.repeat(np.array([b.timestamp for b in batches], dtype=np.float64), sizes)
        now = max((b.timestamp for b in batches), default=0.0)
    if layout.wrapper == "Windowed":
        size, step = layout.window["size"], layout.window["step"]
        if unit == "seconds":  # samples of time in [(floor(T / step) + 1) * step - size, T]
            start = (math.floor(now / step) + 1) * step - size if batches else 0.0
        else:  # units of index in [ceil(n / step) * step - size, n)
            start = max(0, -(-now // step) * step - size)
        factor = (position >= start).astype(np.float64)
    else:
        h = layout.window["half_life"]
        age = (now - 1 - position) if unit != "seconds" else (now - position)
        factor = 0.5 ** (age / h)
    return np.split(factor, np.cumsum(sizes)[:-1]) if sizes else []


def samples_of(layout: Layout, batches: list[Batch]) -> Samples:
    """What an object fed these batches covers, by the documented definitions (merged workers:
    the whole stream, in time order)."""
    if not batches:
        empty = np.zeros((0, layout.config["num_labels"]) if layout.kind == "Multilabel" else 0, dtype=np.int64)
        batches = [Batch(empty, empty, None, None)]
    rows = [_reference_rows(layout, b) for b in batches]
    factor = np.concatenate(_coverage(layout, batches))
    keep = np.concatenate([r["keep"] for r in rows])
    if layout.wrapper == "Windowed":
        keep &= factor > 0
    weight = None
    if layout.weighted or layout.wrapper == "Decayed":
        weight = (np.concatenate([r["weight"] for r in rows]) * factor)[keep]

    def joined(name):
        parts = [r[name] for r in rows]
        if any(p is None for p in parts):
            return None
        if layout.kind == "Multiclass" and name != "scores":
            return _labels_array([v for p in parts for v in p.tolist()])[keep]
        return np.concatenate(parts)[keep]

    samples = Samples(joined("y_true"), joined("y_pred"), joined("scores"), weight)
    if layout.kind == "Multiclass":
        samples.labels = _class_order(layout, samples)
    return samples


def _class_order(layout: Layout, samples: Samples) -> list | None:
    """Fixed classes as given; labels="auto": sorted when they sort, else None (arrival order,
    which merges may change: the test reads it from the object)."""
    if layout.config["labels"] != "auto":
        return class_labels(layout)
    seen = {*samples.y_true.tolist(), *samples.y_pred.tolist()}
    try:
        return sorted(seen)
    except TypeError:
        return None


# --- bad batches ------------------------------------------------------------------------------------


class BadBatch(NamedTuple):
    name: str
    batch: Batch
    error: type  # the exception expected
    argument: str | None  # the argument its message must name


def _replaced(values, index, value) -> np.ndarray:
    """A copy of values with values[index] = value, in a dtype that holds it as it is."""
    out = np.array(values)
    if out.dtype.kind in "USO" or isinstance(value, (str, list)) or value is None:
        out = out.astype(object)
    elif out.dtype.kind in "iub" and isinstance(value, float):
        out = out.astype(np.float64)
    out[index] = value
    return out


def _reads_probabilities(layout: Layout) -> bool:
    """Scores are checked to lie in [0, 1]: the default score_range, and bins kept (or, for
    Binary and Multilabel, a threshold inside (0, 1))."""
    if layout.score_range != (0.0, 1.0) or layout.config.get("from_logits"):
        return False
    return layout.bins is not None or layout.kind != "Multiclass" and 0 < layout.config["threshold"] < 1


def _not_a_class(layout: Layout, kind: str):
    """A label that is no class of the accumulator (None where every label is one: auto)."""
    if layout.kind == "Binary":
        return "eggs" if kind == "text" else 7
    if kind in ("auto", "auto-mixed", "multilabel"):
        return None
    labels = class_labels(layout)
    return "zzz" if all(isinstance(c, str) for c in labels) else max(labels) + 1


def bad_batches(layout: Layout, kind: str, good: Batch) -> list[BadBatch]:
    """Batches that must be refused whole, each with its error and the argument it names.

    good: a valid batch of at least 4 samples; each case spoils it at sample 3 (or cell [3, 1])."""
    y, p, w, t = good
    n = len(y)
    ignore = layout.config.get("ignore_index")
    # an ignored sample's prediction is never read: count sample 3 (Multilabel's streams hold no ignored entry)
    if ignore is not None and layout.kind != "Multilabel" and y[3] == ignore:
        y = _replaced(y, 3, binary_pool(layout.config)[0] if layout.kind == "Binary" else AUTO_LABELS[0]
                      if layout.config["labels"] == "auto" else class_labels(layout)[0])
        if np.asarray(good.y_true).dtype.kind != "O":
            y = y.astype(np.asarray(good.y_true).dtype)
    if ignore is not None and layout.kind == "Binary":  # both labels counted: a third one is then refused
        dtype = np.asarray(y).dtype
        for i, label in enumerate(binary_pool(layout.config)):
            y = _replaced(y, i, label)
        if dtype.kind != "O":
            y = y.astype(dtype)
    two_d = np.ndim(p) == 2
    at = (3, 1) if two_d else 3
    cases = [
        BadBatch("short y_pred", Batch(y, p[: n - 1], w, t), ValueError, "y_pred"),
        BadBatch("y_pred 3-d", Batch(y, np.asarray(p)[:, None], w, t), ValueError, "y_pred"),
        BadBatch("y_true 3-d", Batch(np.asarray(y)[:, None, None], p, w, t), ValueError, "y_true"),
    ]
    wrong = _not_a_class(layout, kind)
    # Binary(pos_label=...) refuses a third label as a fault of the batch, not of one argument
    names = (lambda argument: None) if layout.kind == "Binary" and layout.config["pos_label"] != 1 else (lambda a: a)
    if wrong is not None:
        spoilt = Batch(_replaced(y, 3, wrong), p, w, t)
        cases.append(BadBatch("y_true not a class", spoilt, ValueError, names("y_true")))
        if kind not in ("scores", "matrix"):
            spoilt = Batch(y, _replaced(p, 3, wrong), w, t)
            cases.append(BadBatch("y_pred not a class", spoilt, ValueError, names("y_pred")))
    if kind in ("scores", "labels", "classes", "matrix", "text", "auto", "auto-mixed"):
        cases.append(BadBatch("y_true missing", Batch(_replaced(y, 3, None), p, w, t), ValueError, "y_true"))
    if kind in ("labels", "classes", "text", "auto", "auto-mixed"):
        cases.append(BadBatch("y_pred missing", Batch(y, _replaced(p, 3, float("nan")), w, t), ValueError, "y_pred"))
    if kind in ("auto", "auto-mixed"):
        cases.append(BadBatch("y_pred unhashable", Batch(y, _replaced(p, 3, [1]), w, t), TypeError, "y_pred"))
        limit = layout.config.get("max_labels")
        if limit is not None:
            many = _labels_array([f"new-{i}" for i in range(n)])
            cases.append(BadBatch("more than max_labels", Batch(y, many, w, t), ValueError, "max_labels"))
    if kind in ("scores", "matrix", "multilabel") and np.asarray(p).dtype.kind == "f":
        for value in (float("nan"), float("inf")):
            cases.append(BadBatch(f"score {value}", Batch(y, _replaced(p, at, value), w, t), ValueError, "y_pred"))
        if _reads_probabilities(layout):
            cases.append(BadBatch("score past 1", Batch(y, _replaced(p, at, 1.5), w, t), ValueError, "y_pred"))
        if layout.bins is not None or layout.config.get("exact"):  # a score state needs float scores
            integers = Batch(y, (np.asarray(p) > 0.5).astype(int), w, t)
            cases.append(BadBatch("integer scores", integers, TypeError, "y_pred"))
    if kind == "matrix":
        cases.append(BadBatch("a column short", Batch(y, np.asarray(p)[:, :-1], w, t), ValueError, "y_pred"))
    if kind == "multilabel":
        cases.append(BadBatch("a label short", Batch(np.asarray(y)[:, :-1], p, w, t), ValueError, "y_true"))
        cases.append(BadBatch("y_true 2", Batch(_replaced(y, (3, 1), 2), p, w, t), ValueError, "y_true"))
    if layout.config.get("exact") and layout.config.get("max_distinct", 10**6) < n + 4:
        many = np.linspace(0.01, 0.99, layout.config["max_distinct"] + 3)
        pool = binary_pool(layout.config)
        labels = _labels_array([pool[i % 2] for i in range(len(many))])
        weights = None if w is None else np.ones(len(many))
        cases.append(BadBatch("compaction warning", Batch(labels, many, weights, t), UserWarning, "max_distinct"))
    if layout.weighted:
        ones = np.ones(n) if w is None else w
        for value in (-2.0, float("nan"), float("inf")):
            cases.append(BadBatch(f"weight {value}", Batch(y, p, _replaced(ones, 3, value), t), ValueError,
                                  "sample_weight"))
        cases.append(BadBatch("weights short", Batch(y, p, np.ones(n - 1), t), ValueError, "sample_weight"))
        cases.append(BadBatch("weights sum past float64", Batch(y, p, np.full(n, 1e308), t), OverflowError, None))
        if layout.config.get("exact"):  # one score, one class: an exact table adds their weights first
            tied = Batch(_labels_array([binary_pool(layout.config)[1]] * n), np.full(n, 0.25), np.full(n, 1e308), t)
            cases.append(BadBatch("tied weights past float64", tied, OverflowError, None))
    else:
        cases.append(BadBatch("weights unweighted", Batch(y, p, np.ones(n), t), ValueError, "sample_weight"))
    if layout.timed:
        for value in (float("nan"), float("inf"), "soon"):
            cases.append(BadBatch(f"timestamp {value}", Batch(y, p, w, value), ValueError, "timestamp"))
        late = layout.window.get("size", 0.0) * 2 + 10
        if layout.wrapper == "Windowed":
            cases.append(BadBatch("timestamp late", Batch(y, p, w, t - late), ValueError, "timestamp"))
        cases.append(BadBatch("timestamp past max_skew", Batch(y, p, w, 1e13), ValueError, "timestamp"))
    elif layout.wrapper is not None:
        cases.append(BadBatch("timestamp without seconds", Batch(y, p, w, 5.0), ValueError, "timestamp"))
    return cases
