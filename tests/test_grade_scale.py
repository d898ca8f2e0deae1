"""Grading at scale: parallel workers, shards merged back, a killed parallel run resumed. Every way
gives the same grades as one serial run."""
import ast
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import nbformat
import pytest
from grading_support import HOMEWORK, answer_notebook, recorded, submit, temp_course

from autograder import examples as ex
from autograder.course import REPO_ROOT, Course
from autograder.executor import sandbox_available
from autograder.cores import usable_cores
from autograder.grade import GradingOptions, grade_homework

pytestmark = pytest.mark.skipif(not sandbox_available()[0], reason="bubblewrap unavailable")

QUESTION = "conv_by_hand"
STUDENTS = ("reference", "flipped_kernel", "off_by_one", "blank", "garbage_nan")


def submitted_course(tmp_path, name):
    course = temp_course(tmp_path / name)
    declared = {e.student: e for e in ex.examples(Course(), HOMEWORK, QUESTION)}
    for student in STUDENTS:
        submit(course, student, QUESTION, ex.notebook(Course(), HOMEWORK, QUESTION, declared[student]))
    return course


def cli(course, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "autograder", "--workspace", str(course.workspace), *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def outcome(course) -> dict:
    """What grading decided, per notebook: status and points per check (not times or seeds)."""
    return {key: (row["status"], {c["id"]: c["points"] for c in row["checks"]})
            for key, row in recorded(course).items() if key[1] == QUESTION}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    course = submitted_course(tmp_path_factory.mktemp("serial"), "serial")
    proc = cli(course, "grade", HOMEWORK, "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    result = outcome(course)
    assert {s for s, _ in result} == set(STUDENTS)
    assert result["reference", QUESTION][1]["test_cross_correlation_values"] == 4
    return result


def test_parallel_workers_give_the_serial_grades(serial, tmp_path):
    course = submitted_course(tmp_path, "parallel")
    proc = cli(course, "grade", HOMEWORK, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert "graded" in proc.stdout and "Traceback" not in proc.stderr
    assert outcome(course) == serial


def test_shards_merged_give_the_serial_grades_and_merging_again_changes_nothing(serial, tmp_path):
    course = submitted_course(tmp_path, "sharded")
    for shard in ("1/2", "2/2"):
        proc = cli(course, "grade", HOMEWORK, "--shard", shard, "--jobs", "1")
        assert proc.returncode == 0, proc.stderr
    assert recorded(course) == {}, "shards write into their own gradebooks"
    proc = cli(course, "merge", HOMEWORK)
    assert proc.returncode == 0 and "merged" in proc.stdout, proc.stdout + proc.stderr
    assert outcome(course) == serial
    first = recorded(course)
    assert cli(course, "merge", HOMEWORK).returncode == 0
    assert recorded(course) == first
    assert (course.autograded / "reference" / HOMEWORK / f"{QUESTION}.ipynb").is_file()


def test_bad_shard_and_merge_without_shards_are_refused(tmp_path):
    course = submitted_course(tmp_path, "bad")
    proc = cli(course, "grade", HOMEWORK, "--shard", "3/2")
    assert proc.returncode == 2 and "1 <= i <= N" in proc.stdout and "Traceback" not in proc.stderr
    proc = cli(course, "merge", HOMEWORK)
    assert proc.returncode == 1 and "no shard gradebooks" in proc.stdout


def graded_so_far(course) -> int:
    """Notebooks of QUESTION recorded, read without creating anything: opening nbgrader's gradebook
    would create its tables, racing the grader that is creating them."""
    try:
        with closing(sqlite3.connect(f"file:{course.gradebook_path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM autograder_runs WHERE notebook = ?", (QUESTION,)).fetchone()[0]
    except sqlite3.Error:  # not there yet, or being created
        return 0


def test_a_killed_parallel_run_resumes_without_duplicates(serial, tmp_path):
    course = submitted_course(tmp_path, "killed")
    # One slow notebook (the first dispatched) keeps the run busy, so it cannot finish before the kill.
    slow = answer_notebook(QUESTION)
    slow.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(12)"))
    submit(course, "aa_slow", QUESTION, slow)
    command = [sys.executable, "-m", "autograder", "--workspace", str(course.workspace), "grade", HOMEWORK,
               "--jobs", "2"]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if graded_so_far(course) >= 1:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = recorded(course)
    assert 1 <= len(outcome(course)) <= len(STUDENTS), "the run was killed halfway"
    assert ("aa_slow", QUESTION) not in outcome(course)
    resumed = cli(course, "grade", HOMEWORK, "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr
    counts = re.search(r"graded (\d+) notebooks(?: and recorded (\d+) questions as not submitted)?", resumed.stdout)
    assert counts, resumed.stdout
    graded, missing = int(counts[1]), int(counts[2] or 0)
    assert graded + missing == (len(STUDENTS) + 1) * len(Course().questions(HOMEWORK)) - len(done)
    resumed_outcome = outcome(course)
    assert resumed_outcome.pop(("aa_slow", QUESTION))[0] == "graded"
    assert resumed_outcome == serial


FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def test_a_fork_bomb_graded_beside_correct_work_costs_only_its_own_notebook(tmp_path):
    course = temp_course(tmp_path)
    bomb = answer_notebook(QUESTION)
    bomb.cells.append(nbformat.v4.new_code_cell(FORK_BOMB))
    submit(course, "a_bomb", QUESTION, bomb)
    for student in ("b_honest", "c_honest", "d_honest"):
        submit(course, student, QUESTION, answer_notebook(QUESTION))
    grades = grade_homework(course, HOMEWORK, GradingOptions(jobs=2, overrides={"cell_timeout_s": 20}))
    by_student = {g.student: g for g in grades if g.notebook == QUESTION}
    for student in ("b_honest", "c_honest", "d_honest"):
        assert (by_student[student].status, by_student[student].score) == ("graded", 10), by_student[student].notes
    assert by_student["a_bomb"].limit_hit in ("processes", "memory", "wall time")


SHOW_CORES = "import os\nprint(sorted(os.sched_getaffinity(0)), os.environ.get('OMP_NUM_THREADS'))"


@pytest.mark.skipif(len(usable_cores()) < 2, reason="needs two cores to share")
def test_parallel_workers_run_their_notebooks_on_their_own_share_of_the_cores(tmp_path):
    course = temp_course(tmp_path)
    for student in ("a", "b", "c"):
        notebook = answer_notebook(QUESTION)
        notebook.cells.append(nbformat.v4.new_code_cell(SHOW_CORES))
        submit(course, student, QUESTION, notebook)
    grade_homework(course, HOMEWORK, GradingOptions(jobs=2), students=["a", "b", "c"])
    share = len(usable_cores()) // 2
    for student in ("a", "b", "c"):
        executed = nbformat.read(course.autograded / student / HOMEWORK / f"{QUESTION}.ipynb", as_version=4)
        cores, threads = executed.cells[-1].outputs[0]["text"].rsplit(" ", 1)
        assert len(ast.literal_eval(cores)) == share and int(threads) == share, (student, cores, threads)
