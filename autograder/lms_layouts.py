"""How learning-management systems name the files of a "download all submissions", and whose each is.

Pure functions on names (no file access), used by collect.py:

    detect_layout(paths)         canvas | moodle | gradescope | folders
    parse(layout, parts, ...)    Found (who, file name, order, time) or the reason it cannot be read
    match_question(name, qs)     the question a file name means, despite browser and LMS renaming
    Roster / load_roster(csv)    what the LMS shows -> the course's student ids

The layouts, as the LMSs write them:

    canvas      smithcarol_12345_67890_conv_by_hand.ipynb, smithcarol_LATE_12345_67890_conv_by_hand-1.ipynb
                (<lastfirst>[_LATE]_<user id>_<attachment id>_<original file name>, flat)
    moodle      Carol Smith_4242_assignsubmission_file_/conv_by_hand.ipynb (also without the trailing
                underscore), or flat: Carol Smith_4242_assignsubmission_file_conv_by_hand.ipynb
    gradescope  submission_<id>/<files>, and submission_metadata.yml naming each submission's submitters
    folders     <student>/<hw>/<question>.ipynb, <student>/<question>.ipynb, under any top folders
"""
from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .errors import UsageError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

CANVAS_FILE = re.compile(r"^(?P<name>[^_]+)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<order>\d+)_(?P<file>.+)$")
MOODLE_PART = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?(?P<file>.*)$")
GRADESCOPE_DIR = re.compile(r"^submission_(?P<id>\d+)$")
GRADESCOPE_METADATA = "submission_metadata.yml"

LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle", "gradescope": "Gradescope", "folders": "folder"}
EXPECTED = {
    "canvas": "<name>_<userid>_<submissionid>_<file> as Canvas names files",
    "moodle": "<Full Name>_<id>_assignsubmission_file_ as Moodle names folders",
    "gradescope": "submission_<id>/ as Gradescope exports",
}


# --- Who submitted ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Identity:
    """A submitter as the download shows them: any of a name, an LMS id, an email."""
    lms: str           # canvas | moodle | gradescope | folders
    name: str = ""     # Canvas "smithcarol", Moodle "Carol Smith", Gradescope's name, a folder's name
    lms_id: str = ""   # Canvas user id, Moodle participant id, Gradescope sid
    email: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Same key, same person (within one download)."""
        return self.lms, self.lms_id or self.email.casefold() or self.name

    def describe(self) -> str:
        if self.lms == "folders":
            return f"folder {self.name!r}"
        ids = ", ".join(x for x in (self.lms_id and f"id {self.lms_id}", self.email) if x)
        return f"{LMS_NAMES[self.lms]} student {self.name!r}" + (f" ({ids})" if ids else "")

    def default_id(self) -> str | None:
        """The student id to use without a roster, or None when none can be made."""
        if self.lms == "folders":
            return folder_student_id(self.name)
        if self.lms == "gradescope":
            local = self.email.split("@")[0]
            return next((s for s in (slug(self.lms_id), slug(local), slug(self.name)) if s), None)
        return slug(self.name)

    def roster_keys(self) -> list[tuple[str, str]]:
        """(roster column, value) to look up, most reliable first."""
        if self.lms == "folders":
            return [("student_id", self.name), ("lms_id", self.name), ("email", self.name),
                    ("name", self.name)]
        keys = [("lms_id", self.lms_id), ("email", self.email), ("name", self.name)]
        if self.lms == "gradescope":
            keys.insert(1, ("student_id", self.lms_id))
        return [(column, value) for column, value in keys if value]


def plain(text: str) -> str:
    """Accents stripped, compatibility forms folded: 'Jos\u00e9' -> 'Jose'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def folder_student_id(folder: str) -> str | None:
    """A folder's name as a student id: kept when valid; else lowercased, spaces -> '_', accents
    stripped ('Carol Smith' -> 'carol_smith'). Anything else invalid is refused, not guessed."""
    if STUDENT_ID.match(folder):
        return folder
    candidate = re.sub(r"\s+", "_", plain(folder).strip().lower())
    return candidate if STUDENT_ID.match(candidate) else None


