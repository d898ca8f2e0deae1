"""feedback.py: the per-check report students get (titles, points, messages; never the instructor-only
detail), and generate_feedback next to nbgrader's own notebook feedback."""
from __future__ import annotations

import shutil
from html.parser import HTMLParser

import pytest
from test_gradebook import (DETAIL, GRADER_ERROR_NOTE, HOMEWORK, SECRET, WRITTEN_CELL, check, conv_checks, notebook_grade,
                            opencv_checks, record_grades, registered_course)

from autograder.feedback import check_lines, generate_feedback, render_html


def run_of(grade) -> dict:
    """A gradebook run record of a NotebookGrade, as `runs()` returns it."""
    return {"student": grade.student, "assignment": grade.assignment, "notebook": grade.notebook,
            "status": grade.status, "score": grade.score, "max_score": grade.max_score, "checks": grade.checks,
            "notes": grade.notes, "message": grade.message}


def row_of(grade, written=()) -> dict:
    """A grade_rows() row of a NotebookGrade: its run and its written answers' grades."""
    written = list(written)
    score = grade.score + sum(w["score"] or 0 for w in written)
    return {"notebook": grade.notebook, "total_score": score,
            "total_max": grade.max_score + sum(w["max_score"] for w in written),
            "written_pending": sum(w["pending"] for w in written), "_run": run_of(grade), "_written": written}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.items, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        if data.strip():
            self.items.append(data.strip())


