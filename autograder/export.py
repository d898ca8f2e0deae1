"""Export grades: a CSV for the instructor and a Gradescope-style results.json per submission."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from nbgrader.api import MissingEntry

from .course import Course
from .feedback import check_lines
from .gradebook import open_gradebook, runs

CSV_FIELDS = ("student", "assignment", "notebook", "status", "autograded_score", "autograded_max",
              "written_pending", "notebook_score", "notebook_max", "wall_s", "peak_rss_mb", "limit_hit",
              "graded_at", "message")


def grade_rows(course: Course, homework: str | None = None) -> list[dict]:
    """One row per graded notebook, joining our run records with nbgrader's scores (manual included)."""
    gb = open_gradebook(course)
    try:
        rows = []
        for run in runs(gb, homework):
            try:
                nb = gb.find_submission_notebook(run["notebook"], run["assignment"], run["student"])
                notebook_score, notebook_max, pending = nb.score, nb.max_score, nb.needs_manual_grade
            except MissingEntry:
                notebook_score, notebook_max, pending = None, None, None
            rows.append({
                "student": run["student"], "assignment": run["assignment"], "notebook": run["notebook"],
                "status": run["status"], "autograded_score": run["score"], "autograded_max": run["max_score"],
                "written_pending": pending, "notebook_score": notebook_score, "notebook_max": notebook_max,
                "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"], "limit_hit": run["limit_hit"],
                "graded_at": run["graded_at"], "message": run["message"], "_run": run,
            })
        return rows
    finally:
        gb.close()


def export_csv(course: Course, path: Path, homework: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(grade_rows(course, homework))
    return path


def export_gradescope(course: Course, folder: Path, homework: str | None = None) -> list[Path]:
    """`<folder>/<student>/<hw>/results.json` in Gradescope's autograder results format."""
    by_submission = defaultdict(list)
    for row in grade_rows(course, homework):
        by_submission[(row["student"], row["assignment"])].append(row["_run"])
    written = []
    for (student, assignment), notebook_runs in sorted(by_submission.items()):
        tests = []
        for run in notebook_runs:
            for check in run["checks"]:
                tests.append({
                    "name": f"{run['notebook']}: {check['title']}",
                    "score": check["points"], "max_score": check["max_points"],
                    "status": "passed" if check["passed"] else "failed",
                    "output": "" if check["passed"] else check.get("message", ""),
                    "visibility": "visible",
                })
        result = {
            "score": round(sum(r["score"] for r in notebook_runs), 4),
            "output": "\n".join(line for run in notebook_runs for line in [f"== {run['notebook']}"] + check_lines(run)),
            "tests": tests,
            "extra_data": {r["notebook"]: {"status": r["status"], "wall_s": r["wall_s"],
                                           "peak_rss_mb": r["peak_rss_mb"], "limit_hit": r["limit_hit"]}
                           for r in notebook_runs},
        }
        path = folder / student / assignment / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
        written.append(path)
    return written
