"""Export grades: the instructor's CSV, Gradescope-style results.json per submission, and the CSV
files Canvas and Moodle gradebooks import.

Every output carries the same total: autograded points plus the written answers a TA has scored
(nbgrader's notebook score). A written answer nobody has scored yet is pending, never zero.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

from nbgrader.api import MissingEntry

from .course import Course
from .errors import UsageError
from .feedback import check_lines, written_lines
from .files import write_atomic
from .gradebook import open_gradebook, runs, written_grades

CSV_FIELDS = ("student", "assignment", "notebook", "status", "autograded_score", "autograded_max",
              "written_score", "written_max", "written_pending", "total_score", "total_max",
              "notebook_score", "notebook_max", "wall_s", "peak_rss_mb", "limit_hit", "graded_at", "message")


def grade_rows(course: Course, homework: str | None = None) -> list[dict]:
    """One row per graded notebook, joining our run records with nbgrader's scores (manual included)."""
    gb = open_gradebook(course)
    try:
        rows = []
        for run in runs(gb, homework):
            try:
                nb = gb.find_submission_notebook(run["notebook"], run["assignment"], run["student"])
                notebook_score, notebook_max = nb.score, nb.max_score
            except MissingEntry:
                notebook_score, notebook_max = None, None
            written = written_grades(gb, run)
            written_score = sum(w["score"] or 0 for w in written)
            written_max = sum(w["max_score"] for w in written)
            rows.append({
                "student": run["student"], "assignment": run["assignment"], "notebook": run["notebook"],
                "status": run["status"], "autograded_score": run["score"], "autograded_max": run["max_score"],
                "written_score": written_score, "written_max": written_max,
                "written_pending": sum(w["pending"] for w in written),
                "total_score": round(run["score"] + written_score, 4),
                "total_max": round(run["max_score"] + written_max, 4),
                "notebook_score": notebook_score, "notebook_max": notebook_max,
                "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"], "limit_hit": run["limit_hit"],
                "graded_at": run["graded_at"], "message": run["message"], "_run": run, "_written": written,
            })
        return rows
    finally:
        gb.close()


def require_rows(course: Course, homework: str | None) -> list[dict]:
    rows = grade_rows(course, homework)
    if not rows:
        what = homework or "any homework"
        raise UsageError(f"no grades for {what} in {course.gradebook_path}: run `grade {homework or '<hw>'}` first")
    return rows


