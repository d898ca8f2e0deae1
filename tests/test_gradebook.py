"""gradebook.py: NotebookGrade values recorded in nbgrader's real gradebook (no sandbox, no kernel).

hw1 is registered once per test session (nbgrader's gradebook creation shells out to alembic and
costs seconds); every test then works on its own copy of that gradebook. The helpers here are
shared with test_export.py, test_feedback.py and test_cli.py.
"""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from nbgrader.api import MissingEntry
from sqlalchemy import text

from autograder.course import REPO_ROOT, Course
from autograder.grade import hidden_cell_id
from autograder.gradebook import STATUSES, NotebookGrade, graded_notebooks, open_gradebook, record, runs
from autograder.release import register

HOMEWORK = "hw1"
WRITTEN_CELL = "cv_written_answer"   # opencv_filters' written answer, graded by a TA
# Instructor-only text, as the checks plugin stores in `detail` (tracebacks may reveal expected values).
SECRET = "INSTRUCTOR-ONLY expected=0.7311"
DETAIL = ('Traceback (most recent call last):\n  File "autograder/checks/hw1/test_conv_by_hand.py", line 41, '
          f"in test_cross_correlation_values\n    assert np.allclose(out, expected)\nAssertionError: {SECRET}")
GRADER_ERROR_NOTE = f"grader error: Traceback (most recent call last):\nKeyError: '{SECRET}'"

_registered: dict[str, Path] = {}


def registered_course(tmp_path_factory, name: str) -> Course:
    """A fresh workspace whose gradebook knows hw1's cells (registered once, then copied)."""
    if "db" not in _registered:
        template = Course(REPO_ROOT, tmp_path_factory.mktemp("registered") / "workspace")
        register(template, HOMEWORK)
        _registered["db"] = template.gradebook_path
    course = Course(REPO_ROOT, tmp_path_factory.mktemp(name) / "workspace")
    course.ensure_workspace()
    shutil.copy(_registered["db"], course.gradebook_path)
    return course


def check(check_id: str, title: str, max_points: float, points: float | None = None, *,
          message: str = "", detail: str = "", skipped: bool = False) -> dict:
    """One entry of the checks plugin's report; full points unless `points` says otherwise."""
    points = max_points if points is None else points
    passed = points == max_points and not skipped
    return {"id": check_id, "title": title, "max_points": float(max_points), "points": float(points),
            "passed": passed, "skipped": skipped, "message": message, "detail": detail if not passed else ""}


def conv_checks(shapes=2.0, xcorr=4.0, conv=3.0, non_square=1.0) -> list[dict]:
    """conv_by_hand's four checks (10 points), with failing ones explained."""
    return [
        check("test_output_shapes", "cross_correlate2d returns the right output size.", 2, shapes,
              message="output shape (5, 5) for a 7x7 image, stride 1, padding 0: expected another size",
              detail=DETAIL),
        check("test_cross_correlation_values", "cross_correlate2d matches a reference.", 4, xcorr,
              message="values differ from a reference cross-correlation on 3 of 8 cases", detail=DETAIL),
        check("test_convolution_values", "convolve2d matches a reference convolution.", 3, conv,
              message="convolve2d looks like cross-correlation: is the kernel flipped?", detail=DETAIL),
        check("test_non_square_and_even_kernels", "Non-square images and even kernels.", 1, non_square,
              message="fails for a 4x6 image", detail=DETAIL),
    ]


def opencv_checks(border=2.0) -> list[dict]:
    """opencv_filters' hidden checks (8 points); only the border check can fail here."""
    return [
        check("test_returns_four_float_images", "apply_filters returns four float images.", 1),
        check("test_box_blur", "Box blur matches cv2.filter2D.", 1),
        check("test_edges", "Edge kernel matches cv2.filter2D.", 1),
        check("test_sobel_x", "sobel_x responds to changes along x.", 1),
        check("test_sobel_y", "sobel_y responds to changes along y.", 1),
        check("test_border_handling", "Border pixels use BORDER_REFLECT_101.", 2, border,
              message="border pixels differ: zero padding instead of reflection?", detail=DETAIL),
        check("test_structured_images", "Constant images and step edges.", 1),
    ]


def zero_checks(checks: list[dict], message: str) -> list[dict]:
    """What the grader records when a notebook could not be checked (like runner.zero_results)."""
    return [dict(c, points=0.0, passed=False, skipped=False, message=message, detail="") for c in checks]


def notebook_grade(student: str, question: str, status: str = "graded", checks: list[dict] | None = None,
                   **fields) -> NotebookGrade:
    if checks is None:
        checks = conv_checks() if question == "conv_by_hand" else opencv_checks()
    return NotebookGrade(student, HOMEWORK, question, status, checks=checks, **fields)