def slug(name: str) -> str | None:
    """A display name as a student id: 'Se\u00e1n O'Brien' -> 'sean_obrien'."""
    candidate = re.sub(r"\s+", "_", plain(name).strip().lower())
    candidate = re.sub(r"[^a-z0-9_.@-]", "", candidate).strip("_.@-")[:64]
    return candidate if candidate and STUDENT_ID.match(candidate) else None


def name_tokens(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", plain(name).casefold())


# --- Where a file sits ------------------------------------------------------------------------

@dataclass
class Found:
    """What a file's place in the download says about it."""
    identities: list[Identity]       # several for a group submission
    filename: str                    # the name the student gave the file
    layout: str
    homework: str | None = None      # a homework folder on the way (folders layout)
    order: int = -1                  # LMS attachment / submission id: larger is newer
    time: datetime | None = None     # submission time the LMS recorded
    late: bool = False               # the LMS marked it late


def detect_layout(paths: list[tuple[str, ...]]) -> str:
    """The layout of a download, from the paths of its files."""
    if any(p[-1] == GRADESCOPE_METADATA or any(GRADESCOPE_DIR.match(d) for d in p[:-1]) for p in paths):
        return "gradescope"
    if any(MOODLE_PART.match(part) for p in paths for part in p):
        return "moodle"
    canvas = sum(1 for p in paths if CANVAS_FILE.match(p[-1]))
    if canvas and 2 * canvas >= len(paths):
        return "canvas"
    return "folders"


def parse(layout: str, parts: tuple[str, ...], is_homework: Callable[[str], bool],
          gradescope: dict[str, dict] | None = None, homework_folders: bool = False) -> Found | str:
    """What `parts` (a file's path in the download) says under `layout`; a reason when nothing.
    In an LMS's download, a file that does not follow its naming is taken only from a
    <student>/<hw>/ folder: the folder of a stray file is the export's, not a student's.
    `homework_folders`: the download's notebooks sit in homework folders, so one two folders deep
    outside any sits in a misnamed one (carol/hw9/q.ipynb), not in a student's folder."""
    if layout != "folders":
        found = {"canvas": _canvas, "moodle": _moodle, "gradescope": _gradescope}[layout](parts, gradescope)
        if found is not None:
            return found
    found = _folders(parts, is_homework, homework_folders)
    if layout != "folders" and (isinstance(found, str) or found.homework is None):
        return f"not named {EXPECTED[layout]}, nor in a <student>/<hw>/ folder"
    return found


def _canvas(parts: tuple[str, ...], _meta) -> Found | None:
    m = CANVAS_FILE.match(parts[-1])
    if not m:
        return None
    return Found([Identity("canvas", name=m["name"], lms_id=m["uid"])], m["file"], "canvas",
                 order=int(m["order"]), late=bool(m["late"]))


def _moodle(parts: tuple[str, ...], _meta) -> Found | None:
    for i, part in enumerate(parts):
        m = MOODLE_PART.match(part)
        if not m:
            continue
        filename = m["file"] if i == len(parts) - 1 else parts[-1]
        if filename:
            return Found([Identity("moodle", name=m["name"].strip(), lms_id=m["pid"])], filename, "moodle")
    return None


def _gradescope(parts: tuple[str, ...], metadata: dict[str, dict] | None) -> Found | str | None:
    folder = next((d for d in parts[:-1] if GRADESCOPE_DIR.match(d)), None)
    if folder is None:
        return None
    if metadata is None:
        return f"no {GRADESCOPE_METADATA} in the export says whose {folder} is"
    if folder not in metadata:
        return f"{folder} is not in {GRADESCOPE_METADATA}, so whose it is is unknown"
    entry = metadata[folder]
    identities = [Identity("gradescope", name=s["name"], lms_id=s["sid"], email=s["email"])
                  for s in entry["submitters"]]
    if not identities:
        return f"{GRADESCOPE_METADATA} names no submitter for {folder}"
    return Found(identities, parts[-1], "gradescope", order=int(GRADESCOPE_DIR.match(folder)["id"]),
                 time=entry["created_at"])


def _folders(parts: tuple[str, ...], is_homework: Callable[[str], bool], homework_folders: bool) -> Found | str:
    """<...>/<student>/<hw>/<q>, <...>/<hw>/<student>/<q>, <...>/<student>/<q>: the student is the
    folder just above a homework folder that holds the file, else the one just below it, else the
    file's own folder."""
    dirs = parts[:-1]
    homework_at = [i for i, d in enumerate(dirs) if is_homework(d)]
    student = homework = None
    if homework_at:
        i = homework_at[-1]
        homework = dirs[i]
        if i == len(dirs) - 1 and i >= 1:
            student = dirs[i - 1]
        elif i < len(dirs) - 1:
            student = dirs[i + 1]
    elif len(dirs) > 1 and homework_folders:
        return (f"not inside a homework folder as the rest of the download is "
                f"({dirs[-1]!r} is not a homework of the course)")
    elif dirs:
        student = dirs[-1]
    if student is None:
        return "not inside a student's folder (<student>/<hw>/<question>.ipynb or <student>/<question>.ipynb)"
    return Found([Identity("folders", name=student)], parts[-1], "folders", homework=homework)


# --- Gradescope's submission_metadata.yml -----------------------------------------------------

def read_gradescope_metadata(text: str) -> dict[str, dict]:
    """submission_<id> -> {"submitters": [{"name", "sid", "email"}], "created_at": datetime | None}.
    Keys lose their leading colons (':submitters:' -> 'submitters'); Ruby tags are read as plain
    values. Raises ValueError when the file is not such a mapping."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def untagged(loader, _suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as err:
        raise ValueError(f"not valid YAML ({str(err).splitlines()[0]})") from None
    data = _strip_colons(data)
    if not isinstance(data, dict):
        raise ValueError("not a mapping of submissions")
    result = {}
    for key, entry in data.items():
        if not GRADESCOPE_DIR.match(str(key)) or not isinstance(entry, dict):
            continue
        submitters = entry.get("submitters") or []
        result[str(key)] = {
            "submitters": [{"name": _text(s.get("name")), "sid": _text(s.get("sid")),
                            "email": _text(s.get("email"))} for s in submitters if isinstance(s, dict)],
            "created_at": _datetime(entry.get("created_at")),
        }
    return result


def _strip_colons(value):
    if isinstance(value, dict):
        return {(k.strip(":") if isinstance(k, str) else k): _strip_colons(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_colons(v) for v in value]
    return value


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _datetime(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value.strip():
        from dateutil import parser

        try:
            parsed = parser.parse(value)
        except (ValueError, OverflowError):
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


# --- Which question ---------------------------------------------------------------------------

# What browsers, operating systems, Jupyter and LMSs do to a file name, outermost first; the number
# (when any) orders copies: conv_by_hand (2) is newer than conv_by_hand (1).
RENAMINGS = [
    re.compile(r"^copy of\s+(?P<base>.+)$", re.IGNORECASE),               # Google Drive
    re.compile(r"^(?P<base>.+?)\s*-\s*copy(?:\s*\((?P<n>\d+)\))?$", re.IGNORECASE),  # Windows
    re.compile(r"^(?P<base>.+?)-copy(?P<n>\d+)$", re.IGNORECASE),          # Jupyter's Duplicate
    re.compile(r"^(?P<base>.+?)\s*\((?P<n>\d+)\)$"),                       # browsers
    re.compile(r"^(?P<base>.+?)-(?P<n>\d+)$"),                             # Canvas resubmissions
    re.compile(r"^(?P<base>.+?)\s+(?P<n>\d+)$"),                           # macOS Finder
]


def is_notebook(filename: str) -> bool:
    return filename.lower().endswith(".ipynb")


def match_question(filename: str, questions: list[str]) -> tuple[str, int] | None:
    """(question, copy number) that `filename` names, or None. 'conv_by_hand.ipynb' -> 0;
    'Copy of Conv_By_Hand (2).ipynb' -> 2. Exact names win over renamed ones."""
    if not is_notebook(filename):
        return None
    keys: dict[str, list[str]] = {}
    for q in questions:
        keys.setdefault(_question_key(q), []).append(q)
    stem, copy = filename[: -len(".ipynb")].strip(), 0
    for _ in range(4):
        if stem in questions:
            return stem, copy
        same = keys.get(_question_key(stem), [])
        if len(same) == 1:
            return same[0], copy
        for pattern in RENAMINGS:
            m = pattern.match(stem)
            if m:
                stem = m["base"].strip()
                copy = max(copy, int(m.groupdict().get("n") or 1))
                break
        else:
            return None
    return None


def _question_key(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", plain(name).casefold()).strip("_")


# --- Roster -----------------------------------------------------------------------------------

class RosterError(UsageError):
    """The roster file cannot be used as it is."""


@dataclass
class Roster:
    """Rows `student_id` + any of `name`, `email`, `lms_id` (several ids may share a cell, split by
    ';'). Several rows may name one student (e.g. a Canvas id and a Gradescope sid)."""
    index: dict[str, dict[str, set[str]]] = field(default_factory=lambda: {
        "student_id": {}, "lms_id": {}, "email": {}, "name": {}})
    students: set[str] = field(default_factory=set)
    # student id -> its first name, email and LMS id: what an LMS gradebook import matches on.
    people: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, student_id: str, name: str = "", email: str = "", lms_ids: str = "") -> None:
        self.students.add(student_id)
        person = self.people.setdefault(student_id, {})
        first_id = next(iter(re.split(r"[;|\s]+", lms_ids.strip())), "")
        for key, value in (("name", name.strip()), ("email", email.strip()), ("lms_id", first_id)):
            if value and key not in person:
                person[key] = value
        self._put("student_id", student_id.casefold(), student_id)
        for lms_id in re.split(r"[;|\s]+", lms_ids.strip()):
            if lms_id:
                self._put("lms_id", lms_id.casefold(), student_id)
        if email.strip():
            self._put("email", email.strip().casefold(), student_id)
        tokens = name_tokens(name)
        # Canvas writes 'Smith, Carol' as 'smithcarol', Moodle writes 'Carol Smith': any order.
        orders = itertools.permutations(tokens) if len(tokens) <= 5 else [tokens, tokens[::-1]]
        for order in orders:
            self._put("name", "".join(order), student_id)

    def _put(self, column: str, key: str, student_id: str) -> None:
        self.index[column].setdefault(key, set()).add(student_id)

    def match(self, identity: Identity) -> tuple[str | None, str]:
        """(student id, "") or (None, why not)."""
        for column, value in identity.roster_keys():
            key = "".join(name_tokens(value)) if column == "name" else value.strip().casefold()
            found = self.index[column].get(key, set())
            if len(found) == 1:
                return next(iter(found)), ""
            if len(found) > 1:
                return None, (f"the roster's {column} {value!r} is that of several students "
                              f"({', '.join(sorted(found))}); whose file this is is not guessed")
        return None, f"no roster row matches {identity.describe()}"


def load_roster(path: Path | str) -> Roster:
    """Read a roster CSV (a header row; ',' ';' or tab separated; Excel's BOM tolerated)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise RosterError(f"cannot read the roster {path}: {err}") from None
    return parse_roster(text, str(path))


def parse_roster(text: str, where: str = "roster") -> Roster:
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header = [re.sub(r"\s+", "_", h.strip().lower()) for h in next(rows, [])]
    if "student_id" not in header:
        raise RosterError(f"{where}: no student_id column (columns: {', '.join(header) or 'none'}); "
                          f"a roster has student_id and any of name, email, lms_id")
    column = {name: header.index(name) for name in ("student_id", "name", "email", "lms_id") if name in header}
    roster = Roster()
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda name: row[column[name]].strip() if name in column and column[name] < len(row) else ""  # noqa: E731
        student = cell("student_id")
        if not STUDENT_ID.match(student):
            raise RosterError(f"{where} line {line}: {student!r} is not a valid student id "
                              f"(letters, digits, _ . @ -)")
        roster.add(student, cell("name"), cell("email"), cell("lms_id"))
    return roster
