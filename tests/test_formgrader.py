"""formgrader.py: the real Jupyter server with nbgrader's formgrader, on a temporary workspace.

A TA's manual score for a written answer, set through formgrader's HTTP API, lands in this
workspace's nbgrader gradebook (not the repository's) and in every export; the server listens on
127.0.0.1 only, wants its token, runs as root or as a normal user, and Ctrl-C stops it.
Each server start takes a few seconds (Jupyter imports), so one server serves most tests.
"""
from __future__ import annotations

import csv
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import psutil
import pytest
from test_gradebook import HOMEWORK, WRITTEN_CELL, notebook_grade, record_grades, registered_course

from autograder.course import REPO_ROOT, Course
from autograder.export import export_csv, export_gradescope, grade_rows
from autograder.formgrader import FormgraderError, private_dir, request, start, stop
from autograder.grade import keep_autograded
from autograder.gradebook import open_gradebook

QUESTION = "opencv_filters"           # 8 hidden-check points + a 2-point written answer
ANSWER = "Sobel x responds to vertical edges because it differentiates along x."
NOBODY = 65534


def graded_workspace(course: Course, *students: str) -> Course:
    """Each student: full marks on the hidden checks, a written answer waiting for a TA, and the
    autograded notebook formgrader shows (it lists only submissions whose file exists)."""
    record_grades(course, *(notebook_grade(s, QUESTION, manual_answers={WRITTEN_CELL: True}) for s in students))
    for student in students:
        notebook = nbformat.read(REPO_ROOT / "assignments" / HOMEWORK / f"{QUESTION}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == WRITTEN_CELL:
                cell.source = f"{ANSWER} ({student})"
        keep_autograded(course, student, HOMEWORK, QUESTION, notebook)
    return course


def parts(url: str) -> tuple[str, str]:
    """(base URL, token) of the URL formgrader printed."""
    split = urlsplit(url)
    assert split.path == "/formgrader"
    return f"{split.scheme}://{split.netloc}", parse_qs(split.query)["token"][0]


def api(base: str, token: str, path: str, method: str = "GET", data: dict | None = None):
    status, body = request(f"{base}/formgrader/api/{path}", token, method, data)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def score_written_answer(base: str, token: str, student: str, points: float) -> dict:
    """What a TA does in formgrader: find the submission, its written-answer grade, and score it."""
    submissions = api(base, token, f"submitted_notebooks/{HOMEWORK}/{QUESTION}")
    mine = [s for s in submissions if s["student"] == student]
    assert len(mine) == 1, submissions
    assert (mine[0]["score"], mine[0]["max_score"], mine[0]["needs_manual_grade"]) == (8, 10, True)
    grades = {g["name"]: g for g in api(base, token, f"grades?submission_id={mine[0]['id']}")}
    written = grades[WRITTEN_CELL]
    assert (written["max_score"], written["manual_score"], written["needs_manual_grade"]) == (2, None, True)
    saved = api(base, token, f"grade/{written['id']}", "PUT", {"manual_score": points})
    assert (saved["manual_score"], saved["needs_manual_grade"]) == (points, False)
    return mine[0]


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One formgrader, started as this test runs (root here), on a workspace outside the repository."""
    course = graded_workspace(registered_course(tmp_path_factory, "formgrader"), "alice", "bob")
    process, url = start(course)
    try:
        yield course, process, url
    finally:
        stop(process)
    assert process.returncode is not None
    assert port_is_closed(urlsplit(url).port)


def test_configuration_is_the_workspaces(server):
    course, _, url = server
    generated = (private_dir(course) / "nbgrader_config.py").read_text()
    assert f"c.CourseDirectory.db_url = {course.db_url!r}" in generated
    assert f"c.CourseDirectory.root = {str(REPO_ROOT)!r}" in generated
    assert oct(private_dir(course).stat().st_mode & 0o777) == "0o700"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/formgrader\?token=[\w-]{40,}", url)
    # The token is not on any command line, where other accounts could read it with `ps`.
    _, token = parts(url)
    for proc in psutil.process_iter(["cmdline"]):
        assert token not in " ".join(proc.info["cmdline"] or [])


def test_listens_on_localhost_only(server):
    _, process, url = server
    port = urlsplit(url).port
    server_pids = {process.pid} | {p.pid for p in psutil.Process(process.pid).children(recursive=True)}
    listening = {c.laddr.ip for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    assert listening == {"127.0.0.1"}
    assert all(c.laddr.ip in ("127.0.0.1", "::1") or c.status != psutil.CONN_LISTEN
               for c in psutil.net_connections(kind="inet") if c.pid in server_pids)
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6) and not address.address.startswith(("127.", "::1")):
                with socket.socket(address.family) as s:
                    s.settimeout(2)
                    assert s.connect_ex((address.address.split("%")[0], port)) != 0, address.address


def test_rejects_requests_without_the_token(server):
    course, _, url = server
    base, token = parts(url)
    assert request(f"{base}/formgrader/api/status", token)[0] == 200
    assert request(f"{base}/formgrader/api/status?token={token}")[0] == 200      # the printed URL's way
    status, _ = request(f"{base}/formgrader/api/status")
    assert status in (302, 403)                         # GET: to the login page
    assert request(f"{base}/formgrader/api/students", "not-the-token")[0] in (302, 403)
    gb = open_gradebook(course)
    try:
        grade_id = gb.find_grade(WRITTEN_CELL, QUESTION, HOMEWORK, "alice").id
    finally:
        gb.close()
    status, _ = request(f"{base}/formgrader/api/grade/{grade_id}", None, "PUT", {"manual_score": 2})
    assert status == 403
    gb = open_gradebook(course)
    try:
        assert gb.find_grade(WRITTEN_CELL, QUESTION, HOMEWORK, "alice").manual_score != 2
    finally:
        gb.close()


def test_manual_score_through_the_api_reaches_the_gradebook(server):
    course, _, url = server
    base, token = parts(url)
    # Opening formgrader's front page makes nbgrader reload its configuration, the repository's
    # nbgrader_config.py (with <repo>/workspace) last: the score must still go to this workspace.
    api(base, token, "assignments")
    for _ in range(2):
        status, _ = request(f"{base}/formgrader", token)
        assert status == 302
    submission = score_written_answer(base, token, "alice", 1.5)

    gb = open_gradebook(course)
    try:
        notebook = gb.find_submission_notebook(QUESTION, HOMEWORK, "alice")
        assert (notebook.score, notebook.max_score, notebook.needs_manual_grade) == (9.5, 10, False)
        assert gb.find_grade(WRITTEN_CELL, QUESTION, HOMEWORK, "alice").manual_score == 1.5
    finally:
        gb.close()
    # formgrader itself shows it: the submission list and the grading page of the notebook.
    listed = {s["student"]: s for s in api(base, token, f"submitted_notebooks/{HOMEWORK}/{QUESTION}")}
    assert (listed["alice"]["score"], listed["alice"]["needs_manual_grade"]) == (9.5, False)
    assert api(base, token, f"submission/{HOMEWORK}/alice")["score"] == 9.5
    status, page = request(f"{base}/formgrader/submissions/{submission['id']}/", token)
    assert status == 200
    assert WRITTEN_CELL in page and f"{ANSWER} (alice)" in page


def test_manual_score_reaches_every_export(server, tmp_path):
    course, _, url = server
    base, token = parts(url)
    score_written_answer(base, token, "bob", 2)
    row = {r["student"]: r for r in grade_rows(course, HOMEWORK)}["bob"]
    assert (row["notebook_score"], row["notebook_max"], row["written_pending"]) == (10, 10, False)
    assert row["total_score"] == 10
    with export_csv(course, tmp_path / "grades.csv", HOMEWORK).open(newline="") as handle:
        exported = {r["student"]: r for r in csv.DictReader(handle)}["bob"]
    assert float(exported["notebook_score"]) == 10 and float(exported["total_score"]) == 10
    results = {p.parts[-3]: json.loads(p.read_text()) for p in export_gradescope(course, tmp_path / "gs", HOMEWORK)}
    assert results["bob"]["score"] == 10
    assert any(t.get("score") == 2 and WRITTEN_CELL in t["name"] for t in results["bob"]["tests"])


def test_a_busy_port_is_a_clear_error(tmp_path):
    course = Course(REPO_ROOT, tmp_path / "workspace")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(FormgraderError, match="already in use"):
            start(course, busy.getsockname()[1], timeout=120)


# ---------------------------------------------------------------------------------------------
# The documented command, as a normal user, stopped with Ctrl-C

def _as_normal_user() -> tuple[list[str], dict[str, str]] | None:
    """How to run a command as a normal user: as is when the tests are not root; as nobody (with a
    HOME it cannot write, like nobody's own) when they are. The interpreter may live where nobody
    cannot read (e.g. /root/.pyenv): then nobody gets exactly one privilege, reading files
    (CAP_DAC_READ_SEARCH), and stays a normal user for everything formgrader does."""
    if os.geteuid() != 0:
        return [], {}
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {"HOME": "/nonexistent", "USER": "nobody", "LOGNAME": "nobody"}
    # The probe starts the interpreter again from inside itself, as formgrader starts the server.
    probe_code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
                  "'import nbgrader, jupyter_server'], check=True)")
    for extra in ([], ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]):
        probe = subprocess.run(drop + extra + [sys.executable, "-c", probe_code],
                               cwd=REPO_ROOT, capture_output=True, env={**os.environ, **env})
        if probe.returncode == 0:
            return drop + extra, env
    return None


def _read_line(stream, pattern: str, timeout: float) -> tuple[str, str]:
    """Read the command's output until a line matches; (that line, everything read)."""
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1)
        if not ready:
            continue
        line = stream.readline()
        if not line:
            break
        seen += line
        if re.search(pattern, line):
            return line, seen
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output:\n{seen}")


def test_serve_as_a_normal_user_and_stop_with_ctrl_c(tmp_path_factory):
    how = _as_normal_user()
    if how is None:
        pytest.skip("running as root without setpriv: cannot become a normal user")
    prefix, env = how
    template = registered_course(tmp_path_factory, "formgrader_user")
    # A folder nobody can reach (pytest's temporary root is private to root), owned by nobody.
    top = Path(tempfile.mkdtemp(prefix="formgrader-user-"))
    process = None
    try:
        top.chmod(0o755)
        course = Course(REPO_ROOT, top / "workspace")
        course.ensure_workspace()
        shutil.copy(template.gradebook_path, course.gradebook_path)
        graded_workspace(course, "carol")
        if os.geteuid() == 0:
            for path in [top, *top.rglob("*")]:
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        process = subprocess.Popen(
            prefix + [sys.executable, "-m", "autograder", "formgrader", "--workspace", str(course.workspace)],
            cwd=REPO_ROOT, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True)                 # its own process group, like a terminal's job
        line, output = _read_line(process.stdout, r"^formgrader: http://", 180)
        url = line.split("formgrader: ", 1)[1].strip()
        base, token = parts(url)
        server = psutil.Process(process.pid).children()
        assert len(server) == 1 and "jupyter_server" in server[0].cmdline()
        assert server[0].uids().effective == (NOBODY if os.geteuid() == 0 else os.geteuid())
        assert "--allow-root" not in server[0].cmdline()

        score_written_answer(base, token, "carol", 0.5)
        gb = open_gradebook(course)
        try:
            assert gb.find_submission_notebook(QUESTION, HOMEWORK, "carol").score == 8.5
        finally:
            gb.close()

        os.killpg(process.pid, signal.SIGINT)       # what Ctrl-C does: SIGINT to the terminal's job
        assert process.wait(60) == 0
        assert "formgrader: stopping" in output + process.stdout.read()
        assert not server[0].is_running() or server[0].status() == psutil.STATUS_ZOMBIE
        assert port_is_closed(urlsplit(url).port)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(top, ignore_errors=True)
