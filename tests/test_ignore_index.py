"""ignore_index on Binary and Multilabel (issue 14, section 2): padding is not counted.

Binary: a sample (an element, for inputs of any rank) whose y_true is ignore_index counts
nowhere. Multilabel: an entry (sample, label) whose y_true is ignore_index counts in no label's
matrix nor histogram; the per-sample sums are those of the batch with the ignored entries set to 0
in y_true and y_pred (torchmetrics' exact match: an ignored entry is right). Checked against
scikit-learn on the masked, flattened arrays, and torchmetrics where it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from streameval import Binary, Multilabel, Windowed, errors
from streameval.serialization import from_bytes

PAD = -100


def _binary_batch(rng, shape, p_ignore=0.25):
    y = rng.integers(0, 2, shape)
    s = rng.random(shape)
    skip = rng.random(shape) < p_ignore
    y[skip] = PAD
    s[skip] = np.nan  # never read
    return y, s, skip


def test_binary_equals_sklearn_on_the_kept_samples_any_rank():
    rng = np.random.default_rng(0)
    acc = Binary(exact=True, ignore_index=PAD)
    ys, ss = [], []
    for shape in [(40,), (3, 5, 4), (2, 7), (0,)]:
        y, s, skip = _binary_batch(rng, shape)
        acc.update(y, s)
        ys.append(y[~skip].ravel())
        ss.append(s[~skip].ravel())
    y, s = np.concatenate(ys), np.concatenate(ss)
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(y, s >= 0.5).tolist()
    assert acc.roc_auc() == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
    assert acc.brier_score() == pytest.approx(skm.brier_score_loss(y, s), rel=1e-12)
    assert acc.n_samples == len(y)


@pytest.mark.parametrize("make", [lambda: Binary(bins=10, ignore_index=PAD, weighted=True),
                                  lambda: Binary(ignore_index=PAD, weighted=True)])
def test_binary_weighted_bins(make):
    rng = np.random.default_rng(1)
    acc = make()
    y, s, skip = _binary_batch(rng, (6, 9))
    w = rng.random((6, 9))
    w[skip] = np.nan  # the weights of ignored elements are not read either
    acc.update(y, s, w)
    ref = skm.confusion_matrix(y[~skip], s[~skip] >= 0.5, sample_weight=w[~skip])
    np.testing.assert_allclose(acc.confusion_matrix(), ref, rtol=1e-12)
    if acc.bins is not None:
        ref_auc = skm.roc_auc_score(y[~skip], np.floor(s[~skip] * 10) / 10, sample_weight=w[~skip])
        assert acc.roc_auc() == pytest.approx(ref_auc, rel=1e-12)


def test_binary_labels_and_text():
    acc = Binary(pos_label="spam", ignore_index=PAD)
    acc.update(np.array(["spam", PAD, "ham", "spam"], dtype=object), ["spam", "eggs", "ham", "ham"])
    assert acc.confusion_matrix().tolist() == [[1, 0], [1, 1]]
    labels = Binary(ignore_index=7)
    labels.update([1, 7, 0, 7], [1, 5, 1, -3])  # 5 and -3 are not labels, but ignored
    assert labels.confusion_matrix().tolist() == [[0, 1], [0, 1]]


def test_binary_bad_value_elsewhere_names_its_position_and_changes_nothing():
    acc = Binary(bins=4, ignore_index=PAD, bootstrap=3, seed=0)
    acc.update([1, 0], [0.7, 0.2])
    before = acc.to_bytes()
    y = np.array([[1, PAD, 0], [PAD, 0, 1]])
    s = np.array([[0.5, np.nan, 0.1], [9.0, 1.5, 0.3]])
    with pytest.raises(ValueError) as info:
        acc.update(y, s)
    assert isinstance(info.value, errors.InputError)
    assert (info.value.argument, info.value.index) == ("y_pred", (1, 1))
    with pytest.raises(ValueError) as info:
        acc.update([1, PAD, 3], [0.5, 0.5, 0.5])
    assert (info.value.argument, info.value.index) == ("y_true", 2)
    assert acc.to_bytes() == before


@pytest.mark.parametrize("value", [0, 1, True, 1.5, "pad"])
def test_binary_refuses_ignore_index_that_is_a_label_or_not_an_integer(value):
    with pytest.raises((TypeError, ValueError), match="ignore_index"):
        Binary(ignore_index=value)
    with pytest.raises(ValueError, match="ignore_index"):
        Binary(pos_label=3, ignore_index=3)
    with pytest.raises((TypeError, ValueError), match="ignore_index"):
        Multilabel(2, ignore_index=value)


def test_config_recorded_only_when_set_and_merges_need_equal_ignore_index():
    assert "ignore_index" not in Binary().to_dict()["config"]
    assert "ignore_index" not in Multilabel(3).to_dict()["config"]
    assert Binary(ignore_index=-1).to_dict()["config"]["ignore_index"] == -1
    with pytest.raises(errors.IncompatibleError):
        Binary(ignore_index=-1).merge(Binary(ignore_index=-2))
    with pytest.raises(errors.IncompatibleError):
        Multilabel(2, ignore_index=-1).merge(Multilabel(2))


def _multilabel_batch(rng, shape, p_ignore=0.25):
    y = rng.integers(0, 2, shape)
    s = rng.random(shape)
    skip = rng.random(shape) < p_ignore
    y[skip] = PAD
    s[skip] = np.nan
    return y, s, skip


def _rows(a):
    """(N, L, d1, ...) as (N * d1 * ..., L) rows."""
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def check_multilabel(acc, Y, S, skip, w=None):
    """Against scikit-learn: each label's matrix on its kept entries (sample_weight 0 on the others),
    the per-sample sums on the batch with ignored entries 0 in y_true and y_pred."""
    L = Y.shape[1]
    P = (S >= acc.threshold).astype(int)
    ones = np.ones(len(Y)) if w is None else w
    mcm = np.stack([skm.confusion_matrix(Y[~skip[:, j], j], P[~skip[:, j], j], labels=[0, 1],
                                         sample_weight=ones[~skip[:, j]]) if (~skip[:, j]).any()
                    else np.zeros((2, 2)) for j in range(L)])
    np.testing.assert_allclose(acc.confusion_matrix(), mcm, rtol=1e-12)
    Z, ZP = np.where(skip, 0, Y), np.where(skip, 0, P)
    assert acc.n_samples == pytest.approx(ones.sum())
    assert acc.accuracy() == pytest.approx(skm.accuracy_score(Z, ZP, sample_weight=w), rel=1e-12)
    for name in ("precision", "recall", "f1", "jaccard"):
        ref = getattr(skm, f"{name}_score")(Z, ZP, average="samples", zero_division=0.0, sample_weight=w)
        assert getattr(acc, name)(average="samples", zero_division=0.0) == pytest.approx(ref, rel=1e-12), name
    micro = mcm.sum(axis=0)
    predicted = micro[1, 1] + micro[0, 1]
    assert acc.precision(average="micro", zero_division=0.0) == pytest.approx(
        micro[1, 1] / predicted if predicted else 0.0, rel=1e-12)
    if micro.sum():
        assert acc.hamming_loss() == pytest.approx((micro[0, 1] + micro[1, 0]) / micro.sum(), rel=1e-12)
    if acc.bins is not None:
        for j in range(L):
            keep = ~skip[:, j]
            ref = skm.roc_auc_score(Y[keep, j], np.floor(S[keep, j] * acc.bins) / acc.bins, sample_weight=ones[keep])
            assert acc.roc_auc(average=None)[j] == pytest.approx(ref, rel=1e-12)


def test_multilabel_equals_sklearn_label_by_label_any_rank():
    rng = np.random.default_rng(2)
    acc = Multilabel(4, bins=8, ignore_index=PAD)
    parts = [_multilabel_batch(rng, shape) for shape in [(30, 4), (3, 4, 5, 2), (0, 4)]]
    for y, s, _ in parts:
        acc.update(y, s)
    Y = np.concatenate([_rows(y) for y, _, _ in parts])
    S = np.concatenate([_rows(s) for _, s, _ in parts])
    skip = np.concatenate([_rows(k) for _, _, k in parts])
    check_multilabel(acc, Y, np.nan_to_num(S), skip)


def test_multilabel_weighted_and_a_sample_all_ignored():
    rng = np.random.default_rng(3)
    acc = Multilabel(3, ignore_index=PAD, weighted=True)
    y, s, skip = _multilabel_batch(rng, (25, 3))
    y[4], s[4], skip[4] = PAD, np.nan, True  # every entry of sample 4: an exact match, 0/0 per-sample ratios
    w = rng.random(25)
    acc.update(y, s, w)
    check_multilabel(acc, y, np.nan_to_num(s), skip, w)


def test_multilabel_bad_entry_named_and_nothing_changes():
    acc = Multilabel(3, ignore_index=PAD, bootstrap=2, seed=0)
    acc.update([[1, 0, PAD]], [[1, 0, 7]])
    before = acc.to_bytes()
    with pytest.raises(ValueError) as info:
        acc.update(np.array([[1, PAD, 0], [0, 1, 2]]), np.array([[0.5, np.nan, 0.5], [0.1, 0.2, 0.3]]))
    assert (info.value.argument, info.value.index) == ("y_true", (1, 2))
    with pytest.raises(ValueError) as info:
        acc.update(np.array([[1, PAD, 0], [0, 1, 1]]), np.array([[0.5, np.nan, 0.5], [0.1, np.inf, 0.3]]))
    assert (info.value.argument, info.value.index) == ("y_pred", (1, 1))
    assert acc.to_bytes() == before


@pytest.mark.parametrize("make", [lambda: Binary(bins=5, ignore_index=PAD, bootstrap=3, seed=4),
                                  lambda: Binary(exact=True, ignore_index=PAD),
                                  lambda: Multilabel(3, bins=4, ignore_index=PAD, bootstrap=3, seed=4)])
def test_merge_and_serialization_round_trip(make):
    rng = np.random.default_rng(5)
    shape = (20,) if isinstance(make(), Binary) else (20, 3)
    batches = [(_binary_batch if len(shape) == 1 else _multilabel_batch)(rng, shape)[:2] for _ in range(3)]
    whole, a, b = make(), make(), make()
    for i, (y, s) in enumerate(batches):
        whole.update(y, s)
        (a if i < 2 else b).update(y, s)
    merged = a.merge(b) if hasattr(a, "merge") else a + b
    assert merged.confusion_matrix().tolist() == whole.confusion_matrix().tolist()
    assert merged.n_samples == whole.n_samples
    back = from_bytes(whole.to_bytes())
    assert back.to_bytes() == whole.to_bytes() and back.ignore_index == PAD


def test_windowed_binary_ignore_spanning_buckets():
    rng = np.random.default_rng(6)
    acc = Windowed(Binary(bins=4, ignore_index=PAD), 100, buckets=5)
    y, s, skip = _binary_batch(rng, (53,))
    acc.update(y, s)  # spans three buckets: each kept sample counted into its own
    y2, s2, skip2 = _binary_batch(rng, (30,))
    acc.update(y2, s2)
    yk, sk = np.r_[y[~skip], y2[~skip2]], np.r_[s[~skip], s2[~skip2]]
    assert acc.confusion_matrix().tolist() == skm.confusion_matrix(yk, sk >= 0.5).tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 2**31 - 1)), min_size=1, max_size=5))
def test_binary_and_multilabel_streams(batches):
    binary, multilabel = Binary(bins=4, ignore_index=PAD), Multilabel(2, ignore_index=PAD)
    ys, ss, Ys, Ss, Ks = [], [], [], [], []
    for n, seed in batches:
        rng = np.random.default_rng(seed)
        y, s, skip = _binary_batch(rng, (n,), 0.4)
        binary.update(y, s)
        ys.append(y[~skip])
        ss.append(s[~skip])
        Y, S, K = _multilabel_batch(rng, (n, 2), 0.4)
        multilabel.update(Y, S)
        Ys.append(Y), Ss.append(S), Ks.append(K)
    y, s = np.concatenate(ys), np.concatenate(ss)
    ref = skm.confusion_matrix(y, s >= 0.5, labels=[0, 1]) if len(y) else np.zeros((2, 2), dtype=int)
    assert binary.confusion_matrix().tolist() == ref.tolist()
    Y, S, K = np.concatenate(Ys), np.concatenate(Ss), np.concatenate(Ks)
    if len(Y):
        check_multilabel(multilabel, Y, np.nan_to_num(S), K)


def test_torchmetrics_agrees():
    torch = pytest.importorskip("torch")
    tc = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(7)
    y, s, skip = _binary_batch(rng, (4, 6, 5))
    s[skip] = 0.5
    s += 1e-9 * (s == 0.5)  # torchmetrics counts score > threshold: no score at it
    acc = Binary(ignore_index=PAD)
    acc.update(y, s)
    ref = tc.BinaryAccuracy(ignore_index=PAD, multidim_average="global")(torch.tensor(s), torch.tensor(y))
    assert acc.accuracy() == pytest.approx(float(ref), rel=1e-6)
    Y, S, K = _multilabel_batch(rng, (6, 3, 4, 2))
    S[K] = 0.25
    m = Multilabel(3, ignore_index=PAD)
    m.update(Y, S)
    stats = tc.MultilabelStatScores(3, average=None, ignore_index=PAD, multidim_average="global")(
        torch.tensor(S), torch.tensor(Y))
    tp, fp, tn, fn = (stats[:, i].numpy() for i in range(4))
    cm = m.confusion_matrix()
    assert cm[:, 1, 1].tolist() == tp.tolist() and cm[:, 0, 1].tolist() == fp.tolist()
    assert cm[:, 0, 0].tolist() == tn.tolist() and cm[:, 1, 0].tolist() == fn.tolist()
    exact = tc.MultilabelExactMatch(3, ignore_index=PAD)(torch.tensor(S), torch.tensor(Y))
    assert m.accuracy() == pytest.approx(float(exact), rel=1e-6)
