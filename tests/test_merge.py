"""Merge details beyond the laws. The laws themselves (any split of a stream over workers, merged
in any order, gives the state of one pass; merging is associative and commutative, the empty
accumulator and 0 are identities, sum() adds, the argument of a merge is never modified) are
checked for every registered configuration in tests/test_contract.py (test_merge_laws,
test_any_split_equals_one_pass)."""

import pytest

import streameval


def test_self_merge_doubles():
    acc = streameval.Multiclass(3)
    acc.update([0, 1, 2], [0, 2, 2])
    expected = 2 * acc.confusion_matrix()
    acc.merge(acc)
    assert (acc.confusion_matrix() == expected).all()


def test_copy_is_independent():
    acc = streameval.Multiclass(labels=["a", "b"])
    acc.update(["a", "b"], ["a", "a"])
    clone = acc.copy()
    clone.update(["b"], ["b"])
    assert acc.n_samples == 2 and clone.n_samples == 3 and acc != clone


def test_reset_repr_and_n_samples():
    acc = streameval.Binary(weighted=True)
    acc.update([1, 0, 1], [1, 1, 0], sample_weight=[0.5, 1.5, 2.0])
    assert acc.n_samples == pytest.approx(4.0) and not acc.is_empty
    assert "Binary(" in repr(acc) and "n_samples=4.0" in repr(acc)
    acc.reset()
    assert acc.is_empty and acc.n_samples == 0
