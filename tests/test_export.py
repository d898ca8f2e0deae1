"""export.py: grade rows joined with nbgrader's scores, the instructor's CSV and Gradescope results.json,
from NotebookGrade values recorded by hand in a registered gradebook (no sandbox, no kernel)."""
from __future__ import annotations

import csv
import json

import pytest
from test_gradebook import (DETAIL, GRADER_ERROR_NOTE, HOMEWORK, SECRET, WRITTEN_CELL, check, conv_checks,
                            notebook_grade, opencv_checks, record_grades, registered_course, zero_checks)

from autograder.errors import UsageError
from autograder.export import CSV_FIELDS, export_csv, export_gradescope, export_lms, grade_rows
from autograder.gradebook import open_gradebook

INVALID = "the file is not valid JSON (line 3, column 7): was it saved from Jupyter?"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """alice: full marks on conv_by_hand, a failed border check on opencv_filters (written answer
    pending); bob: conv_by_hand timed out, mnist_cnn missing; carol: an invalid file; dave: partial
    credit on conv_by_hand and gradcam (no written answers: only those change how totals count)."""
    course = registered_course(tmp_path_factory, "export")
    grades = {
        ("alice", "conv_by_hand"): notebook_grade(
            "alice", "conv_by_hand", message="ran to the end", wall_s=3.2, peak_rss_mb=150.0),
        ("alice", "opencv_filters"): notebook_grade(
            "alice", "opencv_filters", checks=opencv_checks(border=0), message="ran to the end",
            notes=["cell 4: NameError: name 'cv' is not defined", GRADER_ERROR_NOTE],
            manual_answers={WRITTEN_CELL: True}, wall_s=2.0, peak_rss_mb=180.0),
        ("bob", "conv_by_hand"): notebook_grade(
            "bob", "conv_by_hand", "timed out", checks=conv_checks(xcorr=0, conv=0, non_square=0),
            message="timed out in conv_xcorr_solution; limit hit: wall time", wall_s=61.0, peak_rss_mb=90.0,
            limit_hit="wall time"),
        ("bob", "mnist_cnn"): notebook_grade(
            "bob", "mnist_cnn", "missing",
            checks=zero_checks([{"id": "test_parameter_count", "title": "Parameter count.", "max_points": 10.0}],
                               "this question was not submitted"),
            message="this question was not submitted"),
        ("carol", "conv_by_hand"): notebook_grade(
            "carol", "conv_by_hand", "invalid", checks=zero_checks(conv_checks(), INVALID), message=INVALID),
        ("dave", "conv_by_hand"): notebook_grade("dave", "conv_by_hand", checks=conv_checks(conv=0)),
        ("dave", "gradcam"): notebook_grade("dave", "gradcam", checks=[
            check("test_heatmap_shape", "The heatmap has the right size.", 2),
            check("test_matches_reference_gradcam", "Matches a reference Grad-CAM.", 6, 4.5,
                  message="heatmaps differ for 1 of 4 images", detail=DETAIL)]),
    }
    record_grades(course, *grades.values())
    return course, grades


def test_grade_rows_join_runs_with_nbgrader_scores(graded):
    course, grades = graded
    rows = {(r["student"], r["notebook"]): r for r in grade_rows(course, HOMEWORK)}
    assert set(rows) == set(grades)
    for key, grade in grades.items():
        row = rows[key]
        assert (row["assignment"], row["status"], row["message"]) == (HOMEWORK, grade.status, grade.message)
        assert (row["autograded_score"], row["autograded_max"]) == (grade.score, grade.max_score)
        assert (row["wall_s"], row["peak_rss_mb"], row["limit_hit"]) == (grade.wall_s, grade.peak_rss_mb,
                                                                          grade.limit_hit)
        assert row["_run"]["checks"] == grade.checks
    # nbgrader's notebook score is the hidden checks' score when nothing waits for a TA.
    assert (rows["alice", "conv_by_hand"]["notebook_score"], rows["alice", "conv_by_hand"]["notebook_max"]) == (10, 10)
    assert rows["bob", "conv_by_hand"]["notebook_score"] == 2
    assert rows["alice", "conv_by_hand"]["written_pending"] == 0
    assert rows["alice", "opencv_filters"]["written_pending"] == 1
    assert rows["alice", "opencv_filters"]["notebook_max"] == 10   # 8 hidden + 2 written
    assert (rows["alice", "opencv_filters"]["total_score"], rows["alice", "opencv_filters"]["total_max"]) == (6, 10)


