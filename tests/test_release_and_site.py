"""Release and website: student versions are fresh and secret-free; the site builds and renders."""
import subprocess
import sys

import nbformat
import pytest

from autograder.checker.runner import load_checks
from autograder.course import Course
from autograder.grade import hidden_cell_id
from autograder.release import SECRET_MARKERS, check_release, find_secrets
from autograder.submission import grade_id

COURSE = Course()
QUESTIONS = COURSE.questions("hw1")


def test_hw1_has_the_four_questions_in_book_order():
    assert QUESTIONS == ["conv_by_hand", "opencv_filters", "mnist_cnn", "gradcam"]


def test_released_notebooks_are_up_to_date():
    assert check_release(COURSE, "hw1") == [], "run `make release` and commit assignments/"


def test_released_notebooks_hold_no_solution_markers():
    assert find_secrets(COURSE.assignments) == []


@pytest.mark.parametrize("question", QUESTIONS)
def test_hidden_cell_points_match_the_checks(question):
    """The gradebook's points for a question are exactly what its hidden checks can award."""
    template = nbformat.read(COURSE.assignments / "hw1" / f"{question}.ipynb", as_version=4)
    cell_id = hidden_cell_id(COURSE, "hw1", question)
    cell = next(c for c in template.cells if grade_id(c) == cell_id)
    checks = load_checks(COURSE, "hw1", question)
    assert checks.catalogue, f"{question} has no hidden checks"
    assert cell.metadata.nbgrader.points == checks.max_points


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", "--all", "--output", str(out)],
                          cwd=COURSE.root, capture_output=True, text=True)
    assert proc.returncode == 0, "site build failed (warnings are errors):\n" + proc.stdout[-5000:] + proc.stderr[-3000:]
    return out / "_build" / "html"


def test_site_has_every_homework_page_and_no_secrets(site):
    for question in QUESTIONS:
        page = site / "assignments" / "hw1" / f"{question}.html"
        assert page.exists(), f"{question} page missing from the site"
        text = page.read_text()
        assert "YOUR CODE HERE" in text or "YOUR ANSWER HERE" in text
    assert not (site / "solutions").exists()
    leaks = [str(p) for p in site.rglob("*") if p.is_file() and p.suffix in {".html", ".ipynb", ".txt", ".js"}
             and any(m in p.read_text(errors="replace") for m in SECRET_MARKERS)]
    assert leaks == []


def chromium_dom(url: str, tmp_path) -> str:
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(subprocess.run(["which", "chromium"], capture_output=True).returncode != 0,
                    reason="chromium is not installed (make test installs it as root on Debian)")
def test_pages_render_in_a_real_browser(site, tmp_path):
    dom = chromium_dom((site / "assignments" / "hw1" / "conv_by_hand.html").as_uri(), tmp_path)
    assert "cross_correlate2d" in dom
    assert "Homework 1" in dom  # the navigation sidebar rendered the table of contents
    for question in set(QUESTIONS) - {"conv_by_hand"}:  # the current page links to itself as "#"
        assert f"{question}.html" in dom, f"navigation lacks {question}"
    home = chromium_dom((site / "book" / "intro.html").as_uri(), tmp_path)
    assert "Convolutional Networks" in home and "Grad-CAM" in home
