"""Time budgets that fit the question, derived from how long the reference solution takes.

`python -m autograder calibrate <hw>` runs each question's reference notebook in the sandbox a few
times and records, per runner kind ("cpu" or "gpu", and the data profile: "cpu-mirror"), the slowest
time of every graded cell and of the whole notebook, in `autograder/checks/<hw>/timings.json`
beside the accuracy thresholds. Grading then gives

    each measured cell        MULTIPLE x its reference time, at least CELL_FLOOR_S
    any other cell            MULTIPLE x the slowest reference cell, at least CELL_FLOOR_S
    the whole notebook        MULTIPLE x the reference notebook, at least NOTEBOOK_FLOOR_S

so a looping answer costs its question a small multiple of what the reference needs, whichever cell
calls it. A GPU runner without timings uses the CPU's on the same data profile; a kind with none at
all (say the full data, never calibrated) keeps the check file's BUDGET or the generous defaults;
an explicit --cell-timeout or --notebook-timeout of the instructor overrides all of this.
"""
from __future__ import annotations

import glob
import json
import statistics
import tempfile
from datetime import date
from pathlib import Path

from .course import Course

MULTIPLE = 4.0
CELL_FLOOR_S = 20.0
NOTEBOOK_FLOOR_S = 60.0
TIMINGS = "timings.json"


def runner_kind() -> str:
    """The device and the data profile: the full data takes far longer than the CI mirror."""
    import data

    return ("gpu" if glob.glob("/dev/nvidia[0-9]*") else "cpu") + "-" + data.profile()


def timings_path(course: Course, homework: str) -> Path:
    return course.checks / homework / TIMINGS


def recorded_timings(checks_dir: Path, question: str, kind: str | None = None) -> dict | None:
    """{"cells": {grade_id: seconds}, "notebook_s": seconds} of the reference, or None.
    checks_dir: the homework's folder of hidden checks, where timings.json lives."""
    path = checks_dir / TIMINGS
    if not path.exists():
        return None
    by_kind = json.loads(path.read_text()).get(question, {})
    kind = kind or runner_kind()
    # A GPU runner without timings of its own uses the CPU's on the same data (a GPU is not slower).
    return by_kind.get(kind) or by_kind.get(kind.replace("gpu-", "cpu-"))


def derived_limits(timings: dict | None, multiple: float = MULTIPLE) -> dict:
    """Limits fields for a question with these reference timings (none: nothing derived). A check
    file's TIME_MULTIPLE replaces MULTIPLE where a correct answer may be slower than the reference
    by nature (e.g. a PyTorch training loop where the reference calls Keras' fit)."""
    if not timings:
        return {}
    cells = timings.get("cells", {})
    slowest = max(cells.values(), default=0.0)
    return {
        "cell_timeouts": tuple(sorted((gid, round(max(CELL_FLOOR_S, multiple * s), 1)) for gid, s in cells.items())),
        "cell_timeout_s": round(max(CELL_FLOOR_S, multiple * slowest), 1),
        "notebook_timeout_s": round(max(NOTEBOOK_FLOOR_S, multiple * timings["notebook_s"]), 1),
    }


def scaled_time_limits(budget: dict, scale: float) -> dict:
    """The budget with the time limits derived_limits sets multiplied by `scale`, other limits as
    they are (a worker with a share of the cores the timings were measured on)."""
    if scale == 1.0:
        return budget
    scaled = {k: round(budget[k] * scale, 1) for k in ("cell_timeout_s", "notebook_timeout_s") if k in budget}
    if "cell_timeouts" in budget:
        scaled["cell_timeouts"] = tuple((gid, round(s * scale, 1)) for gid, s in budget["cell_timeouts"])
    return {**budget, **scaled}


def calibrate(course: Course, homework: str, questions: list[str] | None = None, repeat: int = 3) -> dict:
    """Measure the reference of each question `repeat` times; record and return the timings."""
    from . import examples
    from .checker.runner import load_checks
    from .executor import Limits, execute_notebook
    from .grade import prepare_student_data, released_template, sandbox_data_options
    from .submission import grade_id, load_submission

    kind = runner_kind()
    measured = {}
    for question in questions or course.questions(homework):
        checks = load_checks(course, homework, question)
        reference = next(e for e in examples.examples(course, homework, question) if e.student == "reference")
        generous = Limits(**{k: v for k, v in checks.budget.items() if k not in ("cell_timeout_s", "notebook_timeout_s")})
        options = sandbox_data_options(course, prepare_student_data(course, checks.datasets))
        runs = []
        with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
            path = Path(tmp) / f"{question}.ipynb"
            examples.write(path, examples.notebook(course, homework, question, reference))
            notebook = load_submission(path, released_template(course, homework, question)).notebook
            for i in range(repeat):
                result = execute_notebook(notebook, Path(tmp) / f"run{i}", generous, **options)
                if result.status != "ok":
                    raise RuntimeError(f"{homework}/{question}: the reference did not run cleanly "
                                       f"({result.status}: {result.cell_failures[:1]})")
                cells = {grade_id(result.notebook.cells[i]): s for i, s in result.cell_seconds.items()
                         if grade_id(result.notebook.cells[i])}
                runs.append((cells, result.wall_s))
        measured[question] = {
            "cells": {gid: round(max(r[0][gid] for r in runs), 2) for gid in runs[0][0]},
            "notebook_s": round(max(r[1] for r in runs), 2),
            "median_notebook_s": round(statistics.median(r[1] for r in runs), 2),
            "runs": repeat, "measured_on": date.today().isoformat(),
        }
    path = timings_path(course, homework)
    table = json.loads(path.read_text()) if path.exists() else {}
    table["_how_measured"] = (
        "Reference solutions run in the sandbox by `python -m autograder calibrate`; the slowest of the runs "
        "per cell and per notebook. Budgets: autograder/budgets.py (a multiple of these, with floors).")
    for question, timings in measured.items():
        table.setdefault(question, {})[kind] = timings
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return measured