def record_grades(course: Course, *grades: NotebookGrade, timestamp: str | None = None) -> None:
    gb = open_gradebook(course)
    try:
        for grade in grades:
            record(gb, grade, hidden_cell_id(course, HOMEWORK, grade.notebook), timestamp)
    finally:
        gb.close()


def recorded_runs(course: Course) -> dict[tuple[str, str], dict]:
    gb = open_gradebook(course)
    try:
        return {(r["student"], r["notebook"]): r for r in runs(gb, HOMEWORK)}
    finally:
        gb.close()


# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """One gradebook for this module; each test uses its own students."""
    return registered_course(tmp_path_factory, "gradebook")


def test_score_and_max_score_sum_the_checks_rounded():
    grade = notebook_grade("x", "conv_by_hand", checks=[
        check("a", "A", 0.2, 0.1, message="half"), check("b", "B", 0.2), check("c", "C", 0.6, 0.2)])
    # 0.1 + 0.2 + 0.2 is 0.5000000000000001 in floating point; the grade is rounded.
    assert grade.score == 0.5
    assert grade.max_score == 1.0
    assert notebook_grade("x", "conv_by_hand", checks=[]).score == 0


def test_record_writes_nbgrader_score_and_the_run_record(course):
    grade = notebook_grade("rec_alice", "conv_by_hand", checks=conv_checks(xcorr=1.625, conv=0),
                           notes=["cell 7: NameError: name 'np' is not defined"],
                           message="ran to the end with errors (first in cell 7)", wall_s=12.5,
                           peak_rss_mb=321.0, limit_hit=None, seed=1234, submission_sha256="ab" * 32)
    before = datetime.now(timezone.utc) - timedelta(seconds=2)
    record_grades(course, grade)

    row = recorded_runs(course)["rec_alice", "conv_by_hand"]
    assert (row["status"], row["score"], row["max_score"]) == ("graded", 4.625, 10)
    assert row["checks"] == grade.checks and row["notes"] == grade.notes
    assert (row["message"], row["wall_s"], row["peak_rss_mb"], row["limit_hit"], row["seed"]) == \
        (grade.message, 12.5, 321.0, None, 1234)
    assert row["submission_sha256"] == "ab" * 32
    assert before <= datetime.fromisoformat(row["graded_at"]) <= datetime.now(timezone.utc) + timedelta(seconds=2)

    gb = open_gradebook(course)
    try:
        hidden = gb.find_grade("conv_by_hand_hidden_checks", "conv_by_hand", HOMEWORK, "rec_alice")
        assert hidden.auto_score == 4.625 and not hidden.needs_manual_grade
        notebook = gb.find_submission_notebook("conv_by_hand", HOMEWORK, "rec_alice")
        assert (notebook.score, notebook.max_score) == (4.625, 10)
    finally:
        gb.close()


def test_recording_again_replaces_the_earlier_grade(course):
    record_grades(course, notebook_grade("rec_bob", "conv_by_hand", checks=conv_checks(xcorr=0, conv=0),
                                         submission_sha256="1" * 64, message="first"))
    record_grades(course, notebook_grade("rec_bob", "conv_by_hand", submission_sha256="2" * 64,
                                         message="second"))

    row = recorded_runs(course)["rec_bob", "conv_by_hand"]
    assert (row["score"], row["message"], row["submission_sha256"]) == (10, "second", "2" * 64)
    gb = open_gradebook(course)
    try:
        count = gb.db.execute(text("SELECT COUNT(*) FROM autograder_runs WHERE student = 'rec_bob'")).scalar()
        assert count == 1
        submissions = [s for s in gb.find_student("rec_bob").submissions if s.assignment.name == HOMEWORK]
        assert len(submissions) == 1
        grades = gb.find_submission_notebook("conv_by_hand", HOMEWORK, "rec_bob").grades
        assert len(grades) == len({g.name for g in grades})
        assert gb.find_grade("conv_by_hand_hidden_checks", "conv_by_hand", HOMEWORK, "rec_bob").auto_score == 10
    finally:
        gb.close()


def test_a_failed_write_leaves_the_previous_grade(course):
    record_grades(course, notebook_grade("rec_carol", "opencv_filters", message="kept",
                                         manual_answers={WRITTEN_CELL: True}))
    broken = notebook_grade("rec_carol", "opencv_filters", checks=opencv_checks(border=0), message="lost",
                            manual_answers={"no_such_cell": True})
    with pytest.raises(MissingEntry):
        record_grades(course, broken)

    row = recorded_runs(course)["rec_carol", "opencv_filters"]
    assert (row["score"], row["message"]) == (8, "kept")
    gb = open_gradebook(course)
    try:
        assert gb.find_grade("opencv_filters_hidden_checks", "opencv_filters", HOMEWORK,
                             "rec_carol").auto_score == 8
    finally:
        gb.close()


