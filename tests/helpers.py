"""Shared test helpers."""

import numpy as np


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
