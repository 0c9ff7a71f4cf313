"""The documentation site builds in strict mode, offline and without the engines: a broken link,
anchor, API reference or included file fails the build, and so does anything that would need the
network or an import of streameval, torch, Dask, Spark or matplotlib.

(The code examples of the pages run in tests/test_examples.py.)
"""

import html as html_module
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The docs extra: mkdocs, the Material theme, mkdocstrings and its Python handler.
DOCS_PACKAGES = {"mkdocs": "mkdocs", "material": "mkdocs-material", "mkdocstrings_handlers.python": "mkdocstrings[python]"}


# mkdocs build --strict, with these modules made unimportable (None in sys.modules: ImportError).
BUILD_WITHOUT_ENGINES = """
import sys
for name in ("streameval", "numpy", "numba", "torch", "dask", "distributed", "pyspark", "pandas", "pyarrow",
             "matplotlib"):
    sys.modules[name] = None
sys.argv = ["mkdocs", "build", "--strict", "-f", sys.argv[1], "--site-dir", sys.argv[2]]
from mkdocs.__main__ import cli
cli()
"""


def _require_docs_tools() -> None:
    for module, package in DOCS_PACKAGES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            pytest.skip(f'the docs build needs {package}, which is not installed: pip install -e ".[docs]"')


def _offline_prefix() -> list[str]:
    """A command prefix that runs a program without network (a new, empty network namespace), or
    [] where unshare cannot make one (no util-linux, or no user namespaces)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    prefix = [unshare, "--net", "--map-root-user"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, timeout=60)
    return prefix if probe.returncode == 0 else []


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _require_docs_tools()
    site_dir = tmp_path_factory.mktemp("docs") / "site"
    offline = _offline_prefix()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about its successor
    # From another directory (every path in mkdocs.yml must be relative to it), and with
    # streameval, numpy and the optional engines unimportable: the API reference is read from the
    # source, so the docs build where only the docs extra is installed.
    done = subprocess.run([*offline, sys.executable, "-c", BUILD_WITHOUT_ENGINES, str(ROOT / "mkdocs.yml"), str(site_dir)],
                          cwd=site_dir.parent, capture_output=True, text=True, timeout=600, env=env)
    network = "without network (unshare --net)" if offline else "with the network (unshare unavailable here)"
    assert done.returncode == 0, f"mkdocs build --strict failed, {network}:\n{done.stdout}\n{done.stderr}"
    return site_dir


def test_every_page_of_the_nav_is_built(site):
    config = (ROOT / "mkdocs.yml").read_text()
    pages = re.findall(r"^\s*- [^:\n]+: ([\w/.-]+\.md)\s*$", config, re.M)
    assert len(pages) >= 15
    for page in pages:
        built = site / ("index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html")
        assert built.is_file(), f"{page} is in the nav but was not built"


def test_api_reference_is_generated_from_the_docstrings(site):
    html = (site / "api" / "accumulators" / "index.html").read_text()
    # inherited methods are listed, with their docstrings, under each accumulator
    for method in ("update", "precision", "interval", "roc_auc_bounds", "compute", "to_bytes", "state_vector"):
        assert f'id="streameval.Binary.{method}"' in html, method
    assert "Precision tp / (tp + fp), as sklearn.metrics.precision_score" in html
    assert "A flat dict of floats for loggers" in html  # compute(): its docstring is the base class's
    # doctest examples are code, not nested block quotes
    assert "<blockquote" not in html
    assert re.search(r"<code>(<span[^>]*>)*&gt;&gt;&gt;", html)
    integrations = (site / "api" / "integrations" / "index.html").read_text()
    for name in ("streameval.torch.sync", "streameval.dask.evaluate", "streameval.spark.evaluate",
                 "streameval.plot.roc_curve"):
        assert f'id="{name}"' in integrations, name


def test_home_page_takes_install_and_quick_start_from_the_readme(site):
    html = (site / "index.html").read_text()
    assert 'id="install"' in html and 'id="quick-start"' in html
    text = html_module.unescape(re.sub(r"<[^>]+>", "", html))  # code is split into highlighted spans
    assert 'pip install -e ".[cli]"' in text and "git+https://github.com/<owner>/streameval" in text
    assert "acc = streameval.Multiclass(3)" in text
    assert "--8<--" not in text  # every snippet marker was replaced by its section


def test_benchmarks_page_shows_benchmarks_md(site):
    html = (site / "benchmarks" / "index.html").read_text()
    assert "baseline" in html and "Where we stand" in html