def _csv_text(fields: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _write_csv(path: Path, fields: list[str], rows: list[dict], keys: list[str], force: bool) -> Path:
    """Write atomically; refuse to drop rows an earlier export of this file had, unless forced."""
    if path.exists() and not force:
        try:
            with path.open(newline="") as handle:
                before = {tuple(r.get(k) for k in keys) for r in csv.DictReader(handle)}
        except (OSError, UnicodeDecodeError, csv.Error):
            before = {("unreadable",)}
        after = {tuple(str(r.get(k)) for k in keys) for r in rows}
        lost = before - after
        if lost:
            raise UsageError(f"{path} has {len(lost)} rows this export would drop (e.g. {'/'.join(map(str, next(iter(lost))))}); "
                             f"export them all, write elsewhere with a path option, or pass --force")
    return write_atomic(path, _csv_text(fields, rows))


def export_csv(course: Course, path: Path, homework: str | None = None, force: bool = False,
               rows: list[dict] | None = None) -> Path:
    rows = rows if rows is not None else require_rows(course, homework)
    return _write_csv(path, list(CSV_FIELDS), rows, ["student", "assignment", "notebook"], force)


def submission_totals(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(student, homework) -> total, max and pending written answers over its notebooks."""
    totals: dict[tuple[str, str], dict] = defaultdict(lambda: {"score": 0.0, "max": 0.0, "pending": 0})
    for row in rows:
        total = totals[row["student"], row["assignment"]]
        total["score"] = round(total["score"] + row["total_score"], 4)
        total["max"] = round(total["max"] + row["total_max"], 4)
        total["pending"] += row["written_pending"]
    return dict(totals)


def export_lms(course: Course, path: Path, kind: str, homework: str | None = None, force: bool = False,
               roster: dict[str, dict] | None = None, rows: list[dict] | None = None) -> Path:
    """A gradebook CSV for Canvas ("canvas") or Moodle ("moodle"): one row per student, one column
    per homework (the total, written answers a TA scored included). `roster` maps student ids to
    the LMS's own ids and emails ({"lms_id": ..., "email": ..., "name": ...})."""
    rows = rows if rows is not None else require_rows(course, homework)
    totals = submission_totals(rows)
    homeworks = [hw for hw in course.homeworks() if any(a == hw for _, a in totals)] + \
        sorted({a for _, a in totals if a not in course.homeworks()})
    roster = roster or {}
    table = []
    for student in sorted({s for s, _ in totals}):
        who = roster.get(student, {})
        if kind == "canvas":   # Canvas matches students on ID, SIS User ID or SIS Login ID
            row = {"Student": who.get("name", student), "ID": who.get("lms_id", ""),
                   "SIS User ID": student, "SIS Login ID": who.get("email", ""), "Section": ""}
        else:                  # Moodle maps a column to "ID number" or "Email address" when importing
            row = {"ID number": student, "Email address": who.get("email", ""), "Full name": who.get("name", "")}
        row.update({hw: f"{totals[student, hw]['score']:g}" for hw in homeworks if (student, hw) in totals})
        table.append(row)
    first = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] if kind == "canvas" \
        else ["ID number", "Email address", "Full name"]
    return _write_csv(path, first + homeworks, table, ["SIS User ID" if kind == "canvas" else "ID number"], force)


def export_gradescope(course: Course, folder: Path, homework: str | None = None,
                      rows: list[dict] | None = None) -> list[Path]:
    """`<folder>/<student>/<hw>/results.json` in Gradescope's autograder results format."""
    by_submission = defaultdict(list)
    for row in rows if rows is not None else require_rows(course, homework):
        by_submission[(row["student"], row["assignment"])].append(row)
    written = []
    for (student, assignment), notebook_rows in sorted(by_submission.items()):
        tests, output = [], []
        for row in notebook_rows:
            run = row["_run"]
            for check in run["checks"]:
                test = {"name": f"{run['notebook']}: {check['title']}",
                        "score": check["points"], "max_score": check["max_points"],
                        "output": "" if check["passed"] else check.get("message", ""), "visibility": "visible"}
                if not check.get("skipped"):   # Gradescope has no "skipped": the output says why instead
                    test["status"] = "passed" if check["passed"] else "failed"
                tests.append(test)
            for answer in row["_written"]:
                test = {"name": f"{run['notebook']}: written answer {answer['cell']}",
                        "max_score": answer["max_score"], "visibility": "visible",
                        "output": "pending: graded by hand" if answer["pending"] else "graded by hand"}
                if not answer["pending"]:
                    test["score"] = answer["score"]
                tests.append(test)
            output += [f"== {run['notebook']}"] + check_lines(run) + written_lines(row["_written"])
        pending = sum(r["written_pending"] for r in notebook_rows)
        result = {
            "score": round(sum(r["total_score"] for r in notebook_rows), 4),
            "output": "\n".join(output + ([f"{pending} written answer(s) wait for a grader: this score "
                                           f"does not include them yet"] if pending else [])),
            "tests": tests,
            "extra_data": {r["notebook"]: {"status": r["status"], "wall_s": r["wall_s"],
                                           "peak_rss_mb": r["peak_rss_mb"], "limit_hit": r["limit_hit"],
                                           "written_pending": r["written_pending"]}
                           for r in notebook_rows},
        }
        written.append(write_atomic(folder / student / assignment / "results.json", json.dumps(result, indent=1)))
    return written