def parsed(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    return parser


# ---------------------------------------------------------------- the report itself

def test_check_lines_mark_points_and_messages():
    checks = [check("a", "Shapes are right.", 2),
              check("b", "Values match a reference.", 4, 1.5, message="3 of 8 cases differ", detail=DETAIL),
              check("c", "Runs on the GPU.", 1, 0, message="skipped on this grader: no CUDA", skipped=True),
              check("d", "Even kernels.", 1, 0)]
    checks[0]["message"] = "passed checks keep their message to themselves"
    grade = notebook_grade("s", "conv_by_hand", checks=checks, message="ran to the end with errors (first in cell 3)",
                           notes=["cell 3: ValueError: bad shape", GRADER_ERROR_NOTE])
    assert check_lines(run_of(grade)) == [
        "Outcome: graded (ran to the end with errors (first in cell 3))",
        "[PASS] Shapes are right. (2/2)",
        "[FAIL] Values match a reference. (1.5/4): 3 of 8 cases differ",
        "[SKIP] Runs on the GPU. (0/1): skipped on this grader: no CUDA",
        "[FAIL] Even kernels. (0/1)",
        "Note: cell 3: ValueError: bad shape",
    ]


def test_check_lines_without_a_message():
    lines = check_lines(run_of(notebook_grade("s", "conv_by_hand", "missing", checks=[])))
    assert lines == ["Outcome: missing"]


def test_render_html_shows_scores_titles_and_messages_but_no_detail():
    rows = [row_of(notebook_grade("s", "conv_by_hand", checks=conv_checks(xcorr=2.5, conv=0),
                                  notes=[GRADER_ERROR_NOTE])),
            row_of(notebook_grade("s", "opencv_filters", checks=opencv_checks(border=0)))]
    page = render_html("s", HOMEWORK, rows)
    runs = [row["_run"] for row in rows]
    text = parsed(page).items
    assert f"{HOMEWORK}: feedback for s" in text
    assert "conv_by_hand: 5.5 / 10" in text and "opencv_filters: 6 / 8" in text
    for run in runs:
        for c in run["checks"]:
            assert any(c["title"] in item for item in text), c["title"]
            if not c["passed"]:
                assert any(item.endswith(": " + c["message"]) for item in text), c["message"]
    assert SECRET not in page and "Traceback" not in page and "test_conv_by_hand.py" not in page


def test_render_html_escapes_text_from_the_students_kernel():
    hostile = "<script>alert('x')</script>"
    grade = notebook_grade("<b>mallory</b>", "conv_by_hand", checks=conv_checks(conv=0), message=hostile,
                           notes=[f"cell 2: Exception: {hostile}"])
    grade.checks[2]["message"] = f"convolve2d raised {hostile}"
    page = render_html(grade.student, HOMEWORK, [row_of(grade)])
    assert "<script" not in page and "<b>" not in page
    assert set(parsed(page).tags) <= {"meta", "title", "h1", "h2", "ul", "li"}
    assert any(hostile in item for item in parsed(page).items)   # shown as text, not dropped


# ---------------------------------------------------------------- generate_feedback

def _grades():
    return [
        notebook_grade("fb_alice", "conv_by_hand", checks=conv_checks(shapes=0, xcorr=0), wall_s=4.0,
                       notes=[GRADER_ERROR_NOTE]),
        notebook_grade("fb_alice", "opencv_filters"),
        notebook_grade("fb_bob", "conv_by_hand", "timed out", checks=conv_checks(xcorr=0, conv=0, non_square=0),
                       message="timed out in conv_xcorr_solution; limit hit: wall time", limit_hit="wall time"),
    ]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = registered_course(tmp_path_factory, "feedback")
    grades = _grades()
    record_grades(course, *grades)
    return course, grades


def test_generate_feedback_writes_one_report_per_submission(graded):
    course, grades = graded
    written, waiting, nbgrader_problem = generate_feedback(course, HOMEWORK)
    assert nbgrader_problem is None and waiting == []
    assert written == [course.feedback / s / HOMEWORK / "checks.html" for s in ("fb_alice", "fb_bob")]
    for path in written:
        student = path.parts[-3]
        page = path.read_text()
        text = parsed(page).items
        for grade in (g for g in grades if g.student == student):
            assert f"{grade.notebook}: {grade.score:g} / {grade.max_score:g}" in text
            for c in grade.checks:
                assert any(c["title"] in item for item in text)
                assert c["passed"] or any(c["message"] in item for item in text)
        assert SECRET not in page and "Traceback" not in page
    assert "conv_by_hand: 4 / 10" in parsed(written[0].read_text()).items
    assert "Outcome: timed out (timed out in conv_xcorr_solution; limit hit: wall time)" in \
        parsed(written[1].read_text()).items
    # Without autograded notebooks there is no nbgrader feedback to write.
    assert sorted(p.name for p in course.feedback.rglob("*.html")) == ["checks.html", "checks.html"]


def test_generate_feedback_with_nbgrader_notebook_feedback(tmp_path_factory):
    course = registered_course(tmp_path_factory, "feedback_nbgrader")
    grades = _grades()
    record_grades(course, *grades)
    for grade in grades:   # what grading keeps: the executed notebook (here the released one, unexecuted)
        folder = course.autograded / grade.student / HOMEWORK
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(course.assignments / HOMEWORK / f"{grade.notebook}.ipynb", folder)

    written, waiting, nbgrader_problem = generate_feedback(course, HOMEWORK)
    assert nbgrader_problem is None and waiting == []
    for grade in grades:
        folder = course.feedback / grade.student / HOMEWORK
        nbgrader_page = (folder / f"{grade.notebook}.html").read_text()
        assert f"Score: {grade.score:.1f} / {grade.max_score:.1f}" in nbgrader_page
        assert SECRET not in nbgrader_page
        # nbgrader replaces a submission's feedback folder; our report is written after it.
        assert folder / "checks.html" in written and (folder / "checks.html").exists()


@pytest.mark.parametrize("score, line", [
    (None, f"[WRITTEN] {WRITTEN_CELL}: pending (graded by hand, out of 2)"),
    (1.5, f"[WRITTEN] {WRITTEN_CELL}: 1.5/2"),
])
def test_written_answers_show_their_score_or_pending(score, line):
    grade = notebook_grade("s", "opencv_filters", checks=opencv_checks(border=0))
    written = [{"cell": WRITTEN_CELL, "score": score, "max_score": 2, "pending": score is None, "regraded": False}]
    items = parsed(render_html("s", HOMEWORK, [row_of(grade, written)])).items
    assert line in items
    assert ("opencv_filters: 6 / 10 (1 written answer(s) pending)" if score is None
            else "opencv_filters: 7.5 / 10") in items


def test_nbgrader_feedback_waits_for_hand_grading(tmp_path_factory):
    course = registered_course(tmp_path_factory, "feedback_pending")
    grades = [notebook_grade("fb_done", "opencv_filters"),
              notebook_grade("fb_wait", "opencv_filters", manual_answers={WRITTEN_CELL: "an answer"})]
    record_grades(course, *grades)
    for grade in grades:
        folder = course.autograded / grade.student / HOMEWORK
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(course.assignments / HOMEWORK / "opencv_filters.ipynb", folder)
    written, waiting, problem = generate_feedback(course, HOMEWORK)
    assert problem is None and waiting == ["fb_wait"]
    assert (course.feedback / "fb_done" / HOMEWORK / "opencv_filters.html").exists()
    assert not (course.feedback / "fb_wait" / HOMEWORK / "opencv_filters.html").exists()
    assert "pending" in (course.feedback / "fb_wait" / HOMEWORK / "checks.html").read_text()
    written, waiting, problem = generate_feedback(course, HOMEWORK, partial=True)
    assert waiting == [] and (course.feedback / "fb_wait" / HOMEWORK / "opencv_filters.html").exists()
