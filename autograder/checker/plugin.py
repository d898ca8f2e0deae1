"""Pytest plugin for the hidden checks: fixtures, points, and the JSON report the grader reads.

The report holds, per check: id, title, points earned, max points, passed, message (shown to
the student) and detail (for the instructor only: tracebacks may reveal expected values).
"""
from __future__ import annotations

import importlib.util
import json
import traceback
from pathlib import Path

import pytest

from autograder.checker.api import PartialCredit, StudentError
from autograder.checker.submission_results import SubmissionResults
from autograder.protocol.harvest_request import HarvestRequest


def pytest_addoption(parser):
    group = parser.getgroup("autograder")
    group.addoption("--results-dir", default=None, help="harvested results of the student's kernel")
    group.addoption("--execution", default=None, help="JSON: status and cell failures of the execution")
    group.addoption("--harvest-request", default=None, help="folder of the request the kernel received")
    group.addoption("--check-report", default=None, help="where to write the JSON report")


def pytest_configure(config):
    config._check_results = []


@pytest.fixture(scope="module")
def submission(request):
    config = request.config
    execution = json.loads(Path(config.getoption("--execution")).read_text()) if config.getoption("--execution") else {}
    results_dir = config.getoption("--results-dir")
    request_dir = config.getoption("--harvest-request")
    req = HarvestRequest.read(Path(request_dir)) if request_dir else HarvestRequest()
    return SubmissionResults(Path(results_dir) if results_dir else None, req, execution)


@pytest.fixture(scope="session")
def profile():
    import data

    return data.profile()


@pytest.fixture(scope="session")
def heldout():
    import data

    cache = {}

    def load(name: str):
        if name not in cache:
            cache[name] = data.load_heldout(name)
        return cache[name]

    return load


@pytest.fixture(scope="module")
def thresholds(request, profile):
    """Thresholds of this homework for the current data profile, from <homework>/thresholds.json."""
    path = Path(request.module.__file__).with_name("thresholds.json")
    table = json.loads(path.read_text())
    return {name: by_profile[profile] for name, by_profile in table.items() if isinstance(by_profile, dict)}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # One entry per check: from the call phase, or from setup when the check never ran.
    if report.when == "call" or (report.when == "setup" and not report.passed):
        item.config._check_results.append(_result(item, report, call))


def _result(item, report, call) -> dict:
    marker = item.get_closest_marker("points")
    max_points = float(marker.args[0]) if marker else 0.0
    doc = (getattr(item.function, "__doc__", None) or item.name).strip().splitlines()[0]
    result = {"id": item.name, "title": doc, "max_points": max_points, "points": 0.0,
              "passed": False, "skipped": bool(report.skipped), "message": "", "detail": ""}
    if report.passed:
        result.update(points=max_points, passed=True)
        return result
    if report.skipped:
        result["message"] = "skipped on this grader: " + str(call.excinfo.value if call.excinfo else "")
        return result
    error = call.excinfo.value if call.excinfo else None
    result["detail"] = "".join(traceback.format_exception(error)) if error else str(report.longrepr)
    if isinstance(error, PartialCredit):
        result.update(points=round(max_points * error.fraction, 4), message=str(error))
    elif isinstance(error, (StudentError, AssertionError)):
        result["message"] = str(error) or "this check failed"
    else:
        result["message"] = f"the grader could not evaluate this check ({type(error).__name__}); your instructor can see why"
    return result


def pytest_sessionfinish(session):
    path = session.config.getoption("--check-report")
    if path:
        Path(path).write_text(json.dumps(session.config._check_results, indent=1))


def load_check_module(path: Path):
    """Import a check file by path (trusted code) to read its BUDGET, DATASETS and harvest()."""
    spec = importlib.util.spec_from_file_location(f"autograder_checks_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
