"""cli.py: `python -m autograder` run as the instructor runs it (a subprocess, --workspace pointing at a
prepared gradebook) for help, usage errors, table and export; export elsewhere and feedback in-process."""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys

import pytest
from test_gradebook import (DETAIL, HOMEWORK, SECRET, check, conv_checks, notebook_grade, record_grades,
                            registered_course, zero_checks)

from autograder import cli
from autograder.course import REPO_ROOT


def autograder(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


def table_rows(output: str) -> dict[str, list[str]]:
    """Body rows of a rich table, keyed by their first cell."""
    rows = {}
    for line in output.splitlines():
        if line.count("│") >= 2:
            cells = [c.strip() for c in line.split("│")[1:-1]]
            rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """alice: conv_by_hand 10/10, gradcam 5/8; bob: conv_by_hand timed out with 2/10, mnist_cnn not
    submitted. (No question with a written answer: how those count in totals is about to change.)"""
    course = registered_course(tmp_path_factory, "cli")
    grades = [
        notebook_grade("alice", "conv_by_hand", wall_s=3.2, peak_rss_mb=150.4),
        notebook_grade("alice", "gradcam", wall_s=2.0, peak_rss_mb=180.2, checks=[
            check("test_heatmap_shape", "The heatmap has the right size.", 2),
            check("test_matches_reference_gradcam", "Matches a reference Grad-CAM.", 6, 3,
                  message="heatmaps differ for 2 of 4 images", detail=DETAIL)]),
        notebook_grade("bob", "conv_by_hand", "timed out", checks=conv_checks(xcorr=0, conv=0, non_square=0),
                       message="timed out in conv_xcorr_solution; limit hit: wall time", wall_s=61.0,
                       peak_rss_mb=90.0, limit_hit="wall time"),
        notebook_grade("bob", "mnist_cnn", "missing", message="this question was not submitted",
                       checks=zero_checks([{"id": "t", "title": "Parameters.", "max_points": 10.0}], "not submitted")),
    ]
    record_grades(course, *grades)
    return course, grades


def test_help_lists_every_command():
    result = autograder("--help")
    assert result.returncode == 0, result.stderr
    commands = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"table", "export", "feedback", "grade"} <= set(commands)
    for name in commands:
        assert name in result.stdout, name
    assert "--workspace" in result.stdout


@pytest.mark.parametrize("args", [(), ("no-such-command",), ("table", "--no-such-option")])
def test_bad_usage_exits_2(args):
    result = autograder(*args)
    assert result.returncode == 2 and "usage:" in result.stderr, result


def test_table(graded):
    course, _ = graded
    result = autograder("--workspace", str(course.workspace), "table", HOMEWORK)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Questions in the book's order (not alphabetical: gradcam comes after mnist_cnn there).
    shown = [q for q in course.questions(HOMEWORK) if q in {"conv_by_hand", "gradcam", "mnist_cnn"}]
    header = next(line for line in out.splitlines() if "conv_by_hand" in line)
    assert [header.index(q) for q in shown] == sorted(header.index(q) for q in shown)
    columns = ["student", *shown, "total", "time", "peak MB", "limits hit"]
    assert all(c.split()[0] in header for c in columns)

    rows = table_rows(out)
    assert set(rows) == {"alice", "bob"}
    alice = dict(zip(columns[1:], rows["alice"]))
    bob = dict(zip(columns[1:], rows["bob"]))
    # Each question's cell: score, then the time it took.
    assert (alice["conv_by_hand"], alice["gradcam"], alice["mnist_cnn"]) == ("10/10 3s", "5/8 2s", "")
    assert (alice["total"], alice["time"], alice["peak MB"], alice["limits hit"]) == ("15/18", "5 s", "180", "")
    assert (bob["conv_by_hand"], bob["mnist_cnn"], bob["gradcam"]) == ("2/10 (timed out) 61s", "0/10 (missing)", "")
    assert (bob["total"], bob["time"], bob["limits hit"]) == ("2/20", "61 s", "wall time (conv_by_hand)")
    assert SECRET not in out


