"""The wheel and sdist built from the repository install into a fresh venv and run the main job.

This is README's "from a built wheel" install, as a user does it: ``python -m build`` on a copy of
the tracked files, then ``pip install`` of the wheel into a new virtual environment, then the
``streameval`` console script on the shipped example data, run outside the repository so that
nothing but the installed wheel can be imported. The fresh venv borrows the test environment's
third-party packages (numpy, numba, pyarrow...) through a path file instead of downloading them:
what is checked is our package, its metadata and its entry point.
"""

import csv
import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
from sklearn import metrics as skm

import streameval

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "data" / "predictions.csv"


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is needed to list the repository's files")
    return [Path(p) for p in listed.decode().split("\0") if p and (ROOT / p).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(wheel, sdist) built from a copy of the tracked files."""
    pytest.importorskip("build")
    pytest.importorskip("setuptools")
    source = tmp_path_factory.mktemp("source")
    for path in _tracked_files():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, source / path)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with the setuptools already installed (the "all" extra), offline
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels, sdists = list(out.glob("streameval-*.whl")), list(out.glob("streameval-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0], sdists[0]


def test_wheel_holds_the_package_its_metadata_and_console_script(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "streameval").rglob("*.py")}
        assert modules <= names, sorted(modules - names)
        assert "streameval/py.typed" in names
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(info).decode()
        entry_points = zf.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert f"Version: {streameval.__version__}" in metadata
    for extra in ("cli", "plot", "torch", "dask", "spark", "monitor", "progress", "docs", "dev", "all"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "streameval = streameval.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_sdist_holds_what_a_build_needs(dist):
    _, sdist = dist
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "streameval/__init__.py", "streameval/py.typed"} <= names


def test_wheel_installs_into_a_fresh_venv_and_runs_the_main_job(dist, tmp_path):
    wheel, _ = dist
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Third-party packages come from this test environment, appended after the venv's own site-packages.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    where = subprocess.run([str(python), "-c", "import streameval; print(streameval.__file__)"],
                           capture_output=True, text=True, cwd=workdir, timeout=120)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout  # the wheel's copy, not the repository's

    run = subprocess.run([str(env_dir / "bin" / "streameval"), "evaluate", str(EXAMPLE), "--y-true", "y_true",
                          "--y-pred", "y_pred", "--format", "json"], capture_output=True, text=True, cwd=workdir,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)

    with open(EXAMPLE) as f:
        rows = list(csv.DictReader(f))
    y_true = [r["y_true"] for r in rows]
    y_pred = [r["y_pred"] for r in rows]
    assert result["accuracy"] == skm.accuracy_score(y_true, y_pred)
    assert result["metrics"]["f1_macro"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"), rel=1e-12)
    version = subprocess.run([str(env_dir / "bin" / "streameval"), "--version"], capture_output=True, text=True,
                             cwd=workdir, timeout=120)
    assert version.returncode == 0 and streameval.__version__ in version.stdout, version.stdout + version.stderr
