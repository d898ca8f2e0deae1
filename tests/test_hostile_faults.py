"""Hostile and faulty submissions, graded end to end: loops, bombs, floods, exits, grader faults,
and a grading run killed halfway.

Most students hand in the correct conv_by_hand answers (honest score 10) plus a fault, so every
test can say what the fault costs: a question that times out or crashes scores zero for that
question only, an answer that could be checked keeps its points, and nothing earns more.
"""
import csv
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import autograder.checker.runner
import autograder.grade
from autograder.course import REPO_ROOT
from autograder.export import export_csv
from autograder.grade import cell_name
from autograder.gradebook import STATUSES
from autograder.executor import sandbox_available
from grading_support import answer_notebook, answer_source, grade, recorded, submit, temp_course

OK, WHY = sandbox_available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")]

Q = "conv_by_hand"
QUESTIONS = ("conv_by_hand", "gradcam", "mnist_cnn", "opencv_filters")
LIMITS = dict(cell_timeout_s=10, notebook_timeout_s=60, harvest_timeout_s=20, interrupt_grace_s=3,
              memory_mb=1024, max_processes=128, max_disk_mb=512)
XCORR, CONV = answer_source(Q, "conv_xcorr_solution"), answer_source(Q, "conv_convolve_solution")
SPAWN_TAG = f"hostile-spawn-{uuid.uuid4().hex}"


def honest_plus(*cells: str):
    """Correct answers, then extra cells at the end of the notebook (index 11, 12, ...)."""
    nb = answer_notebook(Q)
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    return nb


def answers(xcorr: str = XCORR, conv: str = CONV):
    return answer_notebook(Q, {"conv_xcorr_solution": xcorr, "conv_convolve_solution": conv})


