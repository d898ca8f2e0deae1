"""Collect: bring submissions into workspace/submitted/<student>/<hw>/<question>.ipynb.

Sources: nbgrader's exchange, or a folder / zip laid out `<student>/<hw>/<question>.ipynb` as an
LMS download is. Archives are untrusted: names are validated (no traversal, no links), sizes are
capped, and only notebooks of known questions are taken. File contents are copied as bytes and
judged later by the grader, so a broken notebook is still collected and gets a graded result.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .course import Course

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


@dataclass
class CollectReport:
    collected: list[tuple[str, str, str]] = field(default_factory=list)  # (student, hw, question)
    skipped: list[str] = field(default_factory=list)
    other_homeworks: list[str] = field(default_factory=list)  # files of the course's other homeworks


def collect(course: Course, homework: str, source: Path | None = None) -> CollectReport:
    """Collect `homework` from `source` (folder or .zip), or from nbgrader's exchange when None."""
    course.ensure_workspace()
    if source is None:
        return _collect_from_exchange(course, homework)
    source = Path(source)
    if zipfile.is_zipfile(source):
        return _collect_from_zip(course, homework, source)
    if source.is_dir():
        return _collect_from_folder(course, homework, source)
    raise FileNotFoundError(f"{source} is neither a folder nor a zip archive of submissions")


def _accept(course: Course, homework: str, parts: tuple[str, ...], report: CollectReport) -> tuple[str, str] | None:
    """(student, question) when `parts` names `<student>/<homework>/<question>.ipynb`."""
    where = "/".join(parts)
    if len(parts) == 3 and parts[1] != homework and parts[1] in course.homeworks():
        report.other_homeworks.append(where)
        return None
    if len(parts) != 3 or parts[1] != homework or not parts[2].endswith(".ipynb"):
        report.skipped.append(f"{where}: not laid out <student>/{homework}/<question>.ipynb")
        return None
    student, question = parts[0], parts[2][: -len(".ipynb")]
    if not STUDENT_ID.match(student):
        report.skipped.append(f"{where}: '{student}' is not a valid student id")
        return None
    if question not in course.questions(homework):
        report.skipped.append(f"{where}: {homework} has no question '{question}'")
        return None
    return student, question


def _store(course: Course, homework: str, student: str, question: str, content: bytes, report: CollectReport) -> None:
    folder = course.submitted / student / homework
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{question}.ipynb").write_bytes(content)
    # nbgrader reads the submission time from this file.
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (folder / "timestamp.txt").write_text(stamp)
    report.collected.append((student, homework, question))


def _collect_from_folder(course: Course, homework: str, source: Path) -> CollectReport:
    report = CollectReport()
    for path in sorted(source.rglob("*.ipynb")):
        rel = path.relative_to(source)
        if path.is_symlink() or any(p.is_symlink() for p in path.parents if p.is_relative_to(source)):
            report.skipped.append(f"{rel}: symbolic links are not collected")
            continue
        if ".ipynb_checkpoints" in rel.parts:
            continue
        accepted = _accept(course, homework, rel.parts, report)
        if accepted is None:
            continue
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            report.skipped.append(f"{rel}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
            continue
        _store(course, homework, *accepted, path.read_bytes(), report)
    return report


def _collect_from_zip(course: Course, homework: str, source: Path) -> CollectReport:
    report = CollectReport()
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            if info.is_dir() or ".ipynb_checkpoints" in info.filename:
                continue
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                report.skipped.append(f"{info.filename}: unsafe path in archive")
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                report.skipped.append(f"{info.filename}: symbolic links are not collected")
                continue
            parts = name.parts[1:] if len(name.parts) == 4 else name.parts  # tolerate one top folder
            accepted = _accept(course, homework, tuple(parts), report)
            if accepted is None:
                continue
            if info.file_size > MAX_NOTEBOOK_BYTES:
                report.skipped.append(f"{info.filename}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
                continue
            with archive.open(info) as handle:
                content = handle.read(MAX_NOTEBOOK_BYTES + 1)
            if len(content) > MAX_NOTEBOOK_BYTES:  # the header lied about the size
                report.skipped.append(f"{info.filename}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
                continue
            _store(course, homework, *accepted, content, report)
    return report


def _collect_from_exchange(course: Course, homework: str) -> CollectReport:
    from .release import nbgrader_api

    result = nbgrader_api(course).collect(homework)
    if not result["success"]:
        raise RuntimeError(f"nbgrader collect failed:\n{result.get('error') or result.get('log')}")
    report = CollectReport()
    for folder in sorted(course.submitted.glob(f"*/{homework}")):
        for notebook in sorted(folder.glob("*.ipynb")):
            report.collected.append((folder.parent.name, homework, notebook.stem))
    return report


def submissions(course: Course, homework: str) -> list[tuple[str, Path]]:
    """(student, folder) for every collected submission of `homework`."""
    return [(p.parent.name, p) for p in sorted(course.submitted.glob(f"*/{homework}")) if p.is_dir()]