@pytest.mark.parametrize("answered", [True, False])
def test_written_answers_wait_for_a_ta_or_score_zero(course, answered):
    student = f"rec_written_{answered}"
    record_grades(course, notebook_grade(student, "opencv_filters", manual_answers={WRITTEN_CELL: answered}))
    gb = open_gradebook(course)
    try:
        written = gb.find_grade(WRITTEN_CELL, "opencv_filters", HOMEWORK, student)
        assert written.needs_manual_grade is answered
        assert written.auto_score == (None if answered else 0.0)
        assert gb.find_submission_notebook("opencv_filters", HOMEWORK, student).needs_manual_grade is answered
    finally:
        gb.close()


def test_every_status_is_recorded_as_given(course):
    zero = zero_checks(conv_checks(), "this question was not submitted")
    grades = [notebook_grade(f"status_{i}", "conv_by_hand", status, checks=zero if status != "graded" else None,
                             message=f"outcome {status}") for i, status in enumerate(STATUSES)]
    record_grades(course, *grades)
    rows = recorded_runs(course)
    for i, status in enumerate(STATUSES):
        row = rows[f"status_{i}", "conv_by_hand"]
        assert (row["status"], row["message"]) == (status, f"outcome {status}")
        assert row["max_score"] == 10
        assert row["score"] == (10 if status == "graded" else 0)


def test_graded_notebooks_gives_the_hash_per_student_and_question(tmp_path_factory):
    course = registered_course(tmp_path_factory, "hashes")
    record_grades(
        course,
        notebook_grade("dan", "conv_by_hand", submission_sha256="d1" * 32),
        notebook_grade("dan", "opencv_filters", submission_sha256="d2" * 32),
        notebook_grade("eve", "conv_by_hand", submission_sha256="e1" * 32),
        # a question that was not submitted has no file, hence no hash
        notebook_grade("eve", "opencv_filters", "missing", checks=zero_checks(opencv_checks(), "not submitted")),
    )
    record_grades(course, notebook_grade("eve", "conv_by_hand", submission_sha256="e9" * 32))  # resubmitted
    gb = open_gradebook(course)
    try:
        assert graded_notebooks(gb, HOMEWORK) == {
            ("dan", "conv_by_hand"): "d1" * 32, ("dan", "opencv_filters"): "d2" * 32,
            ("eve", "conv_by_hand"): "e9" * 32, ("eve", "opencv_filters"): None,
        }
        ordered = [(r["student"], r["notebook"]) for r in runs(gb)]
        assert ordered == sorted(ordered)
    finally:
        gb.close()


def submission_time(course, student):
    gb = open_gradebook(course)
    try:
        return gb.find_submission(HOMEWORK, student).timestamp
    finally:
        gb.close()


def test_a_new_submission_gets_the_timestamp_given(course):
    record_grades(course, notebook_grade("rec_time", "conv_by_hand"), timestamp="2026-03-01 12:30:00 UTC")
    assert submission_time(course, "rec_time") == datetime(2026, 3, 1, 12, 30)


def test_a_resubmission_replaces_the_timestamp(course):
    record_grades(course, notebook_grade("rec_late", "conv_by_hand"), timestamp="2026-03-01 12:30:00 UTC")
    record_grades(course, notebook_grade("rec_late", "conv_by_hand"), timestamp="2026-03-03 08:00:00 UTC")
    assert submission_time(course, "rec_late") == datetime(2026, 3, 3, 8, 0)
    record_grades(course, notebook_grade("rec_late", "conv_by_hand"))   # no time given: the last one stays
    assert submission_time(course, "rec_late") == datetime(2026, 3, 3, 8, 0)


def test_registering_again_is_free_until_the_homework_changes(tmp_path_factory, monkeypatch):
    from autograder import release

    course = registered_course(tmp_path_factory, "register_again")
    release.register(course, HOMEWORK)            # records the fingerprint of this homework
    generated = []
    monkeypatch.setattr(release, "generate", lambda *args: generated.append(args))
    release.register(course, HOMEWORK)
    assert generated == [], "an unchanged homework is not released again"
    monkeypatch.setattr(release, "homework_fingerprint", lambda *args: "a master or a check changed")
    release.register(course, HOMEWORK)
    assert len(generated) == 1


def test_public_checks_leave_nothing_for_a_ta(course):
    record_grades(course, notebook_grade("rec_public", "conv_by_hand"))
    gb = open_gradebook(course)
    try:
        notebook = gb.find_submission_notebook("conv_by_hand", HOMEWORK, "rec_public")
        public = [g for g in notebook.grades if g.max_score == 0]
        assert public, "conv_by_hand's public checks are nbgrader tests worth 0 points"
        assert not notebook.needs_manual_grade and (notebook.score, notebook.max_score) == (10, 10)
    finally:
        gb.close()