def test_csv_has_one_row_per_graded_notebook(graded, tmp_path):
    course, grades = graded
    path = export_csv(course, tmp_path / "nested" / "out" / "grades.csv", HOMEWORK)
    assert path == tmp_path / "nested" / "out" / "grades.csv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == CSV_FIELDS
        rows = {(r["student"], r["notebook"]): r for r in reader}
    assert set(rows) == set(grades)
    for (student, question), grade in grades.items():
        row = rows[student, question]
        assert row["status"] == grade.status and row["message"] == grade.message
        assert float(row["autograded_score"]) == grade.score and float(row["autograded_max"]) == grade.max_score
        assert row["limit_hit"] == (grade.limit_hit or "")
    assert rows["bob", "conv_by_hand"]["limit_hit"] == "wall time"
    assert rows["carol", "conv_by_hand"]["message"] == INVALID     # commas and colons survive quoting
    assert rows["alice", "opencv_filters"]["written_pending"] == "1"
    assert "_run" not in path.read_text() and SECRET not in path.read_text()


def test_gradescope_results_per_submission(graded, tmp_path):
    course, grades = graded
    written = export_gradescope(course, tmp_path / "gs", HOMEWORK)
    assert written == [tmp_path / "gs" / s / HOMEWORK / "results.json" for s in ("alice", "bob", "carol", "dave")]
    results = {path.parts[-3]: json.loads(path.read_text()) for path in written}

    for student, result in results.items():
        mine = {q: g for (s, q), g in grades.items() if s == student}
        # No TA has scored a written answer here: the total is the autograded points.
        assert result["score"] == pytest.approx(sum(g.score for g in mine.values()))
        expected_tests = [(f"{q}: {c['title']}", c["points"], c["max_points"], c["passed"])
                          for q, g in sorted(mine.items()) for c in g.checks]
        checks = [t for t in result["tests"] if "written answer" not in t["name"]]
        assert [(t["name"], t["score"], t["max_score"], t["status"] == "passed") for t in checks] == expected_tests
        assert set(result["extra_data"]) == set(mine)
        for question, grade in mine.items():
            assert result["extra_data"][question] == {"status": grade.status, "wall_s": grade.wall_s,
                                                      "peak_rss_mb": grade.peak_rss_mb, "limit_hit": grade.limit_hit,
                                                      "written_pending": len(grade.manual_answers)}
            assert f"== {question}" in result["output"]
            assert f"Outcome: {grade.status}" in result["output"]

    assert results["dave"]["score"] == 13.5   # 7 (convolution failed) + 6.5 (2 + 4.5)
    alice = results["alice"]
    tests = {t["name"]: t for t in alice["tests"]}
    border = tests["opencv_filters: Border pixels use BORDER_REFLECT_101."]
    assert (border["status"], border["score"], border["max_score"]) == ("failed", 0, 2)
    assert border["output"] == "border pixels differ: zero padding instead of reflection?"
    assert tests["conv_by_hand: cross_correlate2d matches a reference."]["output"] == ""
    assert all(t["visibility"] == "visible" for t in alice["tests"])
    assert "cell 4: NameError: name 'cv' is not defined" in alice["output"]
    assert results["bob"]["extra_data"]["conv_by_hand"]["limit_hit"] == "wall time"
    assert results["carol"]["score"] == 0
    assert all(t["output"] == INVALID for t in results["carol"]["tests"])


def test_gradescope_results_never_carry_instructor_detail(graded, tmp_path):
    course, grades = graded
    assert any(c["detail"] for g in grades.values() for c in g.checks)   # there was detail to leak
    for path in export_gradescope(course, tmp_path / "gs", HOMEWORK):
        content = path.read_text()
        assert SECRET not in content and "Traceback" not in content and DETAIL not in content, path
        assert "grader error" not in content, path


def test_a_pending_written_answer_is_pending_not_zero(graded, tmp_path):
    course, _ = graded
    alice = json.loads(export_gradescope(course, tmp_path / "gs", HOMEWORK)[0].read_text())
    written = next(t for t in alice["tests"] if t["name"] == f"opencv_filters: written answer {WRITTEN_CELL}")
    assert "score" not in written and written["max_score"] == 2 and "pending" in written["output"]
    assert "1 written answer(s) wait for a grader" in alice["output"]


# ------------------------------------------------------------------ hand-given scores everywhere
def set_manual_score(course, student, notebook, cell, score):
    gb = open_gradebook(course)
    try:
        grade = gb.find_grade(cell, notebook, HOMEWORK, student)
        grade.manual_score, grade.needs_manual_grade = score, False   # what formgrader does
        gb.db.commit()
    finally:
        gb.close()


