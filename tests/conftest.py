"""Shared test settings and fixtures: hypothesis profiles, ``rng``, and ``configuration``.

A test that takes a ``configuration`` argument runs once per registered accumulator
configuration (helpers.CONFIGURATIONS: every accumulator, option, wrapper and, once they exist,
storage, each one line, with the input kind its streams are drawn from, the scikit-learn
reference it is checked against and what it supports). ``pytest_generate_tests`` below
parametrizes it:

- every registered configuration, by default;
- ``@pytest.mark.configs("binary", "multilabel")``: those, by name, in that order;
- ``@pytest.mark.configs(where=lambda c: c.merges)``: those that pass the test;
- ``@pytest.mark.configs(..., each=cases)``: with a second argument ``case``, one test per
  (configuration, c) for c in ``cases(configuration)``.

Markers add up (a class's ``where=`` and a method's ``each=``). The registry is a module
(tests/helpers.py), not this file, so that test modules import it by its name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from helpers import Configuration, select

settings.register_profile(
    "default",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "configs(*names, where=None, each=None): run the test once per registered accumulator configuration "
        "(tests/conftest.py CONFIGURATIONS), passed as its `configuration` argument",
    )


def pytest_generate_tests(metafunc) -> None:
    if "configuration" not in metafunc.fixturenames:
        return
    # Markers add up: a class's where= and a method's each= both apply (names: the closest marker's).
    names: tuple = ()
    where: list[Callable[[Configuration], bool]] = []
    each: Callable[[Configuration], Iterable[str]] | None = None
    for marker in metafunc.definition.iter_markers("configs"):
        names = names or marker.args
        if marker.kwargs.get("where") is not None:
            where.append(marker.kwargs["where"])
        each = each or marker.kwargs.get("each")
    chosen = select(*names, where=lambda c: all(test(c) for test in where))
    if each is None:
        metafunc.parametrize("configuration", chosen, ids=[c.name for c in chosen])
        return
    pairs = [pytest.param(c, case, id=f"{c.name}-{case}") for c in chosen for case in each(c)]
    metafunc.parametrize(("configuration", "case"), pairs)
