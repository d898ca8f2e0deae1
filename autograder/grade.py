"""Grade: the path of one submitted notebook, as a short sequence of named steps.

    prepare   read the file, rebuild it on the released template      (submission.py)
    execute   run it in a real kernel inside the sandbox, then harvest  (executor/, kernel_side/)
    check     run the hidden checks on the harvested data, trusted     (checker/)
    record    scores + outcome into nbgrader's gradebook, one transaction (gradebook.py)
    keep      the executed notebook for formgrader and feedback        (workspace/autograded)

Every notebook ends with a recorded status; a broken, missing, looping or crashing notebook is a
graded result with a message, and the batch goes on. A killed run resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import nbformat

from .checker.runner import QuestionChecks, load_checks, run_checks, zero_results
from .collect import submissions
from .course import Course
from .gradebook import NotebookGrade, graded_notebooks, open_gradebook, record
from .release import is_hidden_checks_cell, register
from .executor import Limits, execute_notebook
from .submission import grade_id, is_answer_cell, load_submission

# Only inert output types are kept in the autograded copy that instructors open in a browser.
SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
# A notebook whose cells raised still ran to the end: it is graded, and the summary names the cell.
EXECUTION_STATUS = {"ok": "graded", "error": "graded", "timeout": "timed out", "crashed": "crashed"}


@dataclass
class GradingOptions:
    limits: Limits = field(default_factory=Limits)   # defaults; each question's BUDGET refines them
    overrides: dict = field(default_factory=dict)     # the instructor's explicit limits win over budgets
    unsandboxed_ok: bool = False   # instructor's explicit opt-out, for trusted code only
    regrade: bool = False

    def limits_for(self, checks: QuestionChecks) -> Limits:
        return replace(self.limits, **{**checks.budget, **self.overrides})


def grade_homework(course: Course, homework: str, options: GradingOptions | None = None,
                   students: list[str] | None = None, on_graded=None) -> list[NotebookGrade]:
    options = options or GradingOptions()
    register(course, homework)
    gb = open_gradebook(course)
    try:
        done = {} if options.regrade else graded_notebooks(gb, homework)
        # Read once per batch: each question's gradebook cell, hidden checks and student-visible data.
        hidden_cells = {q: hidden_cell_id(course, homework, q) for q in course.questions(homework)}
        checks = {q: load_checks(course, homework, q) for q in hidden_cells}
        student_data = {q: prepare_student_data(course, c.datasets) for q, c in checks.items()}
        graded = []
        for student, folder in submissions(course, homework):
            if students and student not in students:
                continue
            timestamp = _timestamp(folder)
            for question, hidden_cell in hidden_cells.items():
                path = folder / f"{question}.ipynb"
                if (student, question) in done and done[student, question] == file_sha256(path):
                    continue
                grade = grade_notebook(course, homework, student, question, path, options,
                                       checks[question], student_data[question])
                record(gb, grade, hidden_cell, timestamp)
                graded.append(grade)
                if on_graded:
                    on_graded(grade)
        return graded
    finally:
        gb.close()


def grade_notebook(course: Course, homework: str, student: str, question: str, path: Path,
                   options: GradingOptions, checks: QuestionChecks, student_data: Path | None) -> NotebookGrade:
    grade = NotebookGrade(student, homework, question, status="error", seed=secrets.randbelow(2**31),
                          submission_sha256=file_sha256(path))
    try:
        template = released_template(course, homework, question)
        prepared = load_submission(path if path.exists() else None, template)
        grade.notes = prepared.notes
        if prepared.notebook is None:
            grade.status = "missing" if not path.exists() else "invalid"
            grade.message = prepared.problem
            grade.checks = zero_results(checks, prepared.problem)
            return grade
        grade.manual_answers = written_answers(template, prepared.notebook)
        executed_nb = _execute_and_check(course, checks, prepared.notebook, options, student_data, grade)
        keep_autograded(course, student, homework, question, executed_nb)
    except Exception as err:  # a grader fault must still leave a recorded, explained result
        grade.status = "error"
        grade.message = f"the grader failed on this notebook ({type(err).__name__}); your instructor can see why"
        grade.checks = zero_results(checks, grade.message)
        grade.notes.append("grader error: " + "".join(traceback.format_exception(err))[-4000:])
    return grade


def _execute_and_check(course, checks: QuestionChecks, notebook, options, student_data, grade: NotebookGrade):
    # Outside the repository and the workspace: neither may be visible from the sandbox.
    with tempfile.TemporaryDirectory(prefix="grading-") as workdir:
        # Drawn once: the kernel and the check process read the same request files.
        request = checks.harvest(grade.seed)
        request_dir = None
        if request is not None:
            request_dir = Path(workdir) / "request"
            request_dir.mkdir()
            request.write(request_dir)
        result = execute_notebook(
            notebook, Path(workdir), options.limits_for(checks), harvest=request,
            unsandboxed_ok=options.unsandboxed_ok, **sandbox_data_options(course, student_data))
        failures = [asdict(f) for f in result.cell_failures]
        grade.status = EXECUTION_STATUS.get(result.status, "error")
        grade.wall_s, grade.peak_rss_mb, grade.limit_hit = result.wall_s, result.peak_rss_mb, result.limit_hit
        grade.notes += [f"{cell_name(f)}: {f.get('kind')}: {f.get('message')}" for f in failures]
        grade.message = _summary(grade.status, failures, result.limit_hit)
        if result.harvest_error:
            grade.notes.append(f"collecting results: {result.harvest_error}")
        execution = {"status": result.status, "cell_failures": failures, "harvest_error": result.harvest_error}
        grade.checks = run_checks(course, checks, result.results_dir, execution, request_dir)
        return result.notebook


def _summary(status: str, failures: list[dict], limit_hit: str | None) -> str:
    if status == "graded" and not failures:
        return "ran to the end"
    first = failures[0] if failures else {}
    where = cell_name(first) if first else "the notebook"
    text = {"graded": f"ran to the end with errors (first in {where})",
            "timed out": f"timed out in {where}", "crashed": f"the kernel died in {where}"}.get(status, status)
    return text + (f"; limit hit: {limit_hit}" if limit_hit else "")


def cell_name(failure: dict) -> str:
    """The graded cell's id, or the cell's position as Jupyter users count (from 1)."""
    return failure.get("grade_id") or f"cell {failure['index'] + 1}"


def released_template(course: Course, homework: str, question: str):
    return nbformat.read(course.assignments / homework / f"{question}.ipynb", as_version=4)


def hidden_cell_id(course: Course, homework: str, question: str) -> str:
    template = released_template(course, homework, question)
    for cell in template.cells:
        if is_hidden_checks_cell(cell):
            return grade_id(cell)
    raise LookupError(f"{homework}/{question} has no hidden-checks cell (a locked, graded code cell)")


def written_answers(template, notebook) -> dict[str, bool]:
    """grade_id -> whether the student changed the written-answer cell from its released stub."""
    stubs = {grade_id(c): c.source for c in template.cells
             if c.cell_type == "markdown" and is_answer_cell(c) and c.metadata["nbgrader"].get("grade")}
    answers = {grade_id(c): c.source for c in notebook.cells if grade_id(c) in stubs}
    return {gid: answers.get(gid, stub).strip() != stub.strip() for gid, stub in stubs.items()}


def keep_autograded(course: Course, student: str, homework: str, question: str, notebook) -> Path:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if "data" in output:
                    output["data"] = {k: v for k, v in output["data"].items() if k in SAFE_MIME}
    folder = course.autograded / student / homework
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{question}.ipynb"
    nbformat.write(notebook, path)
    submitted_stamp = course.submitted / student / homework / "timestamp.txt"
    if submitted_stamp.exists():
        shutil.copy(submitted_stamp, folder / "timestamp.txt")
    return path


def prepare_student_data(course: Course, datasets: tuple[str, ...]) -> Path | None:
    """Decoded, student-visible arrays of exactly `datasets` for the sandbox (never held-out data).

    One folder per set of datasets in the data cache, per data profile, shared by every grading run
    and filled once; the workspace itself is never exposed to the sandbox.
    """
    if not datasets:
        return None
    import data

    target = data.cache_dir() / f"student-{data.profile()}" / "+".join(sorted(set(datasets)))
    data.prepare_student_cache(target, names=tuple(sorted(set(datasets))))
    return target


def sandbox_data_options(course: Course, student_data: Path | None) -> dict:
    """The course's `data` package and the question's public data, both read-only in the sandbox."""
    options = {"python_packages": [course.root / "data"], "env": {"COURSE_DATA_OFFLINE": "1"}}
    if student_data is not None:
        options["ro_binds"] = [student_data]
        options["env"]["COURSE_DATA_CACHE"] = str(student_data)
    return options


def file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _timestamp(folder: Path) -> str | None:
    stamp = folder / "timestamp.txt"
    return stamp.read_text().strip() if stamp.exists() else None