def test_export_writes_csv_and_results(graded, tmp_path):
    course, grades = graded
    result = autograder("--workspace", str(course.workspace), "export", HOMEWORK)
    assert result.returncode == 0, result.stderr
    csv_path, gradescope = course.workspace / "grades.csv", course.workspace / "gradescope"
    assert str(csv_path) in result.stdout.replace("\n", "") and "2 results.json" in result.stdout
    with csv_path.open(newline="") as handle:
        rows = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    assert {k: (r["status"], float(r["autograded_score"])) for k, r in rows.items()} == \
        {(g.student, g.notebook): (g.status, g.score) for g in grades}
    bob = json.loads((gradescope / "bob" / HOMEWORK / "results.json").read_text())
    assert bob["score"] == 2 and bob["extra_data"]["conv_by_hand"]["limit_hit"] == "wall time"
    assert len(bob["tests"]) == 4 + 1

    # Elsewhere, when asked (in-process: a second interpreter importing nbgrader costs seconds).
    assert cli.main(["--workspace", str(course.workspace), "export", HOMEWORK,
                     "--csv", str(tmp_path / "g.csv"), "--gradescope", str(tmp_path / "gs")]) == 0
    assert (tmp_path / "g.csv").read_text() == csv_path.read_text()
    assert sorted(p.relative_to(tmp_path / "gs").parts for p in (tmp_path / "gs").rglob("*.json")) == \
        [("alice", HOMEWORK, "results.json"), ("bob", HOMEWORK, "results.json")]


def test_feedback_command(graded, capsys):
    course, _ = graded
    assert cli.main(["--workspace", str(course.workspace), "feedback", HOMEWORK]) == 0
    assert "wrote feedback for 2 submissions" in capsys.readouterr().out
    assert (course.feedback / "bob" / HOMEWORK / "checks.html").exists()


# ------------------------------------------------------------------ mistakes: one line, non-zero, nothing lost
@pytest.mark.parametrize("args, words", [
    (("export", "hw9"), "no homework 'hw9'; the course has: hw1"),
    (("collect", "hw1", "--from", "/tmp/no-such-download.zip"), "no such file or folder"),
    (("collect", "hw1"), "collect hw1 --from <folder or zip>"),      # nothing in the exchange
    (("grade", "hw1"), "run `collect hw1` first"),
    (("table", "hw1"), "run `grade hw1` first"),
    (("feedback", "hw1"), "run `grade hw1` first"),
    (("calibrate", "hw_1"), "did you mean 'hw1'?"),
])
def test_a_mistake_is_one_line_and_exit_2(tmp_path, args, words):
    result = autograder(*args, "--workspace", str(tmp_path / "fresh"))   # global option after the command
    assert result.returncode == 2, result
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, lines


def test_an_unknown_student_is_named(graded):
    course, _ = graded
    (course.submitted / "alice" / HOMEWORK).mkdir(parents=True, exist_ok=True)
    result = autograder("grade", HOMEWORK, "--student", "alicee", "--workspace", str(course.workspace))
    assert result.returncode == 2 and "no submission of hw1 from 'alicee' (did you mean 'alice'?)" in result.stdout


def test_an_unexpected_failure_is_one_line_with_the_log(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "gradebook.db").write_text("not a database")
    result = autograder("table", HOMEWORK, "--workspace", str(workspace))
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("error: ") and f"details in {workspace / 'autograder-errors.log'}" in line
    assert "Traceback" in (workspace / "autograder-errors.log").read_text()


def test_export_refuses_to_replace_a_csv_with_less(graded):
    course, _ = graded
    path = course.workspace / "grades.csv"
    assert autograder("export", HOMEWORK, "--workspace", str(course.workspace)).returncode == 0
    path.write_text(path.read_text() + "zoe,hw0,q,graded,1,1,0,0,0,1,1,,,,,,,\n")
    before = path.read_text()
    result = autograder("export", HOMEWORK, "--workspace", str(course.workspace))
    assert result.returncode == 2 and "--force" in result.stdout and path.read_text() == before
    assert autograder("export", HOMEWORK, "--force", "--workspace", str(course.workspace)).returncode == 0
    assert "zoe" not in path.read_text()