def outputs(course, student: str, question: str = Q) -> str:
    nb = nbformat.read(course.autograded / student / "hw1" / f"{question}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


STUDENTS = {
    # loops
    "loop_answer": answers("while True:\n    pass\n" + XCORR),
    "loop_unstoppable": answers("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                "while True:\n    pass\n" + XCORR),
    "loop_in_harvest": answers(XCORR.replace("    image = np.asarray(image, dtype=float)\n",
                                             "    while stride == 3:\n        pass\n"
                                             "    image = np.asarray(image, dtype=float)\n")),
    # memory: 20 GB asked for, gradually (then freed), or at once at the top of an answer
    "memory_gradual": honest_plus("""
        def grow():
            chunks = []
            for _ in range(80):
                chunks.append(bytearray(256 * 2**20))
        grow()
        """),
    "memory_answer": answers("huge = np.ones(20 * 2**30 // 8)\n" + XCORR),
    # each child under the per-process limit, together far over it
    "memory_forked": honest_plus("""
        import os, time
        for _ in range(6):
            if os.fork() == 0:
                block = b"x" * (400 * 2**20)
                time.sleep(60)
                os._exit(0)
        time.sleep(30)
        """),
    # processes
    "fork_bomb": honest_plus("import sys\nprint('KERNEL', ' '.join(sys.argv))", """
        import os
        while True:
            os.fork()
        """),
    "spawn_bomb": honest_plus(f"""
        import subprocess
        while True:
            subprocess.Popen(["sh", "-c", "sleep 1000; : {SPAWN_TAG}"])
        """),
    # disk: many files, each under the per-file limit, into the scratch dir on the host's disk
    "disk_bomb": honest_plus("""
        block = b"x" * (64 * 2**20)
        for i in range(1000):
            with open(f"fill-{i}", "wb") as f:
                f.write(block)
        """),
    # output
    "huge_output": honest_plus("print('x' * 100_000_000)", "for _ in range(100):\n    print('y' * 1_000_000)"),
    # leaving
    "sys_exit": honest_plus("import sys\nsys.exit()"),
    "raise_systemexit": honest_plus("raise SystemExit(0)"),
    "os_exit": honest_plus("import os\nos._exit(0)"),
    "kill_self": honest_plus("import os\nos.kill(os.getpid(), 9)"),
    "kill_group": honest_plus("import os\nos.killpg(os.getpgid(0), 9)"),
    "kill_parent": honest_plus("import os\nos.kill(os.getppid(), 9)"),
    "exit_in_function": answers(conv="import sys\n\ndef convolve2d(image, kernel, stride=1, padding=0):\n"
                                     "    sys.exit(1)\n"),
    "exit_in_harvest": answers(conv="import os\n" + CONV.replace(
        "    kernel = np.asarray(kernel, dtype=float)\n",
        "    if stride == 3:\n        os._exit(0)\n    kernel = np.asarray(kernel, dtype=float)\n")),
}
# Per-question budgets: these students' other question is handed in correct.
ALSO_OPENCV = ("loop_answer", "loop_unstoppable", "os_exit")


# The first cell a student added after the released notebook's last one.
EXTRA_CELL = cell_name({"index": len(nbformat.read(REPO_ROOT / "assignments" / "hw1" / f"{Q}.ipynb", as_version=4).cells)})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    course = temp_course(tmp_path_factory.mktemp("faults"))
    for student, nb in STUDENTS.items():
        submit(course, student, Q, nb)
    for student in ALSO_OPENCV:
        submit(course, student, "opencv_filters", answer_notebook("opencv_filters"))
    grades = grade(course, **LIMITS)
    return SimpleNamespace(course=course, grades=grades, rows=recorded(course))


def check_points(g) -> dict:
    return {c["id"]: c["points"] for c in g.checks}


# -- loops ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("student", ["loop_answer", "loop_unstoppable"])
def test_a_loop_times_out_that_question_only(run, student):
    g = run.grades[student, Q]
    assert (g.status, g.score, g.limit_hit) == ("timed out", 0, "wall time")
    assert g.message.startswith("timed out in conv_xcorr_solution")
    other = run.grades[student, "opencv_filters"]
    assert (other.status, other.score, other.max_score) == ("graded", 8, 8)


def test_a_loop_that_ignores_interrupts_stops_the_notebook(run):
    g = run.grades["loop_unstoppable", Q]
    assert any("later cells were not run" in note for note in g.notes)
    assert any("calling cross_correlate2d() failed" in c["message"] for c in g.checks)


def test_a_call_that_hangs_in_the_harvest_keeps_what_was_collected_before(run):
    # Four of the eight cross-correlation cases come before the first stride-3 call.
    g = run.grades["loop_in_harvest", Q]
    assert check_points(g) == {"test_output_shapes": 1.0, "test_cross_correlation_values": 2.0,
                               "test_convolution_values": 0.0, "test_non_square_and_even_kernels": 0.0}
    assert "ran out of time" in "\n".join(c["message"] for c in g.checks)


# -- memory, processes, output ----------------------------------------------------------------

def test_gradual_memory_bomb_hits_the_limit_and_keeps_the_answers(run):
    g = run.grades["memory_gradual", Q]
    assert (g.status, g.score, g.limit_hit) == ("graded", 10, "memory")
    assert g.message == f"ran to the end with errors (first in {EXTRA_CELL}); limit hit: memory"
    assert 0 < g.peak_rss_mb < 1024 + 300


def test_memory_bomb_in_an_answer_costs_that_answer(run):
    g = run.grades["memory_answer", Q]
    assert (g.status, g.limit_hit) == ("graded", "memory")
    assert g.message == "ran to the end with errors (first in conv_xcorr_solution); limit hit: memory"
    assert g.score == 0  # convolve2d calls the missing cross_correlate2d


def test_memory_spread_over_forked_children_is_held_to_the_notebook_limit(run):
    g = run.grades["memory_forked", Q]
    assert (g.status, g.score, g.limit_hit) == ("crashed", 0, "memory")
    assert g.message == f"the kernel died in {EXTRA_CELL}; limit hit: memory"
    assert any("memory limit exceeded" in note for note in g.notes)


def test_fork_bomb_is_contained_and_its_processes_end_with_the_notebook(run):
    # 128 forked copies of the kernel dirty enough pages to cross 1 GB together, unless the
    # process limit stops them first: either limit ends it, and the grader survives.
    g = run.grades["fork_bomb", Q]
    # On a loaded machine (other sandboxes share the uid's process limit) forking 256 kernels can
    # also outlast the cell's time: the cell is stopped, which contains it as well.
    assert (g.status, g.limit_hit) in {("graded", "processes"), ("crashed", "memory"), ("timed out", "wall time")}
    if g.status != "timed out":
        assert g.score == (10 if g.status == "graded" else 0)
    kernel = next(line for line in outputs(run.course, "fork_bomb").splitlines() if line.startswith("KERNEL "))
    connection_file = kernel.split()[-1]
    # The pid namespace's teardown kills every copy; on a loaded machine the last ones take a
    # moment to exit, so they get a few seconds, not the rest of the run.
    deadline = time.monotonic() + 15
    while _processes_with(connection_file) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_with(connection_file) == []


def test_spawn_bomb_is_contained_and_keeps_the_answers(run):
    g = run.grades["spawn_bomb", Q]
    assert (g.status, g.score, g.limit_hit) == ("graded", 10, "processes")
    assert g.message == f"ran to the end with errors (first in {EXTRA_CELL}); limit hit: processes"
    assert _processes_with(SPAWN_TAG) == []


def test_filling_the_disk_stops_the_notebook(run):
    g = run.grades["disk_bomb", Q]
    assert (g.status, g.score, g.limit_hit) == ("crashed", 0, "disk")
    assert g.message == f"the kernel died in {EXTRA_CELL}; limit hit: disk"
    assert any("disk limit exceeded" in note for note in g.notes)


def test_huge_output_is_capped_and_the_notebook_still_graded(run):
    g = run.grades["huge_output", Q]
    assert (g.status, g.score, g.limit_hit) == ("graded", 10, "output")
    kept = run.course.autograded / "huge_output" / "hw1" / f"{Q}.ipynb"
    assert kept.stat().st_size < 5 * 2**20
    assert "output limit reached" in outputs(run.course, "huge_output")


# -- leaving early ----------------------------------------------------------------------------

@pytest.mark.parametrize("student", ["sys_exit", "raise_systemexit", "kill_group"])
def test_exits_the_kernel_survives_keep_the_answers(run, student):
    # IPython turns SystemExit into a cell error, and the kernel's process group was made outside
    # its pid namespace, so killing it fails.
    g = run.grades[student, Q]
    assert (g.status, g.score) == ("graded", 10)
    assert g.message == f"ran to the end with errors (first in {EXTRA_CELL})"


def test_killing_the_parent_of_the_kernel_does_nothing(run):
    # The parent is the sandbox's init (the warm sandbox's fork server), which the kernel's signals
    # do not reach: the notebook runs on as if the cell had not been there.
    g = run.grades["kill_parent", Q]
    assert (g.status, g.score, g.message) == ("graded", 10, "ran to the end")


@pytest.mark.parametrize("student", ["os_exit", "kill_self"])
def test_a_dead_kernel_scores_zero_for_that_question_and_names_the_cell(run, student):
    # Nothing could be collected from a dead kernel, so nothing can be verified.
    g = run.grades[student, Q]
    assert (g.status, g.score, g.max_score) == ("crashed", 0, 10)
    assert g.message == f"the kernel died in {EXTRA_CELL}"
    if student in ALSO_OPENCV:
        assert run.grades[student, "opencv_filters"].score == 8


def test_exit_inside_a_checked_function_costs_that_function_only(run):
    g = run.grades["exit_in_function", Q]
    assert check_points(g) == {"test_output_shapes": 2.0, "test_cross_correlation_values": 4.0,
                               "test_convolution_values": 0.0, "test_non_square_and_even_kernels": 0.0}
    assert "SystemExit" in "\n".join(c["message"] for c in g.checks)


def test_kernel_killed_during_the_harvest_keeps_what_was_collected(run):
    # All cross-correlation cases, then four convolution cases before the first stride 3.
    g = run.grades["exit_in_harvest", Q]
    assert g.status == "crashed"
    assert check_points(g) == {"test_output_shapes": 2.0, "test_cross_correlation_values": 4.0,
                               "test_convolution_values": 1.5, "test_non_square_and_even_kernels": 0.0}


# -- what is recorded -----------------------------------------------------------------------------

def test_every_notebook_has_exactly_one_recorded_status_in_the_csv(run, tmp_path):
    rows = list(csv.DictReader(export_csv(run.course, tmp_path / "grades.csv", "hw1").open()))
    keys = [(r["student"], r["notebook"]) for r in rows]
    assert sorted(keys) == sorted({(s, q) for s in STUDENTS for q in QUESTIONS})
    assert all(r["status"] in STATUSES for r in rows)
    by_key = {(r["student"], r["notebook"]): r for r in rows}
    assert by_key["loop_answer", Q]["status"] == "timed out" and by_key["os_exit", Q]["status"] == "crashed"
    assert by_key["sys_exit", "mnist_cnn"]["status"] == "missing"
    assert float(by_key["loop_answer", "opencv_filters"]["autograded_score"]) == 8


def test_resources_are_recorded_for_every_executed_notebook(run):
    for (student, question), row in run.rows.items():
        if row["status"] in ("missing", "invalid"):
            assert row["wall_s"] is None
            continue
        assert row["wall_s"] > 0 and row["peak_rss_mb"] > 0, (student, question)
    limits = {s: run.rows[s, Q]["limit_hit"] for s in STUDENTS}
    assert limits["loop_answer"] == "wall time" and limits["memory_gradual"] == "memory"
    assert limits["spawn_bomb"] == "processes" and limits["huge_output"] == "output"
    assert limits["memory_forked"] == "memory" and limits["disk_bomb"] == "disk"
    assert limits["sys_exit"] is None and limits["os_exit"] is None


# -- grader faults ----------------------------------------------------------------------------------

def test_grader_faults_still_record_a_result_and_the_batch_goes_on(tmp_path, monkeypatch):
    course = temp_course(tmp_path)
    for student in ("fault_a", "fault_b", "fault_c"):
        submit(course, student, Q, answer_notebook(Q))
    real_run_checks = autograder.grade.run_checks
    calls = []

    def faulty(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the hidden checks crashed")
        if len(calls) == 2:  # the checks' pytest never reports (killed on its time limit)
            monkeypatch.setattr(autograder.checker.runner, "CHECKS_TIMEOUT_S", 0.01)
            try:
                return real_run_checks(*args, **kwargs)
            finally:
                monkeypatch.setattr(autograder.checker.runner, "CHECKS_TIMEOUT_S", 900)
        return real_run_checks(*args, **kwargs)

    monkeypatch.setattr(autograder.grade, "run_checks", faulty)
    grades = grade(course, students=None, **LIMITS)
    a, b, c = (grades[s, Q] for s in ("fault_a", "fault_b", "fault_c"))
    assert (a.status, a.score, a.max_score) == ("error", 0, 10)
    assert a.message.startswith("the grader failed on this notebook (RuntimeError)")
    assert any("the hidden checks crashed" in note for note in a.notes)
    assert (b.score, b.max_score) == (0, 10) and len(b.checks) == 4
    assert all(ch["message"] == "the grader failed while running this check; your instructor can see why"
               for ch in b.checks)
    assert all("did not finish" in ch["detail"] for ch in b.checks)
    assert (c.status, c.score) == ("graded", 10)
    rows = recorded(course)
    assert {(s, rows[s, Q]["status"]) for s in ("fault_a", "fault_b", "fault_c")} == {
        ("fault_a", "error"), ("fault_b", "graded"), ("fault_c", "graded")}


# -- a grading run killed halfway --------------------------------------------------------------------

def test_killed_run_resumes_without_duplicates_and_regrade_replaces(tmp_path):
    course = temp_course(tmp_path)
    students = ("r1", "r2", "r3")
    for student in students:
        submit(course, student, Q, answer_notebook(Q))
    command = [sys.executable, "-m", "autograder", "--workspace", str(course.workspace), "grade", "hw1",
               "--cell-timeout", "15", "--notebook-timeout", "60"]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not _executed(recorded(course)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = recorded(course)
    assert _executed(before), "the first run recorded nothing before it was killed"
    assert len(_executed(before)) < len(students), "the first run finished before it could be killed"

    resumed = grade(course, cell_timeout_s=15, notebook_timeout_s=60)
    after = recorded(course)
    assert not set(resumed) & set(before), "the resumed run graded again what was already recorded"
    assert set(after) == {(s, q) for s in students for q in QUESTIONS}
    for key, row in before.items():
        assert after[key] == row, f"{key} changed on resume"
    assert all(after[s, Q]["score"] == 10 for s in students)
    _assert_gradebook_consistent(course, students)

    regraded = grade(course, students=["r1"], regrade=True, cell_timeout_s=15, notebook_timeout_s=60)
    again = recorded(course)
    assert set(regraded) == {("r1", q) for q in QUESTIONS}
    assert set(again) == set(after)
    assert again["r1", Q]["seed"] != after["r1", Q]["seed"], "the regrade did not replace the record"
    assert again["r2", Q] == after["r2", Q]
    _assert_gradebook_consistent(course, students)


def _executed(rows: dict) -> dict:
    return {k: r for k, r in rows.items() if r["status"] != "missing"}


def _assert_gradebook_consistent(course, students):
    """One nbgrader grade per (student, notebook, graded cell), equal to our recorded score."""
    db = sqlite3.connect(course.gradebook_path)
    try:
        per_student = dict(db.execute(
            "SELECT sa.student_id, COUNT(*) FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id"
            " JOIN submitted_assignment sa ON sn.assignment_id = sa.id GROUP BY sa.student_id"))
        graded_cells = db.execute("SELECT COUNT(*) FROM grade_cells").fetchone()[0]
        hidden = dict(db.execute(
            "SELECT sa.student_id || '/' || n.name, g.auto_score FROM grade g"
            " JOIN submitted_notebook sn ON g.notebook_id = sn.id JOIN notebook n ON sn.notebook_id = n.id"
            " JOIN submitted_assignment sa ON sn.assignment_id = sa.id JOIN base_cell bc ON g.cell_id = bc.id"
            " WHERE bc.name LIKE '%hidden_checks'"))
    finally:
        db.close()
    assert per_student == {s: graded_cells for s in students}
    rows = recorded(course)
    assert hidden == {f"{s}/{q}": rows[s, q]["score"] for s in students for q in QUESTIONS}


def _processes_with(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(pid))
    return found
