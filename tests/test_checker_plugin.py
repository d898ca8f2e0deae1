"""The check process end to end without a sandbox: a small check file, a harvest produced by the
kernel-side code on plain Python functions, and the report the grader reads (points, partial
credit, student messages, grader faults)."""
import textwrap

import pytest

from autograder.checker.plugin import load_check_module
from autograder.checker.runner import QuestionChecks, run_checks
from autograder.course import Course
from autograder.kernel_side import harvest as kernel_side

CHECKS = '''
"""Checks of a tiny question."""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, StudentError, compare_arrays, score

BUDGET = {"cell_timeout_s": 5}
DATASETS = ("mnist",)


def harvest(rng):
    cases = {f"case_{i}": Case(np.arange(4.0) + i) for i in range(4)}
    return (HarvestRequest().cases("double", cases).value("name", variable="name")
            .cases("label", {"one": Case(1.0)}))


@pytest.mark.points(2)
def test_values(submission):
    """double returns twice its input."""
    score(submission.calls("double"), lambda got, case: compare_arrays(got, 2 * case.args[0]), what="doubled")


@pytest.mark.points(1)
def test_all_values(submission):
    """double is right on every case."""
    score(submission.calls("double"), lambda got, case: compare_arrays(got, 2 * case.args[0]), what="doubled",
          all_or_nothing=True)


@pytest.mark.points(1)
def test_name(submission):
    """name is a string."""
    if not isinstance(submission.value("name"), str):
        raise StudentError("name must be a string")


@pytest.mark.points(1)
def test_label(submission):
    """label returns the word for a number."""
    score(submission.calls("label"), lambda got, case: None if got == "one" else "wrong word", what="label")


@pytest.mark.points(1)
def test_grader_fault(submission):
    """A check with a bug of the grader's own."""
    raise KeyError("a bug in the check, not the student's")
'''


def doubles_but_the_last(x):
    return 2 * x if x[0] < 3 else x


@pytest.fixture
def question(tmp_path):
    path = tmp_path / "test_tiny.py"
    path.write_text(textwrap.dedent(CHECKS))
    return QuestionChecks(path, load_check_module(path))


def grade_functions(tmp_path, checks, namespace):
    request_dir, results_dir = tmp_path / "request", tmp_path / "results"
    request_dir.mkdir()
    results_dir.mkdir()
    checks.harvest(seed=1).write(request_dir)
    kernel_side.run(str(request_dir), str(results_dir), namespace)
    report = run_checks(Course(), checks, results_dir, {"status": "ok", "cell_failures": []}, request_dir)
    return {r["id"]: r for r in report}


def test_the_check_file_declares_budget_datasets_and_points(question):
    assert question.budget == {"cell_timeout_s": 5} and question.datasets == ("mnist",)
    assert [c["max_points"] for c in question.catalogue] == [2, 1, 1, 1, 1]
    assert question.catalogue[0]["title"] == "double returns twice its input."


def test_report_gives_partial_credit_messages_and_grader_faults(tmp_path, question):
    report = grade_functions(tmp_path, question, {"double": doubles_but_the_last, "name": 3,
                                                  "label": lambda x: ["one"]})
    assert report["test_values"]["points"] == 1.5  # 3 of the 4 cases
    assert report["test_values"]["message"].startswith("doubled: 3 of 4 right; for example, the case 3:")
    assert report["test_all_values"]["points"] == 0
    assert report["test_name"]["message"] == "name must be a string"
    assert report["test_label"]["points"] == 0 and "wrong word" in report["test_label"]["message"]
    fault = report["test_grader_fault"]
    assert fault["points"] == 0 and "KeyError" in fault["message"] and "instructor" in fault["message"]
    assert "a bug in the check" in fault["detail"] and "a bug in the check" not in fault["message"]


def test_a_correct_answer_earns_every_point_but_the_faulty_check(tmp_path, question):
    report = grade_functions(tmp_path, question, {"double": lambda x: 2 * x, "name": "alice",
                                                  "label": lambda x: "one"})
    assert {k: r["points"] for k, r in report.items()} == {
        "test_values": 2, "test_all_values": 1, "test_name": 1, "test_label": 1, "test_grader_fault": 0}


def test_a_missing_function_loses_every_case_with_the_reason(tmp_path, question):
    report = grade_functions(tmp_path, question, {"name": "alice"})
    assert report["test_values"]["points"] == 0
    assert "calling double() failed" in report["test_values"]["message"]
    assert "is not defined in the notebook" in report["test_values"]["message"]


def test_a_check_process_that_dies_costs_no_silent_marks(tmp_path, question, monkeypatch):
    import autograder.checker.runner as runner

    monkeypatch.setattr(runner, "PYTEST_INI", tmp_path / "missing.ini")  # pytest cannot start
    report = run_checks(Course(), question, None, {"status": "ok"}, None)
    assert len(report) == 5 and all(r["points"] == 0 for r in report)
    assert all(r["message"] == "the grader failed while running this check; your instructor can see why"
               for r in report)
