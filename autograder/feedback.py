"""Feedback for students: check titles, points and messages; never hidden code or expected values.

Per submission, `workspace/feedback/<student>/<hw>/` gets `checks.html` (our per-check report)
next to nbgrader's own feedback HTML of each graded notebook. Text that came from the student's
kernel (error messages) is escaped: it is untrusted.
"""
from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from .course import Course
from .gradebook import open_gradebook, runs
from .release import nbgrader_api


def check_lines(run: dict) -> list[str]:
    """Plain-text report of one notebook's checks (also shown in the autograded notebook)."""
    lines = [f"Outcome: {run['status']} ({run['message']})" if run.get("message") else f"Outcome: {run['status']}"]
    for check in run["checks"]:
        mark = "PASS" if check["passed"] else ("SKIP" if check.get("skipped") else "FAIL")
        line = f"[{mark}] {check['title']} ({check['points']:g}/{check['max_points']:g})"
        if not check["passed"] and check.get("message"):
            line += f": {check['message']}"
        lines.append(line)
    lines += [f"Note: {note}" for note in run["notes"] if not note.startswith("grader error")]
    return lines


def render_html(student: str, homework: str, notebook_runs: list[dict]) -> str:
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(homework)}: feedback for "
             f"{html.escape(student)}</title><h1>{html.escape(homework)}: hidden checks</h1>"]
    for run in notebook_runs:
        parts.append(f"<h2>{html.escape(run['notebook'])}: {run['score']:g} / {run['max_score']:g}</h2><ul>")
        parts += [f"<li>{html.escape(line)}</li>" for line in check_lines(run)]
        parts.append("</ul>")
    return "\n".join(parts) + "\n"


def generate_feedback(course: Course, homework: str) -> tuple[list[Path], str | None]:
    """Write every submission's feedback; returns the check reports written and, if nbgrader's
    notebook feedback failed, why (our reports are written regardless)."""
    gb = open_gradebook(course)
    try:
        by_student = defaultdict(list)
        for run in runs(gb, homework):
            by_student[run["student"]].append(run)
    finally:
        gb.close()
    # nbgrader's own feedback first (each graded notebook as HTML with its scores): it replaces the
    # whole feedback folder of a submission, so our report is written after it.
    nbgrader_problem = None
    if any(course.autograded.glob(f"*/{homework}/*.ipynb")):
        result = nbgrader_api(course).generate_feedback(homework)
        if not result["success"]:
            nbgrader_problem = f"nbgrader generate_feedback failed:\n{result.get('error') or result.get('log')}"
    written = []
    for student, notebook_runs in sorted(by_student.items()):
        folder = course.feedback / student / homework
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "checks.html"
        path.write_text(render_html(student, homework, notebook_runs))
        written.append(path)
    return written, nbgrader_problem
