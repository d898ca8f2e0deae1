"""Benchmark: what grading costs, per notebook and per stage. Prints a table; asserts nothing.

    .venv/bin/python bench/grading.py                 # the bundled example submissions
    .venv/bin/python bench/grading.py --students reference pytorch --repeat 2

Columns: the sandboxed execution (wall time and the kernel's peak memory, as the grader records
them), the rest of grading (hidden checks in their own process, gradebook), and the total. A first
row measures the fixed cost of an empty notebook: starting a sandboxed kernel.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.collect import collect  # noqa: E402
from autograder.course import REPO_ROOT, Course  # noqa: E402
from autograder.grade import GradingOptions, grade_homework  # noqa: E402
from autograder.executor import execute_notebook, sandbox_available  # noqa: E402

EXAMPLES = REPO_ROOT / "examples" / "submissions"


def empty_kernel_cost(repeat: int) -> list[float]:
    """Seconds to start a sandboxed kernel, run one trivial cell and stop it."""
    times = []
    for _ in range(repeat):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            execute_notebook(nb, Path(scratch))
            times.append(time.perf_counter() - start)
    return times


def grade_examples(homework: str, students: list[str] | None, repeat: int) -> dict[tuple[str, str], list[dict]]:
    samples: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as workspace:
            course = Course(REPO_ROOT, Path(workspace))
            collect(course, homework, EXAMPLES)
            last = [time.perf_counter()]

            def timed(grade):
                now = time.perf_counter()
                samples.setdefault((grade.student, grade.notebook), []).append(
                    {"total": now - last[0], "exec": grade.wall_s, "peak": grade.peak_rss_mb,
                     "status": grade.status, "limit": grade.limit_hit})
                last[0] = now

            grade_homework(course, homework, GradingOptions(regrade=True), students=students, on_graded=timed)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--homework", nargs="*", help="homeworks to grade (default: all)")
    parser.add_argument("--students", nargs="*", help="example students to grade (default: all)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    ok, why = sandbox_available()
    if not ok:
        sys.exit(f"the sandbox is not available: {why}")

    table = Table(title="Grading cost per notebook (median over repeats; 'checks' = total - execution)")
    for name in ("student", "question", "status", "execution s", "peak MB", "checks s", "total s", "limit hit"):
        table.add_column(name, justify="left" if name in ("student", "question", "status", "limit hit") else "right")
    start = empty_kernel_cost(args.repeat)
    table.add_row("(empty notebook)", "-", "ok", f"{statistics.median(start):.1f}", "", "", "", "")
    samples = {key: runs for homework in (args.homework or Course().homeworks())
               for key, runs in grade_examples(homework, args.students, args.repeat).items()}
    for (student, question), runs in sorted(samples.items()):
        if runs[0]["status"] == "missing":
            continue
        median = lambda key: statistics.median(r[key] for r in runs if r[key] is not None) \
            if any(r[key] is not None for r in runs) else None  # noqa: E731
        execution, total = median("exec"), median("total")
        table.add_row(student, question, runs[0]["status"], f"{execution:.1f}" if execution else "-",
                      f"{median('peak'):.0f}" if median("peak") else "-",
                      f"{total - execution:.1f}" if execution else "-", f"{total:.1f}", runs[0]["limit"] or "")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
