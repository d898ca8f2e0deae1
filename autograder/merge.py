"""Merge: fold the gradebooks of shards (`grade --shard i/N`, one per machine or Slurm task) into
the course gradebook.

Each shard grades a disjoint set of students into `<workspace>/shards/<i>-of-<N>/`, reading the
submissions of the course workspace. Merging records every shard grade exactly as it was recorded
(same scores, checks, resource use and time of grading) and copies the autograded notebooks, so
merging twice changes nothing, and a hand-graded written answer of an unchanged file keeps its score.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .course import Course
from .gradebook import grade_of, open_gradebook, record, runs
from .release import register


def shard_course(course: Course, index: int, count: int) -> Course:
    """Where shard index/count of `course` writes its gradebook and autograded notebooks."""
    return Course(course.root, course.workspace / "shards" / f"{index}-of-{count}",
                  submissions_from=course.submitted)


def shard_folders(course: Course) -> list[Path]:
    folder = course.workspace / "shards"
    return sorted(p for p in folder.iterdir() if (p / "gradebook.db").is_file()) if folder.is_dir() else []


def merge(course: Course, homework: str) -> dict[str, int]:
    """Fold every shard's grades of `homework` into the course gradebook; {shard name: grades merged}."""
    from .grade import hidden_cell_id

    register(course, homework)
    hidden_cells = {q: hidden_cell_id(course, homework, q) for q in course.questions(homework)}
    merged = {}
    gb = open_gradebook(course)
    try:
        for folder in shard_folders(course):
            shard = Course(course.root, folder)
            shard_gb = open_gradebook(shard)
            try:
                rows = runs(shard_gb, homework)
                stamps = {s.student.id: s.timestamp for s in shard_gb.find_assignment(homework).submissions} \
                    if rows else {}
            finally:
                shard_gb.close()
            for row in rows:
                stamp = stamps.get(row["student"])
                record(gb, grade_of(row), hidden_cells[row["notebook"]],
                       stamp.isoformat() if stamp else None, graded_at=row["graded_at"])
                source = shard.autograded / row["student"] / homework
                if source.is_dir():
                    shutil.copytree(source, course.autograded / row["student"] / homework, dirs_exist_ok=True)
            merged[folder.name] = len(rows)
    finally:
        gb.close()
    return merged
