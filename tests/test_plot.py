"""streameval.plot and Accumulator.plot: the figures draw the library's own numbers (which the
other tests check against scikit-learn), render to valid PNGs headless, and fail clearly."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import streameval
import streameval.plot as plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _binary_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    scores = np.clip(0.35 * y + 0.65 * rng.random(n), 0.0, 1.0)
    return y, scores


@pytest.fixture
def binned():
    acc = streameval.Binary(0.4, bins=20)
    acc.update(*_binary_data())
    return acc


@pytest.fixture
def exact():
    acc = streameval.Binary(exact=True)
    acc.update(*_binary_data())
    return acc


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(1)
    acc = streameval.Multiclass(3, bins=10)
    acc.update(rng.integers(0, 3, 400), rng.dirichlet([1, 1, 1], 400))
    return acc


@pytest.fixture
def multilabel():
    rng = np.random.default_rng(2)
    acc = streameval.Multilabel(3, bins=10)
    acc.update(rng.integers(0, 2, (200, 3)), rng.random((200, 3)))
    return acc


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0  # something was drawn


def _curve_lines(ax):
    """The drawn curves: lines with more than one point, except the dotted chance diagonal."""
    return [line for line in ax.lines if len(line.get_xdata()) > 1 and line.get_linestyle() not in (":", "--")]


def _markers(ax):
    return [line for line in ax.lines if len(line.get_xdata()) == 1]


def test_import_streameval_does_not_import_matplotlib():
    code = "import sys, streameval, streameval.plot; assert 'matplotlib' not in sys.modules, 'imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_heatmap_is_the_matrix(multiclass, normalize, tmp_path):
    fig = plots.confusion_matrix(multiclass, normalize=normalize)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), multiclass.confusion_matrix(normalize))
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9
    if normalize is None:
        assert texts == [str(v) for v in multiclass.confusion_matrix().ravel()]
    else:
        assert texts == [f"{v:.2f}" for v in multiclass.confusion_matrix(normalize).ravel()]
        assert repr(normalize) in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    plots.save(fig, tmp_path / "cm.png")
    _assert_png(tmp_path / "cm.png")


def test_confusion_matrix_binary_labels_and_multilabel_index(binned, multilabel):
    acc = streameval.Binary(pos_label="spam")
    acc.update(["spam", "ham", "spam"], ["spam", "spam", "ham"])
    ax = plots.confusion_matrix(acc).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0, 1], [1, 1]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["not spam", "spam"]

    ax = plots.confusion_matrix(multilabel, index=2, normalize="true").axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), multilabel.confusion_matrix("true")[2])
    with pytest.raises(ValueError, match="index="):
        plots.confusion_matrix(multilabel)
    with pytest.raises(ValueError, match="index=5"):
        plots.confusion_matrix(multilabel, index=5)
    with pytest.raises(ValueError, match="index="):
        plots.confusion_matrix(binned, index=0)
    with pytest.raises(ValueError, match="normalize="):
        plots.confusion_matrix(binned, normalize="rows")


def test_weighted_counts_are_annotated_as_numbers():
    acc = streameval.Binary(weighted=True)
    acc.update([1, 0, 1], [1, 0, 0], sample_weight=[0.5, 2.0, 1.25])
    ax = plots.confusion_matrix(acc).axes[0]
    assert [t.get_text() for t in ax.texts] == ["2", "0", "1.25", "0.5"]


def test_roc_curve_binned_marks_threshold_and_auc_bracket(binned, tmp_path):
    fig = plots.roc_curve(binned)
    ax = fig.axes[0]
    fpr, tpr, _ = binned.roc_curve()
    (line,) = _curve_lines(ax)
    np.testing.assert_array_equal(line.get_xdata(), fpr)
    np.testing.assert_array_equal(line.get_ydata(), tpr)
    (tn, fp), _ = binned.confusion_matrix()
    (point,) = _markers(ax)
    assert point.get_xdata()[0] == pytest.approx(fp / (fp + tn))
    assert point.get_ydata()[0] == pytest.approx(binned.recall())
    low, high = binned.roc_auc_bounds()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"AUC = {binned.roc_auc():.3f} [{low:.3f}, {high:.3f}]", "threshold 0.4"]
    plots.save(fig, tmp_path / "roc.png")
    _assert_png(tmp_path / "roc.png")


def test_roc_curve_exact_has_no_bracket(exact):
    ax = plots.roc_curve(exact).axes[0]
    fpr, tpr, _ = exact.roc_curve()
    (line,) = _curve_lines(ax)
    np.testing.assert_array_equal(line.get_xdata(), fpr)
    np.testing.assert_array_equal(line.get_ydata(), tpr)
    assert ax.get_legend().get_texts()[0].get_text() == f"AUC = {exact.roc_auc():.3f}"


def test_pr_curve_binary(binned, exact):
    for acc in (binned, exact):
        ax = plots.pr_curve(acc).axes[0]
        precision, recall, _ = acc.pr_curve()
        (line,) = _curve_lines(ax)
        np.testing.assert_array_equal(line.get_xdata(), recall)
        np.testing.assert_array_equal(line.get_ydata(), precision)
        (point,) = _markers(ax)
        assert point.get_xdata()[0] == pytest.approx(acc.recall())
        assert point.get_ydata()[0] == pytest.approx(acc.precision())
        assert ax.get_legend().get_texts()[0].get_text() == f"AP = {acc.average_precision():.3f}"


@pytest.mark.parametrize("fixture", ["multiclass", "multilabel"])
def test_one_vs_rest_curves(fixture, request):
    acc = request.getfixturevalue(fixture)
    stats = acc.stat_scores(average=None)
    ax = plots.roc_curve(acc).axes[0]
    lines, markers = _curve_lines(ax), _markers(ax)
    assert len(lines) == len(markers) == 3
    low, high = acc.roc_auc_bounds()
    for i, (line, point) in enumerate(zip(lines, markers)):
        fpr, tpr, _ = acc.roc_curve(i)
        np.testing.assert_array_equal(line.get_xdata(), fpr)
        np.testing.assert_array_equal(line.get_ydata(), tpr)
        assert point.get_ydata()[0] == pytest.approx(stats.tp[i] / (stats.tp[i] + stats.fn[i]))
        assert point.get_color() == line.get_color()
        assert line.get_label() == f"{i}: AUC = {acc.roc_auc(average=None)[i]:.3f} [{low[i]:.3f}, {high[i]:.3f}]"

    ax = plots.pr_curve(acc, index=1).axes[0]
    (line,) = _curve_lines(ax)
    precision, recall, _ = acc.pr_curve(1)
    np.testing.assert_array_equal(line.get_xdata(), recall)
    np.testing.assert_array_equal(line.get_ydata(), precision)
    with pytest.raises(ValueError, match="index=3"):
        plots.roc_curve(acc, index=3)


def test_reliability_diagram(binned, exact, multiclass, tmp_path):
    for acc, n_bins in ((binned, 10), (exact, 7), (multiclass, 5)):
        fig = plots.reliability_diagram(acc, n_bins=n_bins)
        ax = fig.axes[0]
        diagonal, curve = ax.lines
        np.testing.assert_array_equal(diagonal.get_xdata(), [0, 1])
        np.testing.assert_array_equal(diagonal.get_ydata(), [0, 1])
        prob_true, prob_pred = acc.calibration_curve(n_bins)
        np.testing.assert_array_equal(curve.get_xdata(), prob_pred)
        np.testing.assert_array_equal(curve.get_ydata(), prob_true)
        assert f"ECE = {acc.expected_calibration_error(n_bins):.3f}" in curve.get_label()
    plots.save(fig, tmp_path / "reliability.png")
    _assert_png(tmp_path / "reliability.png")


def test_metrics_over_time_from_on_window(tmp_path):
    rng = np.random.default_rng(3)
    window = streameval.Windowed(streameval.Binary(), 100, buckets=1)
    records = []
    window.on_window(records.append)
    for _ in range(6):
        window.update(rng.integers(0, 2, 100), rng.random(100))
    window.update([1], [0.9])
    assert len(records) == 6
    fig = plots.metrics_over_time(records, ["accuracy", "f1"])
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["accuracy", "f1"]
    for line, name in zip(ax.lines, ("accuracy", "f1")):
        np.testing.assert_array_equal(line.get_xdata(), [r["window_end"] for r in records])
        np.testing.assert_array_equal(line.get_ydata(), [r[name] for r in records])
    assert len(plots.metrics_over_time(records, "recall").axes[0].lines) == 1
    plots.save(fig, tmp_path / "time.png")
    _assert_png(tmp_path / "time.png")

    with pytest.raises(ValueError, match="'auc'"):
        plots.metrics_over_time(records, ["auc"])
    with pytest.raises(ValueError, match="records="):
        plots.metrics_over_time([], ["accuracy"])
    with pytest.raises(ValueError, match="window_end"):
        plots.metrics_over_time([{"accuracy": 1.0}])


def test_curves_without_score_state_say_what_to_do(multilabel):
    with pytest.raises(ValueError, match=r"bins=\.\.\. or exact=True"):
        plots.roc_curve(streameval.Binary())
    with pytest.raises(ValueError, match=r"bins=\.\.\. or exact=True"):
        plots.pr_curve(streameval.Binary())
    with pytest.raises(ValueError, match=r"bins=\.\.\. or exact=True"):
        plots.reliability_diagram(streameval.Binary())
    with pytest.raises(ValueError, match=r"Multiclass with bins="):
        plots.roc_curve(streameval.Multiclass(3))
    with pytest.raises(ValueError, match="Multilabel"):
        plots.reliability_diagram(multilabel)
    with pytest.raises(TypeError, match="acc="):
        plots.confusion_matrix(np.eye(2))


def test_accumulator_plot_method(binned, multiclass, tmp_path):
    from matplotlib.figure import Figure

    fig = binned.plot(path=tmp_path / "cm.png")
    assert isinstance(fig, Figure)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), binned.confusion_matrix())
    _assert_png(tmp_path / "cm.png")
    for kind in ("roc_curve", "pr", "reliability_diagram"):
        path = tmp_path / f"{kind}.png"
        assert isinstance(binned.plot(kind, path=path), Figure)
        _assert_png(path)
    fig = multiclass.plot("roc", index=0)
    assert len(_curve_lines(fig.axes[0])) == 1
    with pytest.raises(ValueError, match="kind='pie'"):
        binned.plot("pie")

    window = streameval.Windowed(streameval.Multiclass(3), 50, buckets=5)
    window.update([0, 1, 2, 2], [0, 2, 2, 1])
    fig = window.plot(normalize="true")
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), window.confusion_matrix("true"))


def test_draws_into_given_axes(binned, multiclass):
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plots.roc_curve(binned, ax=left) is fig
    assert plots.confusion_matrix(multiclass, ax=right) is fig
    assert len(left.lines) >= 2 and len(right.images) == 1
