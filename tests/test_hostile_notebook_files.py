"""Hostile submitted files, graded end to end: broken files and tampered notebook structure.

The released template is authoritative: the student controls only the sources of their answer
cells and of cells they add. Deleting, duplicating, retyping or reordering cells, or editing
nbgrader metadata, never raises the score above the 10 points of conv_by_hand; deleting an answer
costs exactly that answer. A file that is not a notebook is recorded as invalid, with a message.
"""
import copy
import json
import uuid
from types import SimpleNamespace

import nbformat
import pytest

from autograder.gradebook import open_gradebook
from autograder.executor import sandbox_available
from grading_support import answer_notebook, grade, points, recorded, submit, temp_course

OK, WHY = sandbox_available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")]

Q = "conv_by_hand"
LIMITS = dict(cell_timeout_s=15, notebook_timeout_s=60, harvest_timeout_s=30)
HIDDEN = "conv_by_hand_hidden_checks"
WRONG = {"conv_xcorr_solution": "def cross_correlate2d(image, kernel, stride=1, padding=0):\n    raise NotImplementedError()",
         "conv_convolve_solution": "def convolve2d(image, kernel, stride=1, padding=0):\n    raise NotImplementedError()",
         }
MARKER = f"/tmp/hostile-kernelspec-{uuid.uuid4().hex}"


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell(nb, grade_id):
    return next(c for c in nb.cells if gid(c) == grade_id)


def edited(change, base=None):
    nb = copy.deepcopy(base or answer_notebook(Q))
    change(nb)
    return nb


def delete_locked(nb):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]


def delete_answer(nb):
    nb.cells = [c for c in nb.cells if gid(c) != "conv_convolve_solution"]


def duplicate_answer(nb):
    copy_ = copy.deepcopy(cell(nb, "conv_xcorr_solution"))
    copy_.source = "def cross_correlate2d(image, kernel, stride=1, padding=0):\n    return 0"
    nb.cells.append(copy_)


def retype(nb):
    for c in nb.cells:
        c.cell_type = "markdown" if c.cell_type == "code" else "code"
        c.pop("outputs", None), c.pop("execution_count", None)
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None


def reverse(nb):
    nb.cells = nb.cells[::-1]


def replace_hidden(nb):
    hidden = cell(nb, HIDDEN)
    hidden.source = "score = 10\nprint('Hidden checks: 10/10')"
    hidden.metadata["nbgrader"]["points"] = 1000
    hidden.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Hidden checks: 10/10\n")]
    hidden.execution_count = 99


def edit_metadata(nb):
    for c in nb.cells:
        meta = c.metadata.setdefault("nbgrader", {})
        meta.update(checksum="0" * 32, locked=False)
        if meta.get("solution"):
            meta.update(solution=False, grade=True, points=500, locked=True)
        elif meta.get("grade_id") == HIDDEN:
            meta.update(points=1000)
        else:
            meta.update(grade=True, points=100)
    bonus = nbformat.v4.new_code_cell("print('bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1000,
                                  "grade_id": "bonus_points", "schema_version": 3}
    nb.cells.append(bonus)


def rename_answer(nb):
    cell(nb, "conv_xcorr_solution").metadata["nbgrader"]["grade_id"] = "my_own_solution"


def evil_kernel(nb):
    nb.metadata["kernelspec"] = {"name": "evil", "display_name": "R", "language": "R",
                                 "argv": ["/bin/sh", "-c", f"touch {MARKER}"]}
    nb.metadata["language_info"] = {"name": "R"}


def as_nbformat3(nb) -> str:
    return nbformat.v3.writes_json(nbformat.convert(copy.deepcopy(nb), 3))  # convert() changes its input


def with_version(nb, version) -> str:
    data = json.loads(nbformat.writes(nb))
    data["nbformat"] = version
    return json.dumps(data)


def junk_cells(nb) -> str:
    data = json.loads(nbformat.writes(nb))
    data["cells"] += [1, "x", None, [], {"cell_type": "code"}, {"cell_type": "code", "source": {"a": 1},
                                                               "metadata": [], "outputs": 7}]
    return json.dumps(data)


