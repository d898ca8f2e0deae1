"""Scores into nbgrader's gradebook, plus one grading record per submitted notebook.

nbgrader keeps the grades (so formgrader, manual grading, `nbgrader export` and feedback keep
working); the `autograder_runs` table beside them keeps what nbgrader has no column for: the
outcome status, per-check results, repair notes and resource use. Both are written in one
transaction, keyed by (student, assignment, notebook), so a re-grade replaces and a crash
mid-write leaves the previous grade intact.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import parse_utc
from sqlalchemy import text
from sqlalchemy.exc import SAWarning

from .course import Course

STATUSES = ("graded", "timed out", "crashed", "invalid", "missing", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS autograder_runs (
    student TEXT NOT NULL, assignment TEXT NOT NULL, notebook TEXT NOT NULL,
    status TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    checks TEXT NOT NULL, notes TEXT NOT NULL, message TEXT NOT NULL,
    wall_s REAL, peak_rss_mb REAL, limit_hit TEXT, seed INTEGER, graded_at TEXT NOT NULL,
    submission_sha256 TEXT,
    PRIMARY KEY (student, assignment, notebook)
)"""
# Columns added after the first release of the table, with their types (added to old gradebooks).
_ADDED_COLUMNS = {"manual_answers": "TEXT"}
_COLUMNS = ("student", "assignment", "notebook", "status", "score", "max_score", "checks", "notes", "message",
            "wall_s", "peak_rss_mb", "limit_hit", "seed", "graded_at", "submission_sha256", "manual_answers")


@dataclass
class NotebookGrade:
    """The outcome of grading one notebook of one submission."""
    student: str
    assignment: str
    notebook: str
    status: str
    checks: list[dict] = field(default_factory=list)      # from the checks plugin report
    notes: list[str] = field(default_factory=list)        # repairs and problems, shown to the student
    message: str = ""                                     # one-line summary of the outcome
    # grade_id -> a hash of the written answer, or "" when the cell is still the released stub.
    manual_answers: dict[str, str] = field(default_factory=dict)
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    limit_hit: str | None = None
    seed: int | None = None
    submission_sha256: str | None = None   # what was graded: a changed file is graded again

    @property
    def score(self) -> float:
        return round(sum(c["points"] for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c["max_points"] for c in self.checks), 4)


def open_gradebook(course: Course) -> Gradebook:
    course.ensure_workspace()
    # nbgrader 0.9 trips SQLAlchemy 2's cascade warning on every new submission; it is harmless.
    warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader")
    gb = Gradebook(course.db_url, course_id=course.nbgrader_config().CourseDirectory.course_id)
    gb.db.execute(text(_SCHEMA))
    present = {row[1] for row in gb.db.execute(text("PRAGMA table_info(autograder_runs)"))}
    for column, kind in _ADDED_COLUMNS.items():
        if column not in present:
            gb.db.execute(text(f"ALTER TABLE autograder_runs ADD COLUMN {column} {kind}"))
    gb.db.commit()
    return gb


