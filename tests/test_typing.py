"""streameval type-checks: mypy --strict over the package (the [tool.mypy] section of pyproject.toml),
and the names the serialization format and the metrics' default average are spelt with."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

import streameval
from streameval import serialization
from streameval.accumulator import DEFAULT, DefaultAverage

ROOT = pathlib.Path(__file__).resolve().parent.parent
# mypy checks against the environment of .ci/run (the "all" extra): the optional integrations'
# own type information is part of the check, so without one of them the result would differ.
TYPED_INTEGRATIONS = ("numba", "torch", "dask", "pyspark", "matplotlib", "rich", "prometheus_client")


def test_mypy_strict_passes() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it is in the dev extra)")
    missing = [name for name in TYPED_INTEGRATIONS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the type check needs the integrations it checks against: {missing} not installed")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    # mypy keeps its cache in the checkout's .mypy_cache (git ignores it): a cold run takes some
    # seconds, a warm one about one.
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"mypy --strict found errors:\n{result.stdout}{result.stderr}"


def test_every_payload_kind_is_a_named_kind() -> None:
    assert serialization.REGISTRY, "the classes register themselves when streameval is imported"
    for kind, cls in serialization.REGISTRY.items():
        assert type(cls._KIND) is serialization.Kind, f"{cls.__name__}._KIND = {cls._KIND!r} is not a Kind"
        assert kind == cls._KIND
    assert {cls.__name__ for cls in serialization.REGISTRY.values()} == {
        "Binary", "Multiclass", "Multilabel", "Windowed", "Decayed", "Sliced"}


def test_the_default_average_is_a_sentinel_and_its_old_spelling_still_works() -> None:
    assert isinstance(DEFAULT, DefaultAverage) and repr(DEFAULT) == "DEFAULT"
    acc = streameval.Multiclass(3)
    acc.update([0, 1, 2, 2], [0, 2, 2, 1])
    assert acc.f1() == acc.f1(DEFAULT) == acc.f1("default") == acc.f1("macro")
    binary = streameval.Binary()
    binary.update([1, 1, 0, 1], [1, 0, 0, 1])
    assert binary.interval("recall", average="default") == binary.interval("recall", average=DEFAULT)
    assert binary.interval("recall", average="default") == binary.interval("recall", average="binary")
