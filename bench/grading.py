"""Benchmark: what grading costs, side by side with `nbgrader autograde`. Prints tables; asserts nothing.

    .venv/bin/python bench/grading.py                                    # the defaults below
    .venv/bin/python bench/grading.py --question mnist_cnn --students reference pytorch --repeat 3
    .venv/bin/python bench/grading.py --question conv_by_hand --copies 8 --jobs 1 2

1. Fixed costs: an empty notebook through the sandbox, in a kernel started for it and in one forked
   ahead from a warm sandbox (as in a batch, where the next kernel is forked while a notebook is
   checked); the hidden checks of a one-line check file,
   in a cold `python -m pytest` and forked from the warm check server.
2. Side by side: the same submissions graded by `python -m autograder grade` with one worker and
   with the default number (sandbox, harvest, hidden checks, gradebook) and by `nbgrader autograde`
   (runs the notebook, no sandbox, no hidden checks), alternating, median of the repeats; seconds
   per notebook and the ratio.
3. Scaling: the same batch with each --jobs value; throughput relative to one worker.
4. Per notebook (from our gradebook): execution time and the sandbox's peak memory.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import examples  # noqa: E402
from autograder.checker import runner  # noqa: E402
from autograder.checker.plugin import load_check_module  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.executor import execute_notebook, sandbox_available  # noqa: E402
from autograder.executor.warm import WarmKernels  # noqa: E402
from autograder.grade import default_jobs  # noqa: E402
from autograder.gradebook import open_gradebook, runs  # noqa: E402
from autograder.release import generate  # noqa: E402

PYTHON = sys.executable
# Errors that mean nbgrader's kernel could not run the notebook at all (as opposed to a wrong answer).
ENVIRONMENT_ERRORS = ("ModuleNotFoundError", "ImportError", "FileNotFoundError", "DataUnavailableError")
NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
console = Console(width=140)
WARM_GAP_S = 2.0  # between two empty notebooks, time for the next kernel to come up


def timed(func, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def fixed_costs(repeat: int) -> Table:
    table = Table(title="Fixed costs (median seconds)")
    for column in ("what", "seconds", "runs"):
        table.add_column(column)
    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = timed(lambda: execute_notebook(empty, Path(tmp)), repeat)
        warm_kernels = WarmKernels()
        execute_notebook(empty, Path(tmp), warm=warm_kernels)  # the first starts the warm sandbox

        def in_warm_kernel():
            time.sleep(WARM_GAP_S)  # what a batch spends checking the last notebook: not counted
            start = time.perf_counter()
            execute_notebook(empty, Path(tmp), warm=warm_kernels)
            return time.perf_counter() - start

        warm_sandbox = [in_warm_kernel() for _ in range(repeat)]
        warm_kernels.close()
        check = Path(tmp) / "test_empty.py"
        check.write_text(textwrap.dedent('''
            import pytest

            @pytest.mark.points(1)
            def test_nothing(submission):
                """Nothing."""
            '''))
        checks = runner.QuestionChecks(check, load_check_module(check))
        course = Course()

        def run_checks():
            runner.run_checks(course, checks, None, {"status": "ok"}, None)

        runner.WARM = False
        cold = timed(run_checks, repeat)
        runner.WARM = True
        run_checks()  # start the server: its imports are paid once per grading process
        warm = timed(run_checks, repeat)
    table.add_row("empty notebook through the sandbox, kernel started for it", f"{statistics.median(sandbox):.2f}",
                  str(repeat))
    table.add_row("empty notebook through the sandbox, kernel forked ahead (a batch)",
                  f"{statistics.median(warm_sandbox):.2f}", str(repeat))
    command = timed(lambda: subprocess.run([PYTHON, "-m", "autograder", "homeworks"], cwd=ROOT, check=True,
                                           capture_output=True), repeat)
    table.add_row("a command's start (`python -m autograder homeworks`)", f"{statistics.median(command):.2f}",
                  str(repeat))
    table.add_row("one-line hidden check, cold pytest process", f"{statistics.median(cold):.2f}", str(repeat))
    table.add_row("one-line hidden check, forked from the warm server", f"{statistics.median(warm):.2f}", str(repeat))
    return table


def workspace(homework: str, question: str, students: list[str], copies: int, folder: Path) -> Course:
    """A workspace holding the example submissions (each student `copies` times), registered."""
    course = Course(ROOT, folder)
    course.ensure_workspace()
    declared = {e.student: e for e in examples.examples(Course(), homework, question)}
    for student in students:
        for copy in range(copies):
            name = student if copies == 1 else f"{student}-{copy}"
            examples.write(course.submitted / name / homework / f"{question}.ipynb",
                           examples.notebook(course, homework, question, declared[student]))
    generate(course, homework, folder / "release")
    # nbgrader gets a gradebook of its own that knows the assignment, as `generate_assignment` left it.
    shutil.copy(course.gradebook_path, folder / "nbgrader.db")
    return course


def ours(course: Course, homework: str, jobs: int) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "autograder", "--workspace", str(course.workspace), "grade", homework,
                    "--regrade", "--jobs", str(jobs)], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def nbgrader(course: Course, homework: str) -> float:
    ws = course.workspace
    start = time.perf_counter()
    # Its kernels import the course's `data` package from the repository, as a student's laptop would.
    subprocess.run([NBGRADER, "autograde", homework, "--force",
                    f"--CourseDirectory.submitted_directory={ws}/submitted",
                    f"--CourseDirectory.autograded_directory={ws}/autograded-nbgrader",
                    f"--CourseDirectory.db_url=sqlite:///{ws}/nbgrader.db",
                    f"--CourseDirectory.source_directory={ws}/release"], cwd=ROOT, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    seconds = time.perf_counter() - start
    errors = [str(p) for p in (ws / "autograded-nbgrader").rglob("*.ipynb")
              if any(o.get("output_type") == "error" and o.get("ename") in ENVIRONMENT_ERRORS
                     for c in nbformat.read(p, as_version=4).cells for o in c.get("outputs", []))]
    if errors:  # a comparison with notebooks that could not run would mean nothing
        raise SystemExit(f"nbgrader's kernels could not load the course's code or data: {errors[:3]}")
    return seconds


def side_by_side(args, course: Course, notebooks: int, timed_ours: dict[int, list[float]]) -> Table:
    """Also leaves our runs' seconds in `timed_ours` (workers -> seconds), which scaling reuses."""
    jobs = default_jobs(course, args.homework)
    parallel = f"ours, {jobs} workers (the default here)"
    samples = {"ours, 1 worker": [], parallel: [], "nbgrader": []}
    for _ in range(args.repeat):  # alternating, so both see the same machine state
        samples["ours, 1 worker"].append(ours(course, args.homework, 1))
        if jobs > 1:
            samples[parallel].append(ours(course, args.homework, jobs))
        samples["nbgrader"].append(nbgrader(course, args.homework))
    timed_ours[1], timed_ours[jobs] = samples["ours, 1 worker"], samples[parallel] or samples["ours, 1 worker"]
    samples = {name: values for name, values in samples.items() if values}
    table = Table(title=f"Side by side: {notebooks} notebook(s) of {args.question} ({', '.join(args.students)}), "
                        f"median of {args.repeat} alternating runs")
    for column in ("grader", "seconds per batch", "seconds per notebook", "ratio to nbgrader"):
        table.add_column(column)
    base = statistics.median(samples["nbgrader"])
    for name, values in samples.items():
        median = statistics.median(values)
        table.add_row(name, f"{median:.1f}", f"{median / notebooks:.1f}", f"{median / base:.2f}")
    return table