def record(gb: Gradebook, grade: NotebookGrade, hidden_cell: str, timestamp: str | None = None,
           graded_at: str | None = None) -> None:
    """Write one notebook's grade; replaces any earlier grade of the same notebook. A written answer
    a TA already scored keeps its score when the graded file is the same one (a regrade, a merge)."""
    gb.update_or_create_student(grade.student)
    try:
        submission = gb.find_submission(grade.assignment, grade.student)
    except MissingEntry:
        submission = gb.add_submission(grade.assignment, grade.student, **({"timestamp": timestamp} if timestamp else {}))
    session = gb.db
    try:
        if timestamp:   # a resubmission's time replaces the first one (lateness is judged on it)
            submission.timestamp = parse_utc(timestamp)
        previous = session.execute(text(
            "SELECT submission_sha256, manual_answers FROM autograder_runs"
            " WHERE student = :s AND assignment = :a AND notebook = :n"),
            {"s": grade.student, "a": grade.assignment, "n": grade.notebook}).first()
        same_file = previous is not None and grade.submission_sha256 is not None and previous[0] == grade.submission_sha256
        previous_answers = json.loads(previous[1]) if previous is not None and previous[1] else {}
        hidden = gb.find_grade(hidden_cell, grade.notebook, grade.assignment, grade.student)
        hidden.auto_score = grade.score
        hidden.needs_manual_grade = False
        # The public checks are nbgrader tests worth 0 points (so `nbgrader validate` runs them):
        # nothing for a TA to do there.
        notebook = gb.find_submission_notebook(grade.notebook, grade.assignment, grade.student)
        for other in notebook.grades:
            if other.name != hidden_cell and other.name not in grade.manual_answers and not other.max_score:
                other.auto_score, other.needs_manual_grade = 0.0, False
        for cell_id, answer in grade.manual_answers.items():
            written = gb.find_grade(cell_id, grade.notebook, grade.assignment, grade.student)
            if written.manual_score is not None:
                # A TA's score stays; an answer that changed since is flagged for another look.
                if not (same_file or (answer and previous_answers.get(cell_id) == answer)):
                    written.needs_manual_grade = True
                continue
            # Unanswered written cells score 0 automatically, as nbgrader does; answered ones wait for a TA.
            written.auto_score = None if answer else 0.0
            written.needs_manual_grade = bool(answer)
        row = asdict(grade)
        row.update(checks=json.dumps(grade.checks), notes=json.dumps(grade.notes), score=grade.score,
                   max_score=grade.max_score, manual_answers=json.dumps(grade.manual_answers),
                   graded_at=graded_at or datetime.now(timezone.utc).isoformat(timespec="seconds"))
        session.execute(text(f"INSERT OR REPLACE INTO autograder_runs ({', '.join(_COLUMNS)}) "
                             f"VALUES ({', '.join(':' + c for c in _COLUMNS)})"), row)
        session.commit()
    except Exception:
        session.rollback()
        raise


def written_grades(gb: Gradebook, run: dict) -> list[dict]:
    """The hand-graded cells of one graded notebook: score (None until a TA gives one), max, and
    whether it waits for a TA (never graded, or changed by a resubmission since it was)."""
    found = []
    for cell_id in run["manual_answers"]:
        try:
            g = gb.find_grade(cell_id, run["notebook"], run["assignment"], run["student"])
        except MissingEntry:
            continue
        score = g.manual_score if g.manual_score is not None else g.auto_score
        found.append({"cell": cell_id, "score": score, "max_score": g.max_score,
                      "pending": bool(g.needs_manual_grade), "regraded": bool(g.needs_manual_grade) and score is not None})
    return found


def grade_of(row: dict) -> NotebookGrade:
    """The NotebookGrade a runs() row was recorded from (to copy it into another gradebook)."""
    fields = {k: row[k] for k in ("student", "assignment", "notebook", "status", "checks", "notes", "message",
                                  "wall_s", "peak_rss_mb", "limit_hit", "seed", "submission_sha256")}
    return NotebookGrade(**fields, manual_answers=row.get("manual_answers") or {})


def graded_notebooks(gb: Gradebook, assignment: str) -> dict[tuple[str, str], str | None]:
    """(student, notebook) -> hash of the file that was graded. Grading resumes after these, and
    grades a notebook again when its file has changed since (a new submission)."""
    rows = gb.db.execute(text("SELECT student, notebook, submission_sha256 FROM autograder_runs"
                              " WHERE assignment = :a"), {"a": assignment})
    return {(r[0], r[1]): r[2] for r in rows}


def runs(gb: Gradebook, assignment: str | None = None) -> list[dict]:
    query = "SELECT * FROM autograder_runs" + (" WHERE assignment = :a" if assignment else "")
    result = gb.db.execute(text(query + " ORDER BY assignment, student, notebook"), {"a": assignment})
    rows = [dict(r._mapping) for r in result]
    for row in rows:
        row["checks"], row["notes"] = json.loads(row["checks"]), json.loads(row["notes"])
        row["manual_answers"] = json.loads(row["manual_answers"]) if row.get("manual_answers") else {}
    return rows
