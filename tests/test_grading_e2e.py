"""The instructor's path end to end on the bundled example submissions: collect, grade in the
sandbox with the hidden checks, gradebook, feedback, export, re-grade and resume.

One grading run (module scope) serves every test. The expected points come from the examples'
declarations (examples/<homework>/<question>.py): for every question, the reference earns full marks,
the blank released notebook and the garbage students earn nothing, and each declared wrong answer
loses exactly the checks its mistake breaks.
"""
import csv
import json

import pytest
from grading_support import EXAMPLES, HOMEWORK, grade, points, recorded, submit, temp_course
from nbgrader.api import Gradebook

from autograder import examples as ex
from autograder.checker.runner import load_checks
from autograder.course import Course
from autograder.collect import collect
from autograder.export import export_csv, export_gradescope
from autograder.feedback import generate_feedback
from autograder.grade import GradingOptions, grade_homework

COURSE = Course()
HOMEWORKS = COURSE.homeworks()
QUESTIONS = COURSE.questions(HOMEWORK)
MAX = {q: load_checks(COURSE, HOMEWORK, q).max_points for q in QUESTIONS}
# (homework, student, question) -> the declared example, for every question of every homework
EVERY_EXAMPLE = {(hw, e.student, q): e for hw in HOMEWORKS for q in COURSE.questions(hw)
                 for e in ex.examples(COURSE, hw, q)}
# hw1's, the homework whose feedback, export and regrading the tests below follow
DECLARED = {(s, q): e for (hw, s, q), e in EVERY_EXAMPLE.items() if hw == HOMEWORK}
STUDENTS = sorted({student for student, _ in DECLARED})


@pytest.fixture(scope="module")
def graded_all(tmp_path_factory):
    """Every homework's example submissions, collected and graded as an instructor would, two at
    a time (the budgets derive from the references' recorded timings)."""
    course = temp_course(tmp_path_factory.mktemp("e2e"))
    grades = {}
    for homework in HOMEWORKS:
        report = collect(course, homework, EXAMPLES)
        assert not report.skipped, report.skipped
        for g in grade_homework(course, homework, GradingOptions(jobs=2)):
            grades[homework, g.student, g.notebook] = g
    return course, grades


@pytest.fixture(scope="module")
def graded(graded_all):
    course, grades = graded_all
    return course, {(s, q): g for (hw, s, q), g in grades.items() if hw == HOMEWORK}


def test_collect_takes_every_example(graded_all):
    course, _ = graded_all
    submitted = {(p.parts[-2], p.parts[-3], p.stem) for p in course.submitted.glob("*/*/*.ipynb")}
    assert submitted == set(EVERY_EXAMPLE)


@pytest.mark.parametrize("homework, student, question", sorted(EVERY_EXAMPLE), ids=lambda v: str(v))
def test_every_example_earns_exactly_its_declared_points(graded_all, homework, student, question):
    _, grades = graded_all
    catalogue = load_checks(COURSE, homework, question).catalogue
    problems = ex.compare(grades[homework, student, question], EVERY_EXAMPLE[homework, student, question],
                          catalogue)
    assert not problems, f"{homework}/{question} {student}: " + "; ".join(problems)


@pytest.mark.parametrize("student", STUDENTS)
def test_questions_not_submitted_are_missing(graded, student):
    _, grades = graded
    for question in QUESTIONS:
        if (student, question) not in DECLARED:
            result = grades[student, question]
            assert (result.status, result.score, result.max_score) == ("missing", 0, MAX[question])


def test_wrong_answers_lose_the_checks_their_mistake_breaks(graded):
    _, grades = graded
    # A flipped kernel keeps the shapes and swaps the two operations.
    flipped = grades["flipped_kernel", "conv_by_hand"]
    assert points(flipped, "test_output_shapes") == 2
    assert points(flipped, "test_cross_correlation_values") == points(flipped, "test_convolution_values") == 0
    # Zero padding is wrong only near the border.
    border = grades["wrong_border", "opencv_filters"]
    assert points(border, "test_border_handling") == 0
    # A missing layer shows in the architecture, not in the accuracy.
    missing = grades["missing_layer", "mnist_cnn"]
    assert points(missing, "test_parameter_count") == points(missing, "test_convolutional_layers") == 0
    assert points(missing, "test_heldout_accuracy") == 4
    # The printed "Test accuracy: 0.9900" of an untrained model is ignored: the grader measures.
    untrained = grades["untrained_model", "mnist_cnn"]
    assert points(untrained, "test_heldout_accuracy") == points(untrained, "test_model_learned") == 0
    assert points(untrained, "test_parameter_count") == 2
    # Grad-CAM without the ReLU has negative values and disagrees with the grader's Grad-CAM.
    no_relu = grades["gradcam_no_relu", "gradcam"]
    assert points(no_relu, "test_heatmap_non_negative") == points(no_relu, "test_matches_reference_gradcam") == 0
    assert points(no_relu, "test_heatmap_shape") == 1


