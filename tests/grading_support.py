"""Helpers for tests that grade real notebooks end to end in a temporary workspace.

    course = temp_course(tmp_path)
    submit(course, "alice", "conv_by_hand", answer_notebook("conv_by_hand", {"conv_xcorr_solution": CODE}))
    grades = grade(course, cell_timeout_s=20)          # {(student, question): NotebookGrade}

Answer notebooks start from the bundled `reference` example submission (what a student who solved
everything hands in), so a test changes only the cells its case is about.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import nbformat
from nbformat.validator import DuplicateCellId

from autograder.course import REPO_ROOT, Course
from autograder.grade import GradingOptions, grade_homework
from autograder.gradebook import NotebookGrade, open_gradebook, runs
from autograder.submission import grade_id

HOMEWORK = "hw1"
EXAMPLES = REPO_ROOT / "examples" / "submissions"


def temp_course(tmp_path: Path) -> Course:
    course = Course(REPO_ROOT, tmp_path / "workspace")
    course.ensure_workspace()
    return course


def answer_notebook(question: str, replace: dict[str, str] | None = None, student: str = "reference"):
    """The example student's notebook for `question`, with cells (by grade_id) given new sources."""
    nb = nbformat.read(EXAMPLES / student / HOMEWORK / f"{question}.ipynb", as_version=4)
    unused = set(replace or {})
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in unused:
            cell.source = replace[gid]
            unused.discard(gid)
    if unused:
        raise KeyError(f"{question} has no cells {sorted(unused)}")
    return nb


def answer_source(question: str, cell_id: str, student: str = "reference") -> str:
    """The source of one cell (by grade_id) of an example student's notebook."""
    return next(c.source for c in answer_notebook(question, student=student).cells if grade_id(c) == cell_id)


def submit(course: Course, student: str, question: str, content) -> Path:
    """Place a submission as `collect` would: a notebook node, or raw bytes / text for broken files."""
    path = course.submitted / student / HOMEWORK / f"{question}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        with warnings.catch_warnings():
            # hostile tests submit notebooks with duplicated cells on purpose
            warnings.simplefilter("ignore", DuplicateCellId)
            nbformat.write(content, path)
    return path


def grade(course: Course, students: list[str] | None = None, regrade: bool = False,
          **limits) -> dict[tuple[str, str], NotebookGrade]:
    """Grade what was submitted; `limits` override every question's budget (e.g. cell_timeout_s)."""
    options = GradingOptions(overrides=limits, regrade=regrade)
    graded = grade_homework(course, HOMEWORK, options, students=students)
    return {(g.student, g.notebook): g for g in graded}


def recorded(course: Course) -> dict[tuple[str, str], dict]:
    """The gradebook's grading records, keyed by (student, question)."""
    gb = open_gradebook(course)
    try:
        return {(r["student"], r["notebook"]): r for r in runs(gb, HOMEWORK)}
    finally:
        gb.close()


def points(grade_or_row, check_id: str) -> float:
    checks = grade_or_row.checks if hasattr(grade_or_row, "checks") else grade_or_row["checks"]
    return next(c["points"] for c in checks if c["id"] == check_id)
