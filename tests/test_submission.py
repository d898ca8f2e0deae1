"""Rebuilding a submitted file on the released template: bad files are reported, tampering is undone."""
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.submission import grade_id, load_submission, merge, read_notebook


def nbg(cell, grade_id, solution=False, locked=False, grade=False, points=None):
    meta = {"grade_id": grade_id, "solution": solution, "locked": locked, "grade": grade, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


@pytest.fixture
def template():
    return new_notebook(cells=[
        nbg(new_markdown_cell("# Prompt"), "prompt", locked=True),
        nbg(new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()"), "answer", solution=True),
        nbg(new_code_cell("assert f(1) == 2, 'f(1) should be 2'"), "public_check", locked=True),
        nbg(new_markdown_cell("YOUR ANSWER HERE"), "written", solution=True, grade=True, points=2),
        nbg(new_code_cell("# Hidden checks (5 points)"), "hidden_checks", locked=True, grade=True, points=5),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def student_copy(template, answer="def f(x):\n    return x + 1"):
    nb = nbformat.from_dict(json.loads(json.dumps(template)))
    nb.cells[1].source = answer
    return nb


def sources(nb):
    return [c.source for c in nb.cells]


def test_answer_and_own_cells_are_kept_in_place(template):
    nb = student_copy(template)
    nb.cells.insert(2, new_code_cell("helper = 3"))
    merged, notes = merge(template, nb)
    assert sources(merged)[1:3] == ["def f(x):\n    return x + 1", "helper = 3"]
    assert notes == []


def test_edited_locked_cells_are_restored(template):
    nb = student_copy(template)
    nb.cells[2].source = "pass  # removed the check"
    nb.cells[4].source = "score = 100"
    merged, _ = merge(template, nb)
    assert sources(merged)[2] == template.cells[2].source
    assert sources(merged)[4] == template.cells[4].source


def test_deleted_cells_come_back_and_missing_answer_is_noted(template):
    nb = student_copy(template)
    del nb.cells[1:3]
    merged, notes = merge(template, nb)
    assert [c.metadata.nbgrader.grade_id for c in merged.cells] == ["prompt", "answer", "public_check", "written", "hidden_checks"]
    assert "NotImplementedError" in merged.cells[1].source
    assert any("'answer' was missing" in n for n in notes)


def test_duplicated_answer_cell_grades_the_first_copy(template):
    nb = student_copy(template)
    dup = nbformat.from_dict(json.loads(json.dumps(nb.cells[1])))
    dup.source = "def f(x):\n    return 0"
    nb.cells.append(dup)
    merged, notes = merge(template, nb)
    assert merged.cells[1].source == "def f(x):\n    return x + 1"
    assert "def f(x):\n    return 0" not in sources(merged)
    assert any("more than once" in n for n in notes)


def test_reordered_and_retyped_cells_follow_the_template(template):
    nb = student_copy(template)
    nb.cells = [nb.cells[4], nb.cells[2], nb.cells[1], nb.cells[0], nb.cells[3]]
    nb.cells[2].cell_type = "markdown"  # the answer cell retyped
    merged, _ = merge(template, nb)
    assert [c.cell_type for c in merged.cells] == [c.cell_type for c in template.cells]
    assert merged.cells[1].source == "def f(x):\n    return x + 1"


def test_foreign_kernelspec_is_replaced(template):
    nb = student_copy(template)
    nb.metadata["kernelspec"] = {"name": "evil", "display_name": "x", "language": "bash"}
    merged, _ = merge(template, nb)
    assert merged.metadata.kernelspec.name == "python3"


def test_a_different_notebook_is_flagged(template):
    other = new_notebook(cells=[new_code_cell("print('hello')")])
    merged, notes = merge(template, other)
    assert "right notebook" in notes[0]
    answer = next(c for c in merged.cells if grade_id(c) == "answer")
    assert "NotImplementedError" in answer.source
    assert "print('hello')" in sources(merged)  # kept as the student's own cell


@pytest.mark.parametrize("content, expected", [
    (b"", "empty"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"cells": [', "not valid JSON"),
    (b'[1, 2, 3]', "not a Jupyter notebook"),
    (b'{"cells": [{"cell_type": "banana"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a readable"),
])
def test_unreadable_files_are_reported_not_raised(tmp_path, template, content, expected):
    path = tmp_path / "q.ipynb"
    path.write_bytes(content)
    prepared = load_submission(path, template)
    assert prepared.notebook is None
    assert expected in prepared.problem


def test_missing_file(tmp_path, template):
    prepared = load_submission(tmp_path / "absent.ipynb", template)
    assert prepared.notebook is None and "not submitted" in prepared.problem


def test_old_nbformat_is_upgraded(tmp_path, template):
    path = tmp_path / "q.ipynb"
    nbformat.write(nbformat.convert(student_copy(template), 3), path, version=3)
    assert json.loads(path.read_text())["nbformat"] == 3
    nb, problem = read_notebook(path)
    assert problem is None and nb.nbformat == 4
    assert "return x + 1" in merge(template, nb)[0].cells[1].source
