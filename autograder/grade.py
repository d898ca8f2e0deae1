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
import multiprocessing
import multiprocessing.util
import secrets
import shutil
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import nbformat

from .budgets import scaled_time_limits
from .checker.runner import QuestionChecks, load_checks, run_checks, start_check_server, zero_results
from .collect import submissions
from .cores import pin_worker, usable_cores
from .course import Course
from .gradebook import NotebookGrade, graded_notebooks, open_gradebook, record
from .release import is_hidden_checks_cell, register
from .executor import KernelStartError, Limits, execute_notebook
from .executor.warm import WarmKernels, imported_modules
from .executor.execute import STATUS_CRASHED, STATUS_ERROR, STATUS_OK, STATUS_TIMEOUT
from .submission import grade_id, is_answer_cell, load_submission

# Only inert output types are kept in the autograded copy that instructors open in a browser.
SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
KERNEL_START_ATTEMPTS = 3
# The grade's status (gradebook.STATUSES) for each way an execution ends (executor's statuses). A
# notebook whose cells raised still ran to the end: it is graded, and the summary names the cell.
EXECUTION_STATUS = {STATUS_OK: "graded", STATUS_ERROR: "graded", STATUS_TIMEOUT: "timed out",
                    STATUS_CRASHED: "crashed"}


@dataclass
class GradingOptions:
    limits: Limits = field(default_factory=Limits)   # defaults; each question's BUDGET refines them
    overrides: dict = field(default_factory=dict)     # the instructor's explicit limits win over budgets
    unsandboxed_ok: bool = False   # instructor's explicit opt-out, for trusted code only
    regrade: bool = False
    jobs: int = 1                  # notebooks graded at the same time, each in its own worker process
    warm_kernels: bool = True      # fork each worker's kernels from a sandbox with the frameworks imported
    # A question's budget was measured on the whole machine; a worker pinned to a share of its cores
    # gets its time limits stretched by (usable cores / its share), never the instructor's limits.
    budget_time_scale: float = 1.0

    def limits_for(self, checks: QuestionChecks) -> Limits:
        # An explicit cell limit is the instructor's word for every cell, measured ones included.
        explicit = {"cell_timeouts": ()} if "cell_timeout_s" in self.overrides else {}
        budget = scaled_time_limits(checks.budget, self.budget_time_scale)
        return replace(self.limits, **{**budget, **self.overrides, **explicit})


def default_jobs(course: Course, homework: str) -> int:
    """As many workers as there are cores, and as the memory holds notebooks at their memory limit."""
    import psutil

    limits = GradingOptions().limits
    memory_mb = max([load_checks(course, homework, q).budget.get("memory_mb", limits.memory_mb)
                     for q in course.questions(homework)] or [limits.memory_mb])
    by_memory = psutil.virtual_memory().total // (memory_mb * 2**20)
    return max(1, min(len(usable_cores()), int(by_memory)))


@dataclass(frozen=True)
class Task:
    """One notebook to grade, with what a worker needs to grade it on its own."""
    student: str
    question: str
    path: Path
    timestamp: str | None
    student_data: Path


def grade_homework(course: Course, homework: str, options: GradingOptions | None = None,
                   students: list[str] | None = None, on_graded=None,
                   shard: tuple[int, int] | None = None, on_start=None) -> list[NotebookGrade]:
    """Grade every collected notebook of `homework` that has no grade for its current file.

    shard=(i, n) grades only the students whose position in name order is i-1 modulo n (i from 1),
    so that n machines share a batch. Grades are recorded by this process only, as workers finish:
    nbgrader's SQLite gradebook has one writer, and a killed run resumes where it stopped.
    """
    options = options or GradingOptions()
    register(course, homework)
    gb = open_gradebook(course)
    try:
        # Read once per batch: each question's gradebook cell, hidden checks and student-visible data.
        hidden_cells = {q: hidden_cell_id(course, homework, q) for q in course.questions(homework)}
        checks = {q: load_checks(course, homework, q) for q in hidden_cells}
        tasks = plan(course, homework, gb, options, checks, students, shard)
        if on_start:
            on_start(tasks)
        graded = []
        timestamps = {(t.student, t.question): t.timestamp for t in tasks}
        for grade in run_tasks(course, homework, tasks, options, checks):
            record(gb, grade, hidden_cells[grade.notebook], timestamps[grade.student, grade.notebook])
            graded.append(grade)
            if on_graded:
                on_graded(grade)
        return graded
    finally:
        gb.close()
        _close_warm_kernels()


