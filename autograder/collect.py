"""Collect: bring submissions into workspace/submitted/<student>/<hw>/<question>.ipynb.

Sources: nbgrader's exchange, or a folder / zip as an LMS's "download all submissions" gives it:
Canvas, Moodle, Gradescope, or plain folders <student>/<hw>/<question>.ipynb (see lms_layouts.py;
the layout is detected). An optional roster maps what the LMS shows to the course's student ids.

Every file of the download is accounted for in the report: collected, skipped (with the reason),
other_homeworks (left for their own collect) or ignored (the export's own files, the OS's litter). Archives are untrusted: names are validated (no traversal, no links), sizes are
capped, and only notebooks of known questions are taken. File contents are copied as bytes and
judged later by the grader, so a broken notebook is still collected and gets a graded result.
"""
from __future__ import annotations

import functools
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from .course import Course
from .files import write_atomic
from .lms_layouts import (GRADESCOPE_METADATA, Found, Identity, Roster, detect_layout, is_notebook, load_roster,
                          match_question, parse, read_gradescope_metadata)

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_METADATA_BYTES = 20 * 1024 * 1024
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's timestamp.txt


@dataclass
class CollectReport:
    collected: list[tuple[str, str, str]] = field(default_factory=list)  # (student, hw, question)
    skipped: list[str] = field(default_factory=list)           # "<path>: <reason>"
    other_homeworks: list[str] = field(default_factory=list)   # paths of the course's other homeworks' files
    ignored: list[str] = field(default_factory=list)           # "<path>: <what it is>", not student work
    layout: str = ""            # canvas | moodle | gradescope | folders | exchange
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, question) -> path collected
    timestamps: dict[str, datetime] = field(default_factory=dict)      # student -> submission time written
    late: dict[str, str] = field(default_factory=dict)                 # student -> why it is late
    homeworks_left: list[str] = field(default_factory=list)    # the homeworks of other_homeworks
    notes: list[str] = field(default_factory=list)              # about the whole download

    @property
    def students(self) -> list[str]:
        return sorted({s for s, _, _ in self.collected})

    def _leave(self, where: str, homework: str) -> None:
        self.other_homeworks.append(where)
        if homework not in self.homeworks_left:
            self.homeworks_left.append(homework)


def collect(course: Course, homework: str, source: Path | None = None, roster: Path | Roster | None = None,
            due: datetime | None = None) -> CollectReport:
    """Collect `homework` from `source` (folder or .zip), or from nbgrader's exchange when None.
    `roster` (a CSV path or a Roster) maps the LMS's names and ids to student ids; with one, a file
    whose student it does not name is skipped. `due` (naive = local time) marks later ones late."""
    if source is None and roster is not None:
        raise ValueError("a roster maps an LMS download's names; nbgrader's exchange already has student ids")
    if roster is not None and not isinstance(roster, Roster):
        roster = load_roster(roster)  # a bad roster stops everything before anything is written
    course.ensure_workspace()
    if source is None:
        return _collect_from_exchange(course, homework)
    source = Path(source)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return _collect_download(course, homework, _zip_entries(archive), roster, due)
    if source.is_dir():
        return _collect_download(course, homework, _folder_entries(source), roster, due)
    raise FileNotFoundError(f"{source} is neither a folder nor a zip archive of submissions")


# --- Reading a download: entries, whatever the container --------------------------------------

@dataclass
class Entry:
    where: str                      # as the report shows it
    parts: tuple[str, ...] = ()     # its path inside the download
    size: int = 0
    mtime: datetime | None = None
    read: Callable[[int], bytes] | None = None  # at most n bytes
    index: int = 0                  # order in the download: a later copy wins a tie
    problem: str = ""               # why it cannot be taken at all (unsafe, a link, ...)


def _plausible(moment: datetime) -> datetime | None:
    """A file time, unless it is the zip format's zero (1980) or in the future."""
    if moment.year < 1995 or moment > datetime.now(timezone.utc) + timedelta(days=1):
        return None
    return moment


