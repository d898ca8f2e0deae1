"""The authoring model: rules every question obeys, and a release that refuses to break them.

The graded invariants (reference full marks, blank and garbage nothing, declared examples exactly
their points) run for every question in tests/test_grading_e2e.py, on one shared grading run.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import examples as ex
from autograder.course import REPO_ROOT, Course
from autograder.verify import secret_interpolations, static_problems

COURSE = Course()
QUESTIONS = [(hw, q) for hw in COURSE.homeworks() for q in COURSE.questions(hw)]


@pytest.mark.parametrize("homework", COURSE.homeworks())
def test_every_question_obeys_the_static_rules(homework):
    assert static_problems(COURSE, homework) == []


@pytest.mark.parametrize("homework, question", QUESTIONS)
def test_every_question_has_wrong_answers_declared(homework, question):
    declared = ex.declared(COURSE, homework, question)
    assert any(e.points != {} for e in declared), f"{homework}/{question}: declare realistic wrong answers"


def test_example_submissions_are_generated_from_the_declarations(tmp_path):
    ex.generate(COURSE, tmp_path)
    committed = REPO_ROOT / "examples" / "submissions"
    fresh = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert fresh == {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()}, \
        "run `python -m autograder examples` and commit examples/submissions"
    stale = [str(p) for p in fresh if (tmp_path / p).read_bytes() != (committed / p).read_bytes()]
    assert not stale, f"stale example submissions: {stale}; run `python -m autograder examples`"


def test_garbage_students_define_every_name_of_the_solution():
    source = "def f(x):\n    return x\n\nmodel = build()\na, (b, c) = 1, (2, 3)\nprint(model)\n"
    assert ex.defined_names(source) == (["f"], ["model", "a", "b", "c"])
    garbage = ex.garbage_source(source, ex.GARBAGE["garbage_nan"])
    namespace = {}
    exec(garbage, namespace)  # noqa: S102 (our own generated code)
    assert all(namespace[n].shape == (3, 3) for n in ("model", "a", "b", "c"))
    assert namespace["f"](1).shape == (3, 3)


def test_messages_that_show_expected_values_are_found():
    source = ('def test_x(submission):\n'
              '    expected = 3\n'
              '    assert got == expected, f"got {got}, expected {expected}"\n'
              '    assert ok, f"threshold {thresholds[\'acc\']:.2f}"\n'
              '    assert ok, f"your value {got}"\n')
    found = secret_interpolations(source)
    assert len(found) == 2 and "line 3" in found[0] and "line 4" in found[1]


# -- a broken question in a copy of the course -----------------------------------------------------

IGNORED = shutil.ignore_patterns(".venv", ".git", "workspace", "_build", "submissions", "__pycache__",
                                 ".pytest_cache")


@pytest.fixture
def course_copy(tmp_path):
    """The repository with only hw1/conv_by_hand, in a temporary folder (the CLI runs there)."""
    root = tmp_path / "course"
    shutil.copytree(REPO_ROOT, root, ignore=IGNORED)
    for other in ("opencv_filters", "mnist_cnn", "gradcam"):
        for path in (root / "solutions" / "hw1" / f"{other}.ipynb", root / "assignments" / "hw1" / f"{other}.ipynb",
                     root / "autograder" / "checks" / "hw1" / f"test_{other}.py", root / "examples" / "hw1" / f"{other}.py"):
            path.unlink()
    return root


def cli(root: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, capture_output=True, text=True,
                          timeout=900)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_release_refuses_a_check_without_title_or_with_an_expected_value_in_its_message(course_copy):
    checks = course_copy / "autograder" / "checks" / "hw1" / "test_conv_by_hand.py"
    edit(checks, '    """cross_correlate2d returns the right output size for any stride and padding."""\n', "")
    edit(checks, "def _right_shape(got, outcome):\n    return compare_shapes(",
         "def _right_shape(got, outcome):\n    expected = _reference(outcome, False)\n"
         "    assert got.shape == expected.shape, f'expected {expected.shape}'\n    return compare_shapes(")
    before = (course_copy / "assignments" / "hw1" / "conv_by_hand.ipynb").read_bytes()
    proc = cli(course_copy, "release", "hw1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "hw1/conv_by_hand: test_output_shapes has no title" in proc.stdout
    assert "shows `expected`" in proc.stdout
    # Nothing was released: the student version is the one that was there.
    assert (course_copy / "assignments" / "hw1" / "conv_by_hand.ipynb").read_bytes() == before


def test_release_refuses_a_solution_line_in_the_student_version(course_copy):
    master = course_copy / "solutions" / "hw1" / "conv_by_hand.ipynb"
    edit(master, "Reuse `cross_correlate2d`: one line of NumPy is enough",
         "Reuse `cross_correlate2d`: `return cross_correlate2d(image, kernel[::-1, ::-1], stride=stride, padding=padding)`")
    proc = cli(course_copy, "release", "hw1")
    assert proc.returncode == 1 and "a line of the solution is visible to students" in proc.stdout, proc.stdout


def test_release_verify_names_the_check_a_wrong_check_breaks(course_copy):
    checks = course_copy / "autograder" / "checks" / "hw1" / "test_conv_by_hand.py"
    # A check that compares with the wrong reference: the correct solution loses its points.
    edit(checks, 'score(submission.calls("cross_correlate2d"), _matches(flip=False), what="cross-correlation")',
         'score(submission.calls("cross_correlate2d"), _matches(flip=True), what="cross-correlation")')
    (course_copy / "examples" / "hw1" / "conv_by_hand.py").unlink()  # the built-in students suffice here
    proc = cli(course_copy, "release", "hw1", "--verify")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "hw1/conv_by_hand reference: test_cross_correlation_values: 0.0 points, declared 4" in proc.stdout
    assert "problem(s)" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_the_course_is_the_homeworks_the_book_lists_and_a_draft_folder_is_not_one(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(REPO_ROOT, root, ignore=IGNORED)
    (root / "solutions" / "hw9").mkdir()  # a draft: in solutions/, not in the book
    proc = cli(root, "homeworks")
    assert proc.returncode == 0 and proc.stdout.split() == COURSE.homeworks()
    assert "hw9" not in proc.stdout and Course(root).has_homework("hw9")
