"""Hostile submissions, graded end to end: getting out of the sandbox.

Every student here hands in the correct conv_by_hand answers plus an attack, so the honest score
is 10: an attack may cost marks but never earn more. The attack cells print BLOCKED/LEAKED markers
that are read back from the autograded notebook the grader keeps.
"""
import os
import socket
import subprocess
import sysconfig
import textwrap
import uuid
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import data
from autograder.course import REPO_ROOT
from autograder.executor import sandbox_available
from grading_support import answer_notebook, grade, recorded, submit, temp_course

OK, WHY = sandbox_available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")]

Q = "conv_by_hand"
LIMITS = dict(cell_timeout_s=15, notebook_timeout_s=60, harvest_timeout_s=30)


def honest_plus(*cells: str):
    """The correct answers, with attack cells added at the end of the notebook."""
    nb = answer_notebook(Q)
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    return nb


def outputs(course, student: str) -> str:
    nb = nbformat.read(course.autograded / student / "hw1" / f"{Q}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def probe(paths: dict, action: str) -> str:
    """Student code: try `action` on every path; print BLOCKED or LEAKED per label."""
    return f"""
    import os, socket
    for label, path in {paths!r}.items():
        try:
            {action}
        except Exception as e:
            print("BLOCKED", label, type(e).__name__)
        else:
            print("LEAKED", label)
    """


def read_targets(course) -> dict[str, str]:
    heldout = sorted(data.cache_dir().rglob("*-heldout.npz"))
    assert heldout, "the held-out split should be in the data cache for this test to mean something"
    return {
        "check_file": str(REPO_ROOT / "autograder" / "checks" / "hw1" / "test_conv_by_hand.py"),
        "thresholds": str(REPO_ROOT / "autograder" / "checks" / "hw1" / "thresholds.json"),
        "grader_code": str(REPO_ROOT / "autograder" / "grade.py"),
        "solution": str(REPO_ROOT / "solutions" / "hw1" / "conv_by_hand.ipynb"),
        "gradebook": str(course.gradebook_path),
        "other_student": str(course.submitted / "net" / "hw1" / f"{Q}.ipynb"),
        "heldout": str(heldout[0]),
        "git_config": str(REPO_ROOT / ".git" / "config"),
        "shadow": "/etc/shadow",
        "via_proc_root": f"/proc/1/root{REPO_ROOT}/solutions/hw1/conv_by_hand.ipynb",
    }


def write_targets(course, tmp_marker: str) -> dict[str, str]:
    purelib = Path(sysconfig.get_paths()["purelib"])
    return {
        "checks_conftest": str(REPO_ROOT / "autograder" / "checks" / "hw1" / "conftest.py"),
        "root_conftest": str(REPO_ROOT / "conftest.py"),
        "root_sitecustomize": str(REPO_ROOT / "sitecustomize.py"),   # the checks' PYTHONPATH
        "shadow_pytest": str(REPO_ROOT / "pytest.py"),               # `python -m pytest` in the repo
        "venv_sitecustomize": str(purelib / "sitecustomize.py"),
        "venv_pth": str(purelib / "zz_hostile.pth"),
        "pytest_plugin": str(purelib / "pytest_hostile_plugin.py"),
        "data_package": str(REPO_ROOT / "data" / "hostile.py"),
        "data_package_in_sandbox": "/opt/autograder-pylib/data/hostile.py",
        "workspace": str(course.workspace / "planted.txt"),
        "host_tmp": tmp_marker,
    }


# A student process left running after the last cell swaps every new entry of its scratch dir
# for a link to a host folder (woken by inotify, so within microseconds), hoping the grader, as
# root, follows the link while it sets up the harvest. Before the fix it won this race most times:
# root wrote request files and a 65534-owned dir into the victim folder and chmod-ed its files 0644.
SWAPPER = r'''
import ctypes, os, struct, sys
scratch, victim = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
libc.inotify_add_watch(fd, scratch.encode(), 0x100)  # IN_CREATE
while True:
    buf, i = os.read(fd, 4096), 0
    while i < len(buf):
        _, _, _, size = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + size].rstrip(b"\0").decode()
        i += 16 + size
        if not name.startswith("moved-"):
            try:
                os.rename(os.path.join(scratch, name), os.path.join(scratch, "moved-" + name))
                os.symlink(victim, os.path.join(scratch, name))
            except OSError:
                pass
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("escape")
    course = temp_course(base)
    data.load_heldout("mnist")  # make sure the held-out file exists on the host
    tmp_marker = f"/tmp/hostile-{uuid.uuid4().hex}"
    reads, writes = read_targets(course), write_targets(course, tmp_marker)
    victim = base / "victim"
    victim.mkdir()
    (victim / "secret.key").write_text("s3cret")
    os.chmod(victim / "secret.key", 0o600)

    # A host process of the sandbox's own uid (as root, the kernel runs as 65534; otherwise as
    # ours, mapped), and an abstract unix socket on the host.
    as_sandbox_uid = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    sleeper = subprocess.Popen(as_sandbox_uid + ["sleep", "600"])
    abstract = f"hostile-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + abstract)
    listener.listen(1)

    students = {
        "net": honest_plus(
            probe({"tcp_dns": ("1.1.1.1", 53), "tcp_https": ("151.101.0.223", 443), "pypi": ("pypi.org", 443)},
                  "socket.create_connection(path, timeout=3).close()"),
            probe({"urllib": "https://pypi.org/simple/numpy/"},
                  "__import__('urllib.request').request.urlopen(path, timeout=3).read()"),
            probe({"udp": ("8.8.8.8", 53)},
                  "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', path); "
                  "s.settimeout(2); s.recv(10)"),
            probe({"abstract_unix": "\0" + abstract},
                  "s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(path)"),
            probe({"kill_host_process": sleeper.pid}, "os.kill(path, 9)"),
        ),
        "reader": honest_plus(
            probe(reads, "open(path, 'rb').read(1)"),
            probe({"list_checks": str(REPO_ROOT / "autograder" / "checks"), "list_workspace": str(course.workspace),
                   "list_solutions": str(REPO_ROOT / "solutions")}, "os.listdir(path)"),
        ),
        "writer": honest_plus(
            probe(writes, "os.makedirs(os.path.dirname(path), exist_ok=True); open(path, 'w').write('import os')"),
        ),
        "swapper": honest_plus(f"""
            import os, subprocess, sys
            open("swap.py", "w").write({SWAPPER!r})
            swapper = subprocess.Popen([sys.executable, "swap.py", os.getcwd(), {str(victim)!r}])
            """),
        "kill_all": honest_plus("""
            import os, signal, subprocess
            child = subprocess.Popen(["sleep", "100"])
            os.kill(-1, signal.SIGKILL)
            print("survived kill(-1); child", child.wait())
            """),
    }
    for student, nb in students.items():
        submit(course, student, Q, nb)
    victim_before = sorted((p.name, p.stat().st_mode, p.stat().st_uid) for p in victim.iterdir())
    try:
        grades = grade(course, **LIMITS)
        sleeper_alive = sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
        listener.close()
    yield SimpleNamespace(course=course, grades=grades, reads=reads, writes=writes, tmp_marker=tmp_marker,
                          victim=victim, victim_before=victim_before, sleeper_alive=sleeper_alive)
    for path in list(writes.values()):
        if Path(path).exists() and "hostile" in path:  # only ever our own marker names
            os.remove(path)


def markers(text: str, kind: str) -> set[str]:
    return {line.split()[1] for line in text.splitlines() if line.startswith(kind + " ")}


def test_network_is_unreachable(run):
    g = run.grades["net", Q]
    out = outputs(run.course, "net")
    assert markers(out, "LEAKED") == set()
    assert markers(out, "BLOCKED") == {"tcp_dns", "tcp_https", "pypi", "urllib", "udp", "abstract_unix",
                                       "kill_host_process"}
    assert (g.status, g.score) == ("graded", 10)


def test_grader_files_workspace_and_heldout_are_unreadable(run):
    g = run.grades["reader", Q]
    out = outputs(run.course, "reader")
    assert markers(out, "LEAKED") == set()
    assert markers(out, "BLOCKED") == set(run.reads) | {"list_checks", "list_workspace", "list_solutions"}
    assert "FileNotFoundError" in out or "PermissionError" in out
    assert (g.status, g.score) == ("graded", 10)


def test_writes_outside_scratch_fail_and_leave_nothing_on_the_host(run):
    g = run.grades["writer", Q]
    out = outputs(run.course, "writer")
    # The sandbox's private /tmp takes writes there, unless a read-only bind covers the path (the
    # repository, its venv and the test workspace may all live in /tmp): either way the host's
    # /tmp never sees them. Everywhere else every write fails.
    private = {label for label, path in run.writes.items() if path.startswith("/tmp/")}
    assert "host_tmp" in markers(out, "LEAKED")
    assert markers(out, "LEAKED") <= private
    assert markers(out, "BLOCKED") | markers(out, "LEAKED") == set(run.writes)
    assert set(run.writes) - private <= markers(out, "BLOCKED")
    for label, path in run.writes.items():
        assert not Path(path).exists(), f"{label}: {path} appeared on the host"
    # Nothing planted reached the trusted checks process either.
    assert (g.status, g.score) == ("graded", 10)


def test_symlink_swap_during_harvest_never_reaches_the_host(run):
    g = run.grades["swapper", Q]
    after = sorted((p.name, p.stat().st_mode, p.stat().st_uid) for p in run.victim.iterdir())
    assert after == run.victim_before, "the grader wrote into, or changed, a host folder through a student link"
    assert g.status == "graded" and g.score <= 10


def test_kill_everything_only_kills_the_sandbox(run):
    g = run.grades["kill_all", Q]
    assert run.sleeper_alive, "a host process of the sandbox uid was killed from inside the sandbox"
    # kill(-1) spares the caller: inside the pid namespace nothing else of the student's runs,
    # so the notebook goes on and keeps its honest score.
    assert (g.status, g.score, g.message) == ("graded", 10, "ran to the end")
    assert "survived kill(-1); child -9" in outputs(run.course, "kill_all")
    # The batch went on: everyone else was graded.
    assert all(run.grades[s, Q].status == "graded" for s in ("net", "reader", "writer"))


def test_no_student_process_survives_grading(run):
    # The swapper never exits on its own; the grader ended it with the sandbox.
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and str(run.victim) in _cmdline(pid)]
    assert left == []
    rows = recorded(run.course)
    assert {s for (s, q) in rows if q == Q} == {"net", "reader", "writer", "swapper", "kill_all"}


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
