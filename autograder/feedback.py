"""Feedback for students: check titles, points and messages; never hidden code or expected values.

Per submission, `workspace/feedback/<student>/<hw>/` gets `checks.html` (our per-check report, with
the written answers' hand-given scores or "pending") next to nbgrader's own feedback HTML of each
graded notebook. nbgrader's pages show a written answer nobody has scored as 0, so they are only
generated for submissions whose written answers are all scored (unless `partial`). Text that came
from the student's kernel (error messages) is escaped: it is untrusted.
"""
from __future__ import annotations

import html
import shutil
from collections import defaultdict
from pathlib import Path

from .course import Course
from .files import write_atomic
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


def written_lines(written: list[dict]) -> list[str]:
    """One line per written answer: its hand-given score, or that it waits for a grader."""
    lines = []
    for answer in written:
        if answer["pending"] and answer["score"] is not None:
            state = f"{answer['score']:g}/{answer['max_score']:g} for your earlier answer; your new one waits for a grader"
        elif answer["pending"]:
            state = f"pending (graded by hand, out of {answer['max_score']:g})"
        else:
            state = f"{answer['score']:g}/{answer['max_score']:g}"
        lines.append(f"[WRITTEN] {answer['cell']}: {state}")
    return lines


def render_html(student: str, homework: str, rows: list[dict]) -> str:
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(homework)}: feedback for "
             f"{html.escape(student)}</title><h1>{html.escape(homework)}: your grades</h1>"]
    for row in rows:
        pending = f" ({row['written_pending']} written answer(s) pending)" if row["written_pending"] else ""
        parts.append(f"<h2>{html.escape(row['notebook'])}: {row['total_score']:g} / {row['total_max']:g}"
                     f"{pending}</h2><ul>")
        parts += [f"<li>{html.escape(line)}</li>" for line in check_lines(row["_run"]) + written_lines(row["_written"])]
        parts.append("</ul>")
    return "\n".join(parts) + "\n"


def generate_feedback(course: Course, homework: str, partial: bool = False) -> tuple[list[Path], list[str], str | None]:
    """Write every submission's feedback. Returns the check reports written, the students whose
    nbgrader feedback waits for hand grading, and, if nbgrader's feedback failed, why (our
    reports are written regardless)."""
    from .export import require_rows

    by_student = defaultdict(list)
    for row in require_rows(course, homework):
        by_student[row["student"]].append(row)
    waiting = sorted(s for s, rows in by_student.items() if not partial and any(r["written_pending"] for r in rows))
    # nbgrader's own feedback first (each graded notebook as HTML with its scores): it replaces the
    # whole feedback folder of a submission, so our report is written after it.
    nbgrader_problem = None
    ready = [s for s in by_student if s not in waiting and any((course.autograded / s / homework).glob("*.ipynb"))]
    if ready:
        api = nbgrader_api(course)
        # One nbgrader run for the whole homework when nobody waits; else one per ready student.
        for student in ([None] if not waiting else ready):
            result = api.generate_feedback(homework, student)
            if not result["success"]:
                nbgrader_problem = f"nbgrader generate_feedback failed:\n{result.get('error') or result.get('log')}"
                break
    written = []
    for student, rows in sorted(by_student.items()):
        folder = course.feedback / student / homework
        if student in waiting and folder.exists():   # an earlier, now outdated, nbgrader page
            shutil.rmtree(folder)
        written.append(write_atomic(folder / "checks.html", render_html(student, homework, rows)))
    return written, waiting, nbgrader_problem