REFERENCE = answer_notebook(Q)
GRADED = {  # student -> (submission, expected score)
    "delete_locked": (edited(delete_locked), 10),
    "delete_answer": (edited(delete_answer), 6),  # convolve2d's 3 + 1 (non-square needs both) lost
    "duplicate_answer": (edited(duplicate_answer), 10),
    "retype": (edited(retype), 10),
    "reverse": (edited(reverse), 10),
    "replace_hidden": (edited(replace_hidden, answer_notebook(Q, WRONG)), 0),
    "edit_metadata": (edited(edit_metadata), 10),
    "rename_answer": (edited(rename_answer), 0),  # the released stub now follows and raises
    "evil_kernel": (edited(evil_kernel), 10),
    "nbformat3": (as_nbformat3(REFERENCE), 10),
}
INVALID = {  # student -> (file content, words of the message)
    "not_json": ("def cross_correlate2d(image, kernel):\n    return image\n", "not valid JSON"),
    "non_utf8": (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "\xff\xfe"}', "not UTF-8"),
    "zero_bytes": (b"", "empty"),
    "json_list": ("[1, 2, 3]", "not a Jupyter notebook"),
    "nbformat99": (with_version(REFERENCE, 99), "not a readable Jupyter notebook"),
    "deep_nesting": ('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    "lone_surrogate": (nbformat.writes(REFERENCE).replace("# constant mode: zeros on every side", "# \\ud800"),
                       "invalid Unicode"),
    "junk_cells": (junk_cells(REFERENCE), "not a readable Jupyter notebook"),
    "other_question": (answer_notebook("opencv_filters"), "is this the right notebook?"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    course = temp_course(tmp_path_factory.mktemp("notebook_files"))
    for student, (content, _) in {**GRADED, **INVALID}.items():
        submit(course, student, Q, content)
    grades = grade(course, **LIMITS)
    return SimpleNamespace(course=course, grades={s: g for (s, q), g in grades.items() if q == Q},
                           rows=recorded(course))


def autograded(run, student):
    return nbformat.read(run.course.autograded / student / "hw1" / f"{Q}.ipynb", as_version=4)


@pytest.mark.parametrize("student", sorted(GRADED))
def test_structure_tampering_earns_what_the_answers_earn(run, student):
    g = run.grades[student]
    assert g.status == "graded", g.message
    assert (g.score, g.max_score) == (GRADED[student][1], 10)
    assert run.rows[student, Q]["max_score"] == 10


def test_the_released_template_is_what_ran(run):
    released = [(c.cell_type, gid(c), c.source) for c in answer_notebook(Q, WRONG).cells
                if not c.metadata.get("nbgrader", {}).get("solution")]
    for student in ("delete_locked", "retype", "reverse", "replace_hidden", "edit_metadata"):
        ran = [(c.cell_type, gid(c), c.source) for c in autograded(run, student).cells
               if gid(c) and gid(c) not in WRONG]
        assert ran == released, student
    hidden = cell(autograded(run, "replace_hidden"), HIDDEN)
    assert "10/10" not in json.dumps(hidden)


def test_nbgrader_keeps_the_released_points(run):
    gb = open_gradebook(run.course)
    try:
        for student in ("edit_metadata", "replace_hidden"):
            nb = gb.find_submission_notebook(Q, "hw1", student)
            assert nb.max_score == 10 and nb.score <= 10
            # The hidden checks carry every point; the public checks are nbgrader tests worth 0.
            assert [g.name for g in nb.grades if g.max_score > 0] == [HIDDEN]
            assert all(g.max_score == 0 for g in nb.grades if g.name != HIDDEN)
    finally:
        gb.close()


def test_repairs_are_explained(run):
    notes = {s: " ".join(run.grades[s].notes) for s in run.grades}
    assert "'conv_convolve_solution' was missing" in notes["delete_answer"]
    assert points(run.grades["delete_answer"], "test_cross_correlation_values") == 4
    assert "appears more than once" in notes["duplicate_answer"]
    assert "'conv_xcorr_solution' was missing" in notes["rename_answer"]


def test_the_kernelspec_of_the_submission_is_ignored(run):
    assert run.grades["evil_kernel"].score == 10
    assert autograded(run, "evil_kernel").metadata["kernelspec"]["name"] == "python3"
    assert not __import__("os").path.exists(MARKER)


@pytest.mark.parametrize("student", sorted(INVALID))
def test_unreadable_files_are_invalid_with_a_clear_message(run, student):
    g = run.grades[student]
    assert (g.status, g.score, g.max_score) == ("invalid", 0, 10), g.message
    assert INVALID[student][1] in g.message
    assert all(c["message"] == g.message for c in g.checks)
    assert run.rows[student, Q]["status"] == "invalid" and run.rows[student, Q]["message"] == g.message