@pytest.fixture()
def hand_graded(tmp_path_factory):
    course = registered_course(tmp_path_factory, "hand")
    record_grades(course, notebook_grade("erin", "conv_by_hand"),
                  notebook_grade("erin", "opencv_filters", checks=opencv_checks(border=0),
                                 manual_answers={WRITTEN_CELL: "answer-1"}, submission_sha256="1" * 64))
    set_manual_score(course, "erin", "opencv_filters", WRITTEN_CELL, 1.5)
    return course


def test_a_ta_score_is_in_every_output(hand_graded, tmp_path):
    course = hand_graded
    row = next(r for r in grade_rows(course, HOMEWORK) if r["notebook"] == "opencv_filters")
    assert (row["autograded_score"], row["written_score"], row["written_pending"]) == (6, 1.5, 0)
    assert row["total_score"] == row["notebook_score"] == 7.5   # ours and nbgrader's agree
    with export_csv(course, tmp_path / "g.csv", HOMEWORK).open(newline="") as handle:
        csv_row = next(r for r in csv.DictReader(handle) if r["notebook"] == "opencv_filters")
    assert (csv_row["total_score"], csv_row["written_score"]) == ("7.5", "1.5")
    result = json.loads(export_gradescope(course, tmp_path / "gs", HOMEWORK)[0].read_text())
    assert result["score"] == 17.5
    written = next(t for t in result["tests"] if "written answer" in t["name"])
    assert written["score"] == 1.5 and "pending" not in written["output"]
    for kind, column in (("canvas", "SIS User ID"), ("moodle", "ID number")):
        with export_lms(course, tmp_path / f"{kind}.csv", kind, HOMEWORK).open(newline="") as handle:
            (lms_row,) = list(csv.DictReader(handle))
        assert (lms_row[column], lms_row[HOMEWORK]) == ("erin", "17.5")


def test_regrading_the_same_file_keeps_the_ta_score(hand_graded):
    course = hand_graded
    record_grades(course, notebook_grade("erin", "opencv_filters", checks=opencv_checks(border=0),
                                         manual_answers={WRITTEN_CELL: "answer-1"}, submission_sha256="1" * 64))
    row = next(r for r in grade_rows(course, HOMEWORK) if r["notebook"] == "opencv_filters")
    assert (row["written_score"], row["written_pending"], row["total_score"]) == (1.5, 0, 7.5)


@pytest.mark.parametrize("answer, flagged", [("answer-1", 0), ("answer-2", 1)])
def test_a_resubmission_keeps_the_old_score_and_flags_a_changed_answer(hand_graded, answer, flagged):
    course = hand_graded
    record_grades(course, notebook_grade("erin", "opencv_filters", manual_answers={WRITTEN_CELL: answer},
                                         submission_sha256="2" * 64))   # a new file: the checks pass now
    row = next(r for r in grade_rows(course, HOMEWORK) if r["notebook"] == "opencv_filters")
    assert (row["written_score"], row["written_pending"], row["total_score"]) == (1.5, flagged, 9.5)
    assert row["_written"][0]["regraded"] is bool(flagged)


def test_an_export_never_replaces_a_file_with_less(graded, tmp_path):
    course, _ = graded
    path = export_csv(course, tmp_path / "grades.csv", HOMEWORK)
    kept = path.read_text().splitlines()
    path.write_text("\n".join(kept + ["zoe,hw0,q,graded" + "," * (len(CSV_FIELDS) - 4)]) + "\n")
    before = path.read_text()
    with pytest.raises(UsageError, match="would drop"):
        export_csv(course, path, HOMEWORK)
    assert path.read_text() == before
    export_csv(course, path, HOMEWORK, force=True)
    assert path.read_text().splitlines() == kept
    export_csv(course, path, HOMEWORK)    # the same rows again: no refusal


def test_a_skipped_check_is_not_reported_as_failed(tmp_path_factory, tmp_path):
    course = registered_course(tmp_path_factory, "skipped")
    checks = conv_checks()
    checks[0].update(points=0.0, passed=False, skipped=True, message="skipped on this grader: no CUDA")
    record_grades(course, notebook_grade("sam", "conv_by_hand", checks=checks))
    (result,) = export_gradescope(course, tmp_path / "gs", HOMEWORK)
    test = json.loads(result.read_text())["tests"][0]
    assert "status" not in test and test["output"] == "skipped on this grader: no CUDA"