def plan(course: Course, homework: str, gb, options: GradingOptions, checks: dict[str, QuestionChecks],
         students: list[str] | None, shard: tuple[int, int] | None) -> list[Task]:
    """The notebooks this run grades, question by question in book order, students in name order
    within each: consecutive notebooks then share their sandbox's settings, so the next kernel can
    start while a notebook is checked."""
    done = {} if options.regrade else graded_notebooks(gb, homework)
    student_data = {q: prepare_student_data(course, c.datasets) for q, c in checks.items()}
    folders = [(student, folder, _timestamp(folder))
               for position, (student, folder) in enumerate(submissions(course, homework))
               if not (students and student not in students)
               and not (shard and position % shard[1] != shard[0] - 1)]
    tasks = []
    for question in checks:
        for student, folder, timestamp in folders:
            path = folder / f"{question}.ipynb"
            if (student, question) in done and done[student, question] == file_sha256(path):
                continue
            tasks.append(Task(student, question, path, timestamp, student_data[question]))
    return tasks


def run_tasks(course: Course, homework: str, tasks: list[Task], options: GradingOptions,
              checks: dict[str, QuestionChecks]):
    """Grades, as they finish: here one after the other, or in `options.jobs` worker processes.
    A question not submitted is recorded here at once: no worker needs to start for it."""
    def here(task):
        return grade_notebook(course, homework, task.student, task.question, task.path, options,
                              checks[task.question], task.student_data)

    submitted = []
    for task in tasks:
        if task.path.exists():
            submitted.append(task)
        else:
            yield here(task)
    if options.jobs <= 1 or len(submitted) <= 1:
        if submitted:
            start_check_server(course)
        for task in submitted:
            yield here(task)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Spawned, not forked: a worker starts clean (no inherited threads, locks or framework state).
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for slot in range(options.jobs):
        slots.put(slot)
    with ProcessPoolExecutor(min(options.jobs, len(submitted)), mp_context=context, initializer=_worker_start,
                             initargs=(slots, options.jobs, course)) as pool:
        futures = [pool.submit(_grade_in_worker, course, homework, task, options) for task in submitted]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


_WORKER_SLOT = 0
_WORKER_THREADS: int | None = None
_WORKER_TIME_SCALE = 1.0
_WARM: WarmKernels | None = None   # this process's kernel started ahead, made on first use


def _warm_kernels(options: GradingOptions) -> WarmKernels | None:
    global _WARM
    if options.warm_kernels and _WARM is None:
        _WARM = WarmKernels()
    return _WARM if options.warm_kernels else None


def _close_warm_kernels() -> None:
    global _WARM
    if _WARM is not None:
        _WARM.close()
        _WARM = None


def _worker_start(slots, jobs: int, course: Course) -> None:
    global _WORKER_SLOT, _WORKER_THREADS, _WORKER_TIME_SCALE
    _WORKER_SLOT = slots.get()
    cores = len(usable_cores())
    _WORKER_THREADS = pin_worker(_WORKER_SLOT, jobs)
    _WORKER_TIME_SCALE = cores / _WORKER_THREADS
    start_check_server(course)  # on the worker's cores, importing while its first kernel starts
    # A worker ends without running atexit handlers; this is how it kills its waiting kernel.
    multiprocessing.util.Finalize(None, _close_warm_kernels, exitpriority=10)


def _grade_in_worker(course: Course, homework: str, task: Task, options: GradingOptions) -> NotebookGrade:
    # Each worker's sandboxes run as a uid of their own (65534, 65533, ...): process limits are per uid.
    uid = options.limits.sandbox_uid - _WORKER_SLOT
    options = replace(options, limits=replace(options.limits, sandbox_uid=uid, threads=_WORKER_THREADS),
                      budget_time_scale=_WORKER_TIME_SCALE,
                      overrides={k: v for k, v in options.overrides.items() if k != "sandbox_uid"})
    checks = load_checks(course, homework, task.question)
    return grade_notebook(course, homework, task.student, task.question, task.path, options, checks,
                          task.student_data)


