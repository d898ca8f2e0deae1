"""Datasets per question: the sandbox receives the student-visible data a question declares, and
every loader of `data` works inside it, offline; the held-out split is never there."""
import nbformat
import pytest
from conftest import needs_mirror

from autograder.course import Course
from autograder.executor import execute_notebook, sandbox_available
from autograder.grade import prepare_student_data, sandbox_data_options

pytestmark = [needs_mirror, pytest.mark.skipif(not sandbox_available()[0], reason="bubblewrap unavailable")]

LOAD_EVERYTHING = """
import data
(x, y), (xt, yt) = data.load_mnist()
assert x.shape[1:] == (28, 28) and len(x) == len(y) > 0
(c, cy), (ct, cty) = data.load_cifar10()
assert c.shape[1:] == (32, 32, 3) and len(c) == len(cy) > 0
mri, labels, names = data.load_brain_mri(image_size=(64, 64))
assert mri.shape[1:] == (64, 64, 3) and set(labels) == {0, 1} and list(names) == ["no", "yes"]
gas = data.load_gas_series()
assert gas.shape[1] == 6 and len(gas) > 1000
photo = data.load_photo("astronaut")
assert photo.ndim == 2
print("all datasets loaded")
"""

HELD_OUT_IS_ABSENT = """
import data
try:
    data.load_heldout("mnist")
except Exception as err:
    print("no held-out data:", type(err).__name__)
else:
    print("HELD-OUT DATA VISIBLE")
"""

ONLY_DECLARED = """
import data
try:
    data.load_cifar10()
except Exception as err:
    print("cifar10 unavailable:", type(err).__name__)
else:
    print("CIFAR10 VISIBLE")
"""


def run(notebook_sources, datasets, tmp_path):
    course = Course()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in notebook_sources])
    options = sandbox_data_options(course, prepare_student_data(course, datasets))
    return execute_notebook(nb, tmp_path, **options)


def output(cell) -> str:
    return "".join(o.get("text", "") + str(o.get("evalue", "")) for o in cell.outputs)


def test_every_dataset_loads_inside_the_sandbox_and_held_out_data_does_not(tmp_path):
    result = run([LOAD_EVERYTHING, HELD_OUT_IS_ABSENT], ("mnist", "cifar10", "brain_mri"), tmp_path)
    assert result.sandboxed and result.status == "ok", [output(c) for c in result.notebook.cells]
    assert "all datasets loaded" in output(result.notebook.cells[0])
    assert "no held-out data" in output(result.notebook.cells[1])


def test_a_question_gets_only_the_datasets_it_declares(tmp_path):
    result = run([ONLY_DECLARED], ("mnist",), tmp_path)
    assert "cifar10 unavailable" in output(result.notebook.cells[0])


def test_a_question_without_datasets_sees_the_graders_profile(tmp_path):
    import data

    result = run(["import data\nprint('profile:', data.profile())"], (), tmp_path)
    assert f"profile: {data.profile()}" in output(result.notebook.cells[0])
