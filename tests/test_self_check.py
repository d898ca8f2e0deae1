"""Students' self-check: `nbgrader validate` (and JupyterLab's Validate button, the same validator)
runs the public checks of a released notebook; they are worth no points, and the hidden checks hold
every point of a question."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import examples as ex
from autograder.course import Course
from autograder.release import is_hidden_checks_cell, is_public_check_cell

COURSE = Course()
QUESTIONS = [(hw, q) for hw in COURSE.homeworks() for q in COURSE.questions(hw)]


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.mark.parametrize("homework, question", QUESTIONS)
def test_public_checks_are_tests_worth_nothing(homework, question):
    cells = json.loads((COURSE.assignments / homework / f"{question}.ipynb").read_text())["cells"]
    public = [c for c in cells if is_public_check_cell(c)]
    assert public, "every question has public checks students can run"
    assert all(nbgrader_meta(c)["grade"] and nbgrader_meta(c)["points"] == 0 for c in public)
    graded = [c for c in cells if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("points", 0) > 0
              and c["cell_type"] == "code"]
    assert len(graded) == 1 and is_hidden_checks_cell(graded[0]), "the hidden checks carry the points"


def validate(tmp_path: Path, student: str, question: str = "conv_by_hand") -> subprocess.CompletedProcess:
    """`nbgrader validate` on an example student's notebook, outside the repository."""
    example = next(e for e in ex.examples(COURSE, "hw1", question) if e.student == student)
    folder = tmp_path / student
    folder.mkdir()
    ex.write(folder / f"{question}.ipynb", ex.notebook(COURSE, "hw1", question, example))
    nbgrader = shutil.which("nbgrader", path=str(Path(sys.executable).parent))
    return subprocess.run([nbgrader, "validate", f"{question}.ipynb"], cwd=folder, capture_output=True,
                          text=True, timeout=300)


def test_validate_passes_a_correct_notebook(tmp_path):
    result = validate(tmp_path, "reference")
    assert "Success! Your notebook passes all the tests." in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("student, words", [
    ("blank", "NotImplementedError"),
    ("flipped_kernel", "Is the kernel flipped by mistake?"),   # a public check's own message
])
def test_validate_fails_a_wrong_notebook_with_the_public_checks_message(tmp_path, student, words):
    result = validate(tmp_path, student)
    assert "Success!" not in result.stdout and "VALIDATION FAILED" in result.stdout, result.stdout[-3000:]
    assert words in result.stdout
    assert "Hidden checks" not in result.stdout.split("VALIDATION FAILED")[1]
