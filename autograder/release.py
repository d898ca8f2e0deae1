"""Release: solutions/<hw>/ -> assignments/<hw>/ through nbgrader's own generate_assignment.

Steps, in order:
    derive   copy the masters, appending each question's hidden-checks cell with the points its
             check file awards (authors never type them); public check cells (`<prefix>_check_<what>`)
             become nbgrader test cells worth 0 points, so `nbgrader validate` runs them; a first
             code cell makes `import data` work in the repository, on a laptop and on Colab
    vet      refuse a question that breaks the static rules (verify.static_problems)
    generate nbgrader strips the solution regions, locks cells and records every graded cell (with
             its checksum and points) in the gradebook
    scan     no solution or hidden-test marker reached a student file

`check_release` regenerates into a scratch course and fails when the committed student versions are
stale, so CI catches a forgotten release.
"""
from __future__ import annotations

import contextlib
import copy
import filecmp
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from .checker.runner import load_checks
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


def hidden_checks_cell(question: str, points: float):
    """The locked, graded placeholder the gradebook records the hidden checks' score against."""
    cell = nbformat.v4.new_code_cell(
        f"# Hidden checks ({points:g} points): run by the autograder after you submit.\n"
        "# They call your functions on inputs chosen at grading time, and measure any model you build.")
    cell["id"] = f"{question}-hidden-checks"
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"{question}{HIDDEN_CHECKS_SUFFIX}", "locked": True,
                                 "points": points, "schema_version": 3, "solution": False}
    return cell


HIDDEN_CHECKS_SUFFIX = "_hidden_checks"
PUBLIC_CHECK_MARK = "_check_"   # grade_id of a public check cell: <prefix>_check_<what>


DATA_CELL_ID = "course_data_package"


def repository_url(course: Course) -> str:
    """The course's public repository, set once in _config.yml (`repository: url:`), as the site's
    launch buttons read it."""
    import yaml

    config = yaml.safe_load((course.root / "_config.yml").read_text()) or {}
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise ReleaseError("_config.yml has no `repository: url:` (the course's public repository): "
                           "released notebooks install the data package from it on Colab")
    return url.rstrip("/")


def data_package_cell(repository: str):
    """First code cell of every released notebook: makes `import data` work wherever it runs."""
    cell = nbformat.v4.new_code_cell(
        "# The course's `data` package, wherever this notebook runs: in the course's repository it is\n"
        "# found there; on Colab or a laptop without it, it is installed (once) from the repository.\n"
        "import importlib, importlib.util, subprocess, sys\n"
        "from pathlib import Path\n"
        "\n"
        "if importlib.util.find_spec(\"data\") is None:\n"
        "    here = Path.cwd().resolve()\n"
        "    checkout = next((p for p in (here, *here.parents) if (p / \"data\" / \"pyproject.toml\").is_file()), None)\n"
        "    if checkout is not None:\n"
        "        sys.path.insert(0, str(checkout))\n"
        "    else:\n"
        "        subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
        f"                               \"convnets-course-data @ git+{repository}#subdirectory=data\"])\n"
        "        importlib.invalidate_caches()")
    cell["id"] = DATA_CELL_ID.replace("_", "-")
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": DATA_CELL_ID, "locked": True,
                                 "schema_version": 3, "solution": False}
    return cell


def is_hidden_checks_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return (cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")
            and str(meta.get("grade_id", "")).endswith(HIDDEN_CHECKS_SUFFIX))


def is_public_check_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return (cell.get("cell_type") == "code" and bool(meta.get("locked")) and not meta.get("solution")
            and PUBLIC_CHECK_MARK in str(meta.get("grade_id", "")))


def as_nbgrader_test(cell):
    """A public check as a test cell worth 0 points: `nbgrader validate` and JupyterLab's Validate
    button run it and report its failure, and no grade depends on it."""
    cell.metadata["nbgrader"].update(grade=True, points=0)
    return cell


@contextlib.contextmanager
def derived_sources(course: Course, homework: str):
    """A copy of solutions/ in which each master of `homework` ends with its hidden-checks cell,
    worth what its check file awards; yields the folder to give nbgrader as source directory."""
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        source = Path(tmp) / "source"
        shutil.copytree(course.solutions / homework, source / homework)
        data_cell = data_package_cell(repository_url(course))
        for question in course.questions(homework):
            path = source / homework / f"{question}.ipynb"
            nb = nbformat.read(path, as_version=4)
            nb.cells = [as_nbgrader_test(c) if is_public_check_cell(c) else c
                        for c in nb.cells if not is_hidden_checks_cell(c)]
            first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
            nb.cells.insert(first_code, copy.deepcopy(data_cell))   # after the title and the prompt
            nb.cells.append(hidden_checks_cell(question, load_checks(course, homework, question).max_points))
            nbformat.write(nb, path)
        yield source


def generate(course: Course, homework: str, release_directory: Path) -> Path:
    """nbgrader's generate_assignment on the derived sources into release_directory/<homework>;
    refuses a homework that breaks the authoring rules (verify.static_problems) before and after."""
    from .verify import static_problems

    with derived_sources(course, homework) as source:
        api = nbgrader_api(course, source_directory=str(source), release_directory=str(release_directory))
        result = api.generate_assignment(homework, force=True, create=True)
    if not result["success"]:
        raise ReleaseError(f"nbgrader could not release {homework}:\n{result.get('error') or result.get('log')}")
    released = Path(release_directory) / homework
    _normalise(released)
    problems = static_problems(course, homework, released)
    leaked = find_secrets(released)
    if problems or leaked:
        raise ReleaseError(f"{homework} was not released, it breaks the authoring rules:\n  "
                           + "\n  ".join(problems + [f"marker in a student file: {hit}" for hit in leaked]))
    return released


def release(course: Course, homework: str) -> Path:
    """Generate the student version of `homework` and register it in the gradebook."""
    course.ensure_workspace()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(course, homework, Path(tmp))
        target = course.assignments / homework
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(fresh, target)
    return target


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
        fresh = generate(scratch, homework, Path(tmp) / "release")
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
    that knowledge from solutions/ into a throwaway release folder. A gradebook that already knows
    this exact homework (same masters, checks and configuration) is left alone: nbgrader's
    release takes seconds, and every `grade` and shard would pay them.
    """
    from sqlalchemy import text

    from .gradebook import open_gradebook

    fingerprint = homework_fingerprint(course, homework)
    gb = open_gradebook(course)
    try:
        gb.db.execute(text("CREATE TABLE IF NOT EXISTS autograder_registered "
                           "(assignment TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)"))
        known = gb.db.execute(text("SELECT fingerprint FROM autograder_registered WHERE assignment = :a"),
                              {"a": homework}).scalar()
        gb.db.commit()
    finally:
        gb.close()
    if known == fingerprint:
        return
    course.ensure_workspace()
    with tempfile.TemporaryDirectory() as tmp:
        generate(course, homework, Path(tmp))
    gb = open_gradebook(course)
    try:
        gb.db.execute(text("INSERT OR REPLACE INTO autograder_registered VALUES (:a, :f)"),
                      {"a": homework, "f": fingerprint})
        gb.db.commit()
    finally:
        gb.close()


def homework_fingerprint(course: Course, homework: str) -> str:
    """What a release of `homework` depends on: its masters, its check files, the configuration."""
    digest = hashlib.sha256()
    files = sorted((course.solutions / homework).glob("*.ipynb")) + sorted((course.checks / homework).glob("*.py"))
    for path in files + [course.root / "nbgrader_config.py", course.root / "_config.yml", Path(__file__)]:
        digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return digest.hexdigest()
