"""Run one question's hidden checks in a separate, trusted pytest process.

The process reads only data harvested from the student's kernel; it never imports student code.
It is a fork of a warm check server (server.py), which has imported the frameworks once per
grading process, or a cold `python -m pytest` where no server can be had. Its report is a list of
check results (see plugin.py). If pytest itself fails, every check gets zero with a message, and the
instructor-only detail keeps the log.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .plugin import load_check_module
from ..course import Course

CHECKS_TIMEOUT_S = 900
STARTUP_S = 120   # the check server's imports (TensorFlow, PyTorch) on a slow machine
PYTEST_INI = Path(__file__).with_name("pytest.ini")


@dataclass
class QuestionChecks:
    """A hidden-check file and what can be read from it without running it."""
    path: Path
    module: object

    @property
    def catalogue(self) -> list[dict]:
        """Every check with its title and points, in file order (for results that never ran)."""
        entries = []
        for name, func in vars(self.module).items():
            if name.startswith("test_") and callable(func):
                marks = [m for m in getattr(func, "pytestmark", []) if m.name == "points"]
                title = (func.__doc__ or name).strip().splitlines()[0]
                entries.append({"id": name, "title": title, "max_points": float(marks[0].args[0]) if marks else 0.0})
        return entries

    @property
    def max_points(self) -> float:
        return sum(c["max_points"] for c in self.catalogue)

    @property
    def datasets(self) -> tuple[str, ...]:
        """The student-visible datasets the sandbox receives for this question (DATASETS)."""
        return tuple(getattr(self.module, "DATASETS", ()))

    @property
    def budget(self) -> dict:
        """This question's resource budget (Limits fields): its BUDGET, with the time limits derived
        from the reference's recorded timings when there are some (autograder/budgets.py)."""
        from ..budgets import derived_limits, recorded_timings

        question = self.path.stem.removeprefix("test_")
        multiple = getattr(self.module, "TIME_MULTIPLE", None)
        derived = derived_limits(recorded_timings(self.path.parent, question), *([multiple] if multiple else []))
        return {**getattr(self.module, "BUDGET", {}), **derived}

    def harvest(self, seed: int):
        import numpy as np

        return self.module.harvest(np.random.default_rng(seed)) if hasattr(self.module, "harvest") else None


def load_checks(course: Course, homework: str, question: str) -> QuestionChecks:
    path = course.checks / homework / f"test_{question}.py"
    if not path.exists():
        raise FileNotFoundError(f"no hidden checks for {homework}/{question}: expected {path}")
    return QuestionChecks(path, load_check_module(path))


def zero_results(checks: QuestionChecks, message: str) -> list[dict]:
    return [dict(c, points=0.0, passed=False, skipped=False, message=message, detail="") for c in checks.catalogue]


def _environment(course: Course) -> dict:
    return dict(os.environ, PYTHONPATH=str(course.root), PYTHONDONTWRITEBYTECODE="1")


def start_check_server(course: Course) -> None:
    """Start this process's warm check server now, so that its imports overlap other work (the
    first checks wait for them otherwise)."""
    if WARM and course.root not in _servers:
        _servers[course.root] = CheckServer(course.root, _environment(course))


def _run_pytest(course: Course, args: list[str]) -> str:
    """pytest `args` in a process of its own, warm (a fork of the check server) when one can be had;
    returns the log."""
    start_check_server(course)
    server = _servers.get(course.root)
    if server is not None and server.alive():
        try:
            reply = server.run(args, CHECKS_TIMEOUT_S)
            if reply["exit"] is None:
                return f"the checks did not finish within {CHECKS_TIMEOUT_S} s\n" + reply["log"]
            return reply["log"]
        except (OSError, ValueError):
            server.close()  # fall back to a cold process for this run; a new server next time
            _servers.pop(course.root, None)
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=course.root, env=_environment(course),
                              capture_output=True, text=True, timeout=CHECKS_TIMEOUT_S)
        return proc.stdout[-20_000:] + proc.stderr[-20_000:]
    except subprocess.TimeoutExpired:
        return f"the checks did not finish within {CHECKS_TIMEOUT_S} s"


class CheckServer:
    """Client of autograder/checker/server.py: one warm check process per grading process and course."""

    def __init__(self, root: Path, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.checker.server"], cwd=root, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.ready = False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, args: list[str], timeout: float) -> dict:
        if not self.ready:  # the first request waits for the imports
            if json.loads(self._line(STARTUP_S) or "{}").get("ready") is not True:
                raise OSError("the check server did not start")
            self.ready = True
        self.proc.stdin.write(json.dumps({"args": args, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        line = self._line(timeout + STARTUP_S)
        if not line:
            raise OSError("the check server stopped")
        return json.loads(line)

    def _line(self, timeout: float) -> str:
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not readable:
            self.close()
            raise OSError("the check server did not answer")
        return self.proc.stdout.readline()

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()


# Warm check servers by course root; WARM=False (AUTOGRADER_COLD_CHECKS=1) runs each check cold.
WARM = os.environ.get("AUTOGRADER_COLD_CHECKS") != "1"
_servers: dict[Path, CheckServer] = {}


def run_checks(course: Course, checks: QuestionChecks, results_dir: Path | None, execution: dict,
               request_dir: Path | None) -> list[dict]:
    """Run the checks on the harvest of one notebook; `request_dir` holds the request it answered."""
    with tempfile.TemporaryDirectory(prefix="checks-") as tmp:
        report = Path(tmp) / "report.json"
        status = Path(tmp) / "execution.json"
        status.write_text(json.dumps(execution))
        command = [sys.executable, "-m", "pytest", str(checks.path), "-q", "-c", str(PYTEST_INI),
                   "--rootdir", str(course.checks), f"--execution={status}",
                   f"--check-report={report}"]
        if results_dir is not None:
            command.append(f"--results-dir={results_dir}")
        if request_dir is not None:
            command.append(f"--harvest-request={request_dir}")
        log = _run_pytest(course, command[3:])
        results = json.loads(report.read_text()) if report.exists() else []
    reported = {r["id"] for r in results}
    # pytest crashed or a check never reported: never drop its points silently.
    lost = zero_results(checks, "the grader failed while running this check; your instructor can see why")
    results += [dict(entry, detail=log) for entry in lost if entry["id"] not in reported]
    return results