def _folder_entries(source: Path) -> list[Entry]:
    entries: list[Entry] = []

    def unreadable(err: OSError) -> None:
        where = Path(err.filename).relative_to(source).as_posix() if err.filename else "."
        entries.append(Entry(f"{_shown(where)}/", problem=f"cannot be read ({err.strerror})"))

    for dirpath, dirnames, filenames in os.walk(source, onerror=unreadable, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)
                entries.append(Entry(f"{_shown((here / name).relative_to(source).as_posix())}/",
                                     problem="symbolic links are not collected"))
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(source)
            entry = Entry(_shown(rel.as_posix()), rel.parts, index=len(entries))
            try:
                info = path.lstat()
            except OSError as err:
                entry.problem = f"cannot be read ({err.strerror})"
            else:
                if stat.S_ISLNK(info.st_mode):
                    entry.problem = "symbolic links are not collected"
                elif not stat.S_ISREG(info.st_mode):
                    entry.problem = "not a regular file"
                entry.size = info.st_size
                entry.mtime = _plausible(datetime.fromtimestamp(info.st_mtime, timezone.utc))
                entry.read = lambda n, path=path: _read_no_follow(path, n)
            entries.append(entry)
    return entries


def _read_no_follow(path: Path, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


def _zip_entries(archive: zipfile.ZipFile) -> list[Entry]:
    entries = []
    for index, info in enumerate(archive.infolist()):
        if info.is_dir():
            continue
        name = _zip_name(info)
        parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
        entry = Entry(_shown(name), parts, info.file_size, _zip_mtime(info), index=index)
        if name.startswith(("/", "\\")) or name[1:2] == ":" or ".." in parts or not parts:
            entry.problem = "unsafe path in archive"
        elif (info.external_attr >> 16) & 0o170000 == 0o120000:
            entry.problem = "symbolic links are not collected"
        else:
            entry.read = lambda n, info=info: _read_member(archive, info, n)
        entries.append(entry)
    return entries


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member's name; a UTF-8 name its tool did not flag as such (zipfile then reads cp437) is
    decoded as UTF-8, as the tool meant."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _zip_mtime(info: zipfile.ZipInfo) -> datetime | None:
    """The member's time: the UTC one of the extended-timestamp field when there is one, else the
    DOS time, which is the zipping machine's local time."""
    extra = info.extra
    while len(extra) >= 4:
        kind, size = struct.unpack("<HH", extra[:4])
        body = extra[4:4 + size]
        if kind == 0x5455 and len(body) >= 5 and body[0] & 1:
            return _plausible(datetime.fromtimestamp(struct.unpack("<i", body[1:5])[0], timezone.utc))
        extra = extra[4 + size:]
    try:
        return _plausible(datetime(*info.date_time).astimezone(timezone.utc))
    except ValueError:
        return None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as handle:
        return handle.read(limit)


def _shown(name: str) -> str:
    """A name safe to print: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


# --- Sorting a download's files ---------------------------------------------------------------

OS_LITTER = {".ds_store", "thumbs.db", "desktop.ini"}


def _litter(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """(folder or file, what it is) for files that are no one's work."""
    for depth, part in enumerate(parts[:-1]):
        if part == "__MACOSX":
            return "/".join(parts[:depth + 1]) + "/", "macOS archive metadata"
        if part.startswith("."):
            return "/".join(parts[:depth + 1]) + "/", "hidden folder"
    name = parts[-1]
    if name.lower() in OS_LITTER or name.startswith("."):
        return "/".join(parts), "hidden or system file"
    if name == GRADESCOPE_METADATA:
        return "/".join(parts), "Gradescope's list of submitters (read)"
    if len(parts) == 1 and name.lower().startswith("readme"):
        return name, "the download's README"
    return None


@dataclass
class Candidate:
    """One notebook of the download, as one student's answer to one question."""
    entry: Entry
    student: str
    question: str
    found: Found
    copy: int               # the duplicate number in the file's name
    identity: Identity      # who the LMS says it is

    @property
    def time(self) -> datetime | None:
        return self.found.time or self.entry.mtime

    def newness(self) -> tuple:
        oldest = datetime.min.replace(tzinfo=timezone.utc)
        return self.found.order, self.time or oldest, self.copy, self.entry.index


@dataclass
class Download:
    """What reading each file needs to know about the course and the download as a whole."""
    course: Course
    homework: str
    questions: list[str]
    other_questions: dict[str, list[str]]   # the course's other homeworks
    roster: Roster | None
    layout: str = "folders"
    metadata: dict[str, dict] | None = None  # Gradescope's, when there is one
    homework_folders: bool = False           # its notebooks sit in homework folders

    def __post_init__(self):
        self.is_homework = functools.lru_cache(maxsize=None)(self.course.has_homework)


def _collect_download(course: Course, homework: str, entries: list[Entry], roster: Roster | None,
                      due: datetime | None) -> CollectReport:
    report = CollectReport()
    others = {hw: course.questions(hw) for hw in course.homeworks() if hw != homework}
    download = Download(course, homework, course.questions(homework), others, roster)
    files = _sort_out(entries, report)
    download.metadata = _gradescope_metadata(entries, report)
    download.layout = report.layout = detect_layout(
        [e.parts for e in files] + ([(GRADESCOPE_METADATA,)] if download.metadata else []))
    download.homework_folders = any(download.is_homework(d) for e in files if is_notebook(e.parts[-1])
                                    for d in e.parts[:-1])
    candidates = []
    for entry in files:
        if is_notebook(entry.parts[-1]):
            candidates += _candidates(download, entry, report)
        else:
            suffix = Path(entry.parts[-1]).suffix or "no extension"
            report.skipped.append(f"{entry.where}: not a notebook ({suffix}); only <question>.ipynb files "
                                  f"are collected")
    candidates = _refuse_shared_ids(candidates, roster is not None, report)
    chosen = _store_newest(course, homework, candidates, report)
    _write_timestamps(course, homework, chosen, due, report)
    report.other_homeworks.sort()
    report.homeworks_left.sort()
    return report


def _sort_out(entries: list[Entry], report: CollectReport) -> list[Entry]:
    """Files to look at; unsafe ones skipped, litter listed as ignored (each folder once)."""
    files, ignored = [], set()
    for entry in entries:
        if entry.problem:
            report.skipped.append(f"{entry.where}: {entry.problem}")
            continue
        litter = _litter(entry.parts)
        if litter is None:
            files.append(entry)
        elif litter[0] not in ignored:
            ignored.add(litter[0])
            report.ignored.append(f"{_shown(litter[0])}: {litter[1]}")
    return files


def _gradescope_metadata(entries: list[Entry], report: CollectReport) -> dict[str, dict] | None:
    metadata = None
    for entry in entries:
        if entry.problem or not entry.parts or entry.parts[-1] != GRADESCOPE_METADATA:
            continue
        try:
            content = entry.read(MAX_METADATA_BYTES + 1)
            if len(content) > MAX_METADATA_BYTES:
                raise ValueError(_too_large(MAX_METADATA_BYTES))
            found = read_gradescope_metadata(content.decode("utf-8", errors="replace"))
        except (ValueError, OSError, RuntimeError, zipfile.BadZipFile, zlib.error, EOFError) as err:
            report.notes.append(f"{entry.where} could not be read: {err}")
            continue
        metadata = {**(metadata or {}), **found}
    return metadata


def _candidates(download: Download, entry: Entry, report: CollectReport) -> list[Candidate]:
    """The (student, question) copies one notebook makes: none (and the reason reported), one, or
    one per member of a group submission."""
    found = parse(download.layout, entry.parts, download.is_homework, download.metadata,
                  download.homework_folders)
    if isinstance(found, str):
        report.skipped.append(f"{entry.where}: {found}")
        return []
    if found.homework not in (None, download.homework):
        report._leave(entry.where, found.homework)
        return []
    match = match_question(found.filename, download.questions)
    if match is None:
        _unknown_question(download, entry, found, report)
        return []
    question, copy = match
    result = []
    for identity in found.identities:
        if download.roster is not None:
            student, why = download.roster.match(identity)
        else:
            student = identity.default_id()
            why = f"{identity.describe()} gives no valid student id" if student is None else ""
        if student is None:
            report.skipped.append(f"{entry.where}: {why}")
            continue
        result.append(Candidate(entry, student, question, found, copy, identity))
    return result


def _unknown_question(download: Download, entry: Entry, found: Found, report: CollectReport) -> None:
    for other, questions in download.other_questions.items():
        if match_question(found.filename, questions):
            if found.layout == "folders" and found.homework is None:
                report._leave(entry.where, other)  # its own collect takes it from here
            else:
                report.skipped.append(f"{entry.where}: a notebook of {other}, not of {download.homework}")
            return
    report.skipped.append(f"{entry.where}: {download.homework} has no question {found.filename!r} "
                          f"(its questions: {', '.join(download.questions)})")


def _refuse_shared_ids(candidates: list[Candidate], with_roster: bool, report: CollectReport) -> list[Candidate]:
    """Two people of the download who would be one student (namesakes without a roster, or a roster
    row that fits both) are not merged: both are skipped."""
    people: dict[str, dict] = {}
    for c in candidates:
        people.setdefault(c.student, {})[c.identity.key] = c.identity.describe()
    fix = "check the roster" if with_roster else "a roster (--roster) tells them apart"
    kept = []
    for c in candidates:
        if len(people[c.student]) > 1:
            who = " and ".join(sorted(people[c.student].values()))
            report.skipped.append(f"{c.entry.where}: {who} would both be student {c.student!r}; {fix}")
        else:
            kept.append(c)
    return kept


def _store_newest(course: Course, homework: str, candidates: list[Candidate],
                  report: CollectReport) -> list[Candidate]:
    """Per (student, question), the newest copy that can be read; the others skipped, saying so."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in candidates:
        groups.setdefault((c.student, c.question), []).append(c)
    chosen = []
    for (student, question), copies in groups.items():
        copies.sort(key=Candidate.newness, reverse=True)
        stored = None
        for c in copies:
            if stored is not None:
                report.skipped.append(f"{c.entry.where}: an older copy of {student}'s {question}; "
                                      f"collected {stored.entry.where}")
                continue
            content, problem = _read(c.entry)
            if problem:
                report.skipped.append(f"{c.entry.where}: {problem}")
                continue
            folder = course.submitted / student / homework
            write_atomic(folder / f"{question}.ipynb", content)
            report.collected.append((student, homework, question))
            report.sources[student, question] = c.entry.where
            stored = c
        if stored is not None:
            chosen.append(stored)
    report.collected.sort()
    return chosen


def _too_large(limit: int) -> str:
    return f"larger than {limit // 2**20} MB" if limit >= 2**20 else f"larger than {limit} bytes"


def _read(entry: Entry) -> tuple[bytes, str]:
    too_large = _too_large(MAX_NOTEBOOK_BYTES)
    if entry.size > MAX_NOTEBOOK_BYTES:
        return b"", too_large
    try:
        content = entry.read(MAX_NOTEBOOK_BYTES + 1)
    except RuntimeError as err:  # zipfile: encrypted member
        return b"", f"cannot be read ({err})"
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        return b"", f"cannot be read ({type(err).__name__}: {err})"
    if len(content) > MAX_NOTEBOOK_BYTES:  # the header lied about the size
        return b"", too_large
    return content, ""


def _write_timestamps(course: Course, homework: str, chosen: list[Candidate], due: datetime | None,
                      report: CollectReport) -> None:
    """timestamp.txt per student: the latest time the download gives for the files collected (the
    LMS's submission time, else the file's), else now. nbgrader reads lateness from it."""
    now = datetime.now(timezone.utc)
    if due is not None:
        due = due.astimezone(timezone.utc)  # a naive one is local time
    per_student: dict[str, list[Candidate]] = {}
    for c in chosen:
        per_student.setdefault(c.student, []).append(c)
    unknown = []
    for student, copies in sorted(per_student.items()):
        times = [c.time for c in copies if c.time is not None]
        moment = max(times).astimezone(timezone.utc) if times else now
        if not times:
            unknown.append(student)
        write_atomic(course.submitted / student / homework / "timestamp.txt", moment.strftime(TIMESTAMP_FORMAT))
        report.timestamps[student] = moment
        why = [f"{c.question} marked LATE by {c.found.layout.capitalize()}" for c in copies if c.found.late]
        if due is not None and times and moment > due:
            why.append(f"submitted {moment:%Y-%m-%d %H:%M} UTC, after the due date {due:%Y-%m-%d %H:%M} UTC")
        if why:
            report.late[student] = "; ".join(why)
    if unknown:
        report.notes.append(f"the download gives no time for {len(unknown)} students' files "
                            f"({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}): "
                            f"their timestamp.txt is the collection time")


def _collect_from_exchange(course: Course, homework: str) -> CollectReport:
    from .release import nbgrader_api

    result = nbgrader_api(course).collect(homework)
    if not result["success"]:
        raise RuntimeError(f"nbgrader collect failed:\n{result.get('error') or result.get('log')}")
    report = CollectReport(layout="exchange")
    for folder in sorted(course.submitted.glob(f"*/{homework}")):
        for notebook in sorted(folder.glob("*.ipynb")):
            report.collected.append((folder.parent.name, homework, notebook.stem))
    return report


def submissions(course: Course, homework: str) -> list[tuple[str, Path]]:
    """(student, folder) for every collected submission of `homework`."""
    return [(p.parent.name, p) for p in sorted(course.submitted.glob(f"*/{homework}")) if p.is_dir()]