def grade_notebook(course: Course, homework: str, student: str, question: str, path: Path,
                   options: GradingOptions, checks: QuestionChecks, student_data: Path) -> NotebookGrade:
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
        executed_nb = _execute_and_check(course, checks, prepared.notebook, options, student_data, grade,
                                         preload=imported_modules(prepared.notebook))
        keep_autograded(course, student, homework, question, executed_nb)
    except Exception as err:  # a grader fault must still leave a recorded, explained result
        grade.status = "error"
        grade.message = f"the grader failed on this notebook ({type(err).__name__}); your instructor can see why"
        grade.checks = zero_results(checks, grade.message)
        grade.notes.append("grader error: " + "".join(traceback.format_exception(err))[-4000:])
    return grade


def _execute_and_check(course, checks: QuestionChecks, notebook, options, student_data, grade: NotebookGrade,
                       preload: tuple[str, ...] = ()):
    # Outside the repository and the workspace: neither may be visible from the sandbox.
    with tempfile.TemporaryDirectory(prefix="grading-") as workdir:
        # Drawn once: the kernel and the check process read the same request files.
        request = checks.harvest(grade.seed)
        request_dir = None
        if request is not None:
            request_dir = Path(workdir) / "request"
            request_dir.mkdir()
            request.write(request_dir)
        for attempt in range(KERNEL_START_ATTEMPTS):
            # A kernel that does not come up (a loaded machine) is the grader's problem, not the
            # student's: try again before recording an error. No student code has run yet.
            try:
                result = execute_notebook(
                    notebook, Path(workdir) / f"run{attempt}", options.limits_for(checks), harvest=request,
                    unsandboxed_ok=options.unsandboxed_ok, warm=_warm_kernels(options),
                    preload=preload, **sandbox_data_options(course, student_data))
                break
            except KernelStartError:
                if attempt == KERNEL_START_ATTEMPTS - 1:
                    raise
                time.sleep(2 * (attempt + 1))
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
    timed_out = next((f for f in failures if f.get("kind") == "timeout"), first)
    slow = (f"{timed_out['spent_in']} (called from {cell_name(timed_out)})" if timed_out.get("spent_in")
            else cell_name(timed_out) if timed_out else where)
    text = {"graded": f"ran to the end with errors (first in {where})",
            "timed out": f"timed out in {slow}", "crashed": f"the kernel died in {where}"}.get(status, status)
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


def written_answers(template, notebook) -> dict[str, str]:
    """grade_id -> a hash of the student's written answer, "" where the cell is still the released
    stub (the hash tells a resubmission that changed the answer from one that did not)."""
    stubs = {grade_id(c): c.source for c in template.cells
             if c.cell_type == "markdown" and is_answer_cell(c) and c.metadata["nbgrader"].get("grade")}
    answers = {grade_id(c): c.source.strip() for c in notebook.cells if grade_id(c) in stubs}
    return {gid: hashlib.sha256(answers[gid].encode()).hexdigest()[:16]
            if answers.get(gid, stub.strip()) != stub.strip() else "" for gid, stub in stubs.items()}


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


def prepare_student_data(course: Course, datasets: tuple[str, ...]) -> Path:
    """Decoded, student-visible arrays of exactly `datasets` for the sandbox (never held-out data).

    One folder per set of datasets in the data cache, per data profile, shared by every grading run
    and filled once; the workspace itself is never exposed to the sandbox. A question without
    datasets still gets one (holding only the profile), so `data.profile()` in the sandbox names
    the grader's profile rather than "full".
    """
    import data

    names = tuple(sorted(set(datasets)))
    target = data.cache_dir() / f"student-{data.profile()}" / ("+".join(names) or "no-datasets")
    data.prepare_student_cache(target, names=names)
    return target


def sandbox_data_options(course: Course, student_data: Path) -> dict:
    """The course's `data` package and the question's public data, both read-only in the sandbox."""
    return {"python_packages": [course.root / "data"], "ro_binds": [student_data],
            "env": {"COURSE_DATA_OFFLINE": "1", "COURSE_DATA_CACHE": str(student_data)}}


def file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _timestamp(folder: Path) -> str | None:
    stamp = folder / "timestamp.txt"
    return stamp.read_text().strip() if stamp.exists() else None