def scaling(args, course: Course, notebooks: int, timed_ours: dict[int, list[float]]) -> Table:
    table = Table(title=f"Scaling: {notebooks} notebook(s) of {args.question} (median of {args.repeat} runs)")
    for column in ("workers", "seconds", "notebooks per minute", "throughput vs 1 worker"):
        table.add_column(column)
    base = None
    for jobs in args.jobs:
        if jobs not in timed_ours:
            timed_ours[jobs] = [ours(course, args.homework, jobs) for _ in range(args.repeat)]
        seconds = statistics.median(timed_ours[jobs])
        base = base or seconds
        table.add_row(str(jobs), f"{seconds:.1f}", f"{60 * notebooks / seconds:.1f}", f"{base / seconds:.2f}x")
    return table


def per_notebook(course: Course, homework: str) -> Table:
    table = Table(title="Per notebook, last run (our gradebook)")
    for column in ("student", "question", "status", "score", "execution s", "peak MB"):
        table.add_column(column)
    gb = open_gradebook(course)
    try:
        for row in runs(gb, homework):
            if row["status"] != "missing":
                table.add_row(row["student"], row["notebook"], row["status"], f"{row['score']:g}/{row['max_score']:g}",
                              f"{row['wall_s'] or 0:.1f}", f"{row['peak_rss_mb'] or 0:.0f}")
    finally:
        gb.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--homework", default="hw1")
    parser.add_argument("--question", default="conv_by_hand")
    parser.add_argument("--students", nargs="+", default=["reference", "flipped_kernel"],
                        help="example students (see examples/submissions/README.md)")
    parser.add_argument("--copies", type=int, default=2, help="submissions per student")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    ok, why = sandbox_available()
    if not ok:
        sys.exit(f"the sandbox is not available: {why}")
    console.print(fixed_costs(args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        course = workspace(args.homework, args.question, args.students, args.copies, Path(tmp) / "ws")
        notebooks = len(args.students) * args.copies
        timed_ours: dict[int, list[float]] = {}
        console.print(side_by_side(args, course, notebooks, timed_ours))
        console.print(scaling(args, course, notebooks, timed_ours))
        console.print(per_notebook(course, args.homework))


if __name__ == "__main__":
    main()