def test_broken_notebooks_are_graded_with_a_message(graded):
    _, grades = graded
    looping = grades["infinite_loop", "conv_by_hand"]
    assert "conv_xcorr_solution" in looping.message and looping.limit_hit == "wall time"
    assert "not valid JSON" in grades["not_json", "conv_by_hand"].message
    broken = grades["broken", "conv_by_hand"]
    assert any("SyntaxError" in note and "conv_xcorr_solution" in note for note in broken.notes)
    assert any("No module named 'my_helpers'" in note for note in broken.notes)
    assert "not submitted" in grades["broken", "mnist_cnn"].message


def test_gradebook_holds_one_grade_per_notebook(graded):
    course, grades = graded
    rows = recorded(course)
    assert set(rows) == set(grades)
    with Gradebook(course.db_url) as gb:
        for student in STUDENTS:
            for question in QUESTIONS:
                if (student, question) not in DECLARED:
                    continue
                notebook = gb.find_submission_notebook(question, HOMEWORK, student)
                assert notebook.score == pytest.approx(grades[student, question].score)
        # The written answer waits for a TA; nbgrader knows it.
        opencv = gb.find_submission_notebook("opencv_filters", HOMEWORK, "reference")
        assert opencv.needs_manual_grade and opencv.max_score == 10
        assert rows["reference", "mnist_cnn"]["peak_rss_mb"] > 100
        assert rows["reference", "mnist_cnn"]["wall_s"] > 0


def test_feedback_shows_checks_but_no_hidden_code_or_expected_values(graded):
    course, _ = graded
    # partial: the written answers are not graded by hand here, and nbgrader's pages are wanted anyway.
    written, _, nbgrader_problem = generate_feedback(course, HOMEWORK, partial=True)
    assert nbgrader_problem is None and len(written) == len(STUDENTS)
    checks_html = (course.feedback / "flipped_kernel" / HOMEWORK / "checks.html").read_text()
    assert "cross_correlate2d matches a reference" in checks_html and "2 / 10" in checks_html
    nbgrader_html = course.feedback / "reference" / HOMEWORK / "conv_by_hand.html"
    assert nbgrader_html.exists()
    hidden_source = (course.checks / HOMEWORK / "test_conv_by_hand.py").read_text()
    for page in course.feedback.rglob("*.html"):
        text = page.read_text()
        # The grader's tracebacks (instructor-only detail) name the check files and pytest.
        for secret in ("def test_", "autograder/checks", "_pytest", "PartialCredit", hidden_source.splitlines()[0]):
            assert secret not in text, (page, secret)
    # Our report carries only titles, points and messages: no threshold names or grader tracebacks.
    thresholds = json.loads((course.checks / HOMEWORK / "thresholds.json").read_text())
    for page in course.feedback.rglob("checks.html"):
        text = page.read_text()
        assert "Traceback" not in text and not any(name in text for name in thresholds), page


def test_export_csv_and_gradescope(graded, tmp_path):
    course, grades = graded
    csv_path = export_csv(course, tmp_path / "grades.csv", HOMEWORK)
    with csv_path.open() as handle:
        rows = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    assert set(rows) == set(grades)
    assert rows["infinite_loop", "conv_by_hand"]["status"] == "timed out"
    assert rows["infinite_loop", "conv_by_hand"]["limit_hit"] == "wall time"
    assert float(rows["off_by_one", "conv_by_hand"]["autograded_score"]) == 5.625
    results = export_gradescope(course, tmp_path / "gradescope", HOMEWORK)
    assert len(results) == len(STUDENTS)
    reference = json.loads((tmp_path / "gradescope" / "reference" / HOMEWORK / "results.json").read_text())
    assert reference["score"] == sum(MAX.values())
    checks = sum(len(load_checks(course, HOMEWORK, q).catalogue) for q in QUESTIONS)
    autograded = [t for t in reference["tests"] if "status" in t]   # the others: written answers, pending
    assert len(autograded) == checks and all(t["status"] == "passed" for t in autograded)
    assert [t["output"] for t in reference["tests"] if "status" not in t] == ["pending: graded by hand"]
    assert reference["extra_data"]["mnist_cnn"]["status"] == "graded"


def test_regrade_replaces_and_unchanged_work_is_not_graded_again(graded):
    course, _ = graded
    before = recorded(course)
    assert grade(course) == {}, "a second run must resume, not redo finished notebooks"
    again = grade(course, students=["off_by_one"], regrade=True)
    assert again["off_by_one", "conv_by_hand"].score == 5.625
    after = recorded(course)
    assert set(after) == set(before)
    assert after["off_by_one", "conv_by_hand"]["graded_at"] >= before["off_by_one", "conv_by_hand"]["graded_at"]
    with Gradebook(course.db_url) as gb:
        grades = gb.find_submission("hw1", "off_by_one").notebooks[0].grades
        assert len(grades) == len({g.name for g in grades})


def test_a_resubmission_is_graded_again(graded):
    course, _ = graded
    fixed = (EXAMPLES / "reference" / HOMEWORK / "conv_by_hand.ipynb").read_bytes()
    submit(course, "off_by_one", "conv_by_hand", fixed)
    regraded = grade(course)
    assert set(regraded) == {("off_by_one", "conv_by_hand")}
    assert regraded["off_by_one", "conv_by_hand"].score == 10
    assert recorded(course)["off_by_one", "conv_by_hand"]["score"] == 10