def test_collect_a_canvas_download_with_a_roster(tmp_path):
    import zipfile

    released = (REPO_ROOT / "assignments" / HOMEWORK / "conv_by_hand.ipynb").read_bytes()
    download = tmp_path / "submissions.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("smithcarol_12345_67890_conv_by_hand.ipynb", released)
        archive.writestr("smithcarol_12345_67891_conv_by_hand (1).ipynb", released)   # a browser's duplicate
        archive.writestr("doejohn_LATE_222_333_gradcam.ipynb", released)
        archive.writestr("doejohn_222_334_report.pdf", b"%PDF")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,lms_id\ncsmith,Carol Smith,12345\njdoe,John Doe,222\n")
    workspace = tmp_path / "ws"
    result = autograder("collect", HOMEWORK, "--from", str(download), "--roster", str(roster),
                        "--workspace", str(workspace))
    assert result.returncode == 0, result
    assert "collected 2 notebooks from 2 students (canvas layout)" in result.stdout
    assert "report.pdf" in result.stdout and "late: jdoe" in result.stdout
    assert sorted(p.relative_to(workspace / "submitted").as_posix() for p in workspace.rglob("*.ipynb")) == \
        [f"csmith/{HOMEWORK}/conv_by_hand.ipynb", f"jdoe/{HOMEWORK}/gradcam.ipynb"]

    wrong = tmp_path / "wrong"
    (wrong / "alice" / HOMEWORK).mkdir(parents=True)
    (wrong / "alice" / HOMEWORK / "conv_by_hnd.ipynb").write_bytes(released)
    result = autograder("collect", HOMEWORK, "--from", str(wrong), "--workspace", str(tmp_path / "ws2"))
    assert result.returncode == 1 and "nothing of hw1 was collected" in result.stdout
    assert "conv_by_hand" in result.stdout   # the names it would have taken


def test_the_table_and_exports_count_hand_graded_answers(tmp_path_factory):
    from test_export import set_manual_score
    from test_gradebook import WRITTEN_CELL, opencv_checks

    course = registered_course(tmp_path_factory, "cli_manual")
    record_grades(course, *[notebook_grade(s, "opencv_filters", checks=opencv_checks(border=0),
                                           manual_answers={WRITTEN_CELL: "an answer"}) for s in ("ann", "ben")])
    set_manual_score(course, "ann", "opencv_filters", WRITTEN_CELL, 1.5)
    result = autograder("table", HOMEWORK, "--workspace", str(course.workspace))
    rows = table_rows(result.stdout)
    assert rows["ann"][0] == "7.5/10" and rows["ben"][0] == "6/10 +1 pending", rows
    result = autograder("export", HOMEWORK, "--workspace", str(course.workspace))
    assert result.returncode == 0 and "1 written answers wait for a grader" in result.stdout
    with (course.workspace / "canvas.csv").open(newline="") as handle:
        canvas = {r["SIS User ID"]: r[HOMEWORK] for r in csv.DictReader(handle)}
    with (course.workspace / "moodle.csv").open(newline="") as handle:
        moodle = {r["ID number"]: r[HOMEWORK] for r in csv.DictReader(handle)}
    assert canvas == moodle == {"ann": "7.5", "ben": "6"}

    roster = course.workspace / "roster.csv"
    roster.write_text("student_id,name,email,lms_id\nann,Ann Lee,ann@uni.edu,4242\n")
    assert autograder("export", HOMEWORK, "--roster", str(roster), "--workspace", str(course.workspace)).returncode == 0
    with (course.workspace / "canvas.csv").open(newline="") as handle:
        ann = next(r for r in csv.DictReader(handle) if r["SIS User ID"] == "ann")
    assert (ann["Student"], ann["ID"], ann["SIS Login ID"]) == ("Ann Lee", "4242", "ann@uni.edu")
