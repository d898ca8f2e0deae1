"""Release: solutions/<hw>/ -> assignments/<hw>/ through nbgrader's own generate_assignment.

nbgrader strips the solution regions, locks cells and records every graded cell (with its
checksum and points) in the gradebook. `check_release` regenerates into a scratch course and
fails when the committed student versions are stale, so CI catches a forgotten release.
"""
from __future__ import annotations

import filecmp
import json
import tempfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from .course import Course

# Text that must never reach a student-facing file.
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


class ReleaseError(RuntimeError):
    pass


def nbgrader_api(course: Course, **overrides) -> NbGraderAPI:
    config = course.nbgrader_config()
    for key, value in overrides.items():
        setattr(config.CourseDirectory, key, value)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def release(course: Course, homework: str) -> Path:
    """Generate the student version of `homework` and register it in the gradebook."""
    course.ensure_workspace()
    result = nbgrader_api(course).generate_assignment(homework, force=True, create=True)
    if not result["success"]:
        raise ReleaseError(f"nbgrader could not release {homework}:\n{result.get('error') or result.get('log')}")
    released = course.assignments / homework
    _normalise(released)
    leaks = find_secrets(released)
    if leaks:
        raise ReleaseError(f"solution or hidden-test text reached the student version: {leaks}")
    return released


def _normalise(folder: Path) -> None:
    # Rewrite with sorted keys and a trailing newline so regenerating is byte-for-byte stable.
    for path in sorted(folder.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def find_secrets(folder: Path) -> list[str]:
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".ipynb", ".md", ".html", ".py", ".txt", ".json"}:
            text = path.read_text(errors="replace")
            hits += [f"{path}: {marker}" for marker in SECRET_MARKERS if marker in text]
    return hits


def check_release(course: Course, homework: str) -> list[str]:
    """Names of released notebooks that differ from a fresh release (empty when up to date)."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Course(root=course.root, workspace=Path(tmp) / "workspace")
        scratch.ensure_workspace()
        out = Path(tmp) / "release"
        result = nbgrader_api(scratch, release_directory=str(out)).generate_assignment(homework, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(f"nbgrader could not release {homework}:\n{result.get('error') or result.get('log')}")
        fresh = out / homework
        _normalise(fresh)
        committed = course.assignments / homework
        names = {p.name for p in fresh.glob("*.ipynb")} | {p.name for p in committed.glob("*.ipynb")}
        return sorted(
            name for name in names
            if not (committed / name).exists() or not (fresh / name).exists()
            or not filecmp.cmp(committed / name, fresh / name, shallow=False)
        )


def register(course: Course, homework: str) -> None:
    """Record a homework's graded cells in a (new) gradebook without touching assignments/.

    Grading needs the gradebook to know every graded cell; on a fresh workspace this rebuilds
    that knowledge from solutions/ into a throwaway release folder.
    """
    course.ensure_workspace()
    with tempfile.TemporaryDirectory() as tmp:
        result = nbgrader_api(course, release_directory=tmp).generate_assignment(homework, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(f"nbgrader could not register {homework}:\n{result.get('error') or result.get('log')}")
