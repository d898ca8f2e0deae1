"""The course's `data` package outside the repository: it installs with pip as its own distribution,
and a released notebook runs from a folder outside the repository in a fresh virtual environment
that has only that package (and a kernel) installed, offline through the mirror variables."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import examples as ex
from autograder.course import Course
from autograder.release import DATA_CELL_ID, repository_url

COURSE = Course()
pytestmark = pytest.mark.slow


def data_cell_source(homework="hw1", question="opencv_filters") -> str:
    cells = json.loads((COURSE.assignments / homework / f"{question}.ipynb").read_text())["cells"]
    cell = next(c for c in cells if c["metadata"]["nbgrader"]["grade_id"] == DATA_CELL_ID)
    return "".join(cell["source"])


def test_every_released_notebook_starts_with_the_data_cell():
    for hw in COURSE.homeworks():
        for question in COURSE.questions(hw):
            cells = json.loads((COURSE.assignments / hw / f"{question}.ipynb").read_text())["cells"]
            first_code = next(c for c in cells if c["cell_type"] == "code")
            assert first_code["metadata"]["nbgrader"]["grade_id"] == DATA_CELL_ID, (hw, question)
    assert f"git+{repository_url(COURSE)}#subdirectory=data" in data_cell_source()


def test_in_a_checkout_the_data_cell_finds_the_package(tmp_path):
    """Run from assignments/<hw> with a Python that has no `data` installed: found in the checkout."""
    code = data_cell_source() + "\nimport data\nprint(data.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=COURSE.assignments / "hw1", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == COURSE.root / "data" / "__init__.py"


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new virtual environment with the data package (from this checkout) and a Jupyter kernel."""
    root = tmp_path_factory.mktemp("fresh")
    source = root / "data-source"
    shutil.copytree(COURSE.root / "data", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(source), "ipykernel"],
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "fresh-course"],
                   check=True, capture_output=True, timeout=300)
    return venv


def test_the_package_has_its_metadata(fresh_venv):
    code = ("import importlib.metadata as m; d = m.distribution('convnets-course-data'); "
            "print(d.version); print('\\n'.join(d.requires or []))")
    out = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.splitlines()[0] == "0.1.0"
    for requirement in ("numpy", "opencv-python-headless", "pooch", "pandas"):
        assert requirement in out


def test_a_released_notebook_runs_outside_the_repository(fresh_venv, tmp_path):
    example = next(e for e in ex.examples(COURSE, "hw1", "opencv_filters") if e.student == "reference")
    notebook = tmp_path / "opencv_filters.ipynb"
    ex.write(notebook, ex.notebook(COURSE, "hw1", "opencv_filters", example))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["JUPYTER_PATH"] = str(fresh_venv / "share" / "jupyter")
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "ran.ipynb",
         "--ExecutePreprocessor.kernel_name=fresh-course", "--ExecutePreprocessor.timeout=300", str(notebook)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    ran = nbformat.read(tmp_path / "ran.ipynb", as_version=4)
    assert not [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert "pip" not in json.dumps([c.outputs for c in ran.cells if c.cell_type == "code"][0])   # it was installed
