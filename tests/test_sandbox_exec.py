"""Real kernels under real bubblewrap: normal runs, isolation, failures."""
import textwrap
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder.executor import Limits, execute_notebook, sandbox_available

OK, WHY = sandbox_available()
pytestmark = pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")
REPO = Path(__file__).resolve().parents[1]
FAST = Limits(cell_timeout_s=20, notebook_timeout_s=60, harvest_timeout_s=30)


def nb(*sources, grade_ids=()):
    cells = [nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources]
    for cell, gid in zip(cells, grade_ids):
        if gid:
            cell.metadata["nbgrader"] = {"grade_id": gid, "solution": True}
    return nbformat.v4.new_notebook(cells=cells)


def text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def no_sandbox_procs_left(tmp_path):
    """uid-65534 processes started for this test (others may grade concurrently)."""
    left = []
    for p in psutil.process_iter(["uids", "cmdline", "cwd"]):
        if p.info["uids"] and p.info["uids"].real == 65534:
            if str(tmp_path) in " ".join(p.info["cmdline"] or []) + str(p.info["cwd"]):
                left.append(p.pid)
    return left


def test_normal_notebook_outputs(tmp_path):
    r = execute_notebook(nb(
        "import numpy as np\nx = np.arange(6).reshape(2, 3)\nprint('sum', x.sum())",
        "x.shape",
        "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))",
    ), tmp_path, FAST, None)
    assert r.status == "ok" and r.cell_failures == [] and r.limit_hit is None
    c = r.notebook.cells
    assert text(c[0]) == "sum 15\n"
    assert c[1].outputs[0]["data"]["text/plain"] == "(2, 3)"
    assert c[2].outputs[0]["data"]["text/html"] == "<b>hi</b>"
    assert [x.execution_count for x in c] == [1, 2, 3]
    assert 0 < r.wall_s < 30 and r.peak_rss_mb > 10
    assert r.results_dir is None
    nbformat.validate(r.notebook)


def test_isolation(tmp_path):
    forbidden = [str(REPO / "autograder" / "sandbox" / "execute.py"), str(REPO / "solutions"),
                 str(REPO / "tests"), str(REPO / "workspace"), str(REPO / ".git"), "/root/.bashrc",
                 "/etc/shadow", "/work/shared"]
    r = execute_notebook(nb(
        "import os, pwd\nprint(os.getuid(), os.getgid(), os.getgroups(), pwd.getpwuid(os.getuid()).pw_name)",
        f"""
        import os
        for p in {forbidden!r}:
            assert not os.path.exists(p), p
        print('hidden ok', sorted(os.listdir('/')))
        """,
        """
        import socket
        print('ifaces', [n for _, n in socket.if_nameindex()])
        for addr in [('127.0.0.1', 22), ('127.0.0.1', 8888), ('1.1.1.1', 443), ('8.8.8.8', 53)]:
            s = socket.socket(); s.settimeout(2)
            try:
                s.connect(addr)
            except OSError as e:
                print('blocked', addr[0], type(e).__name__)
            else:
                raise AssertionError(f'connected to {addr}')
        """,
        """
        import os
        for p in ['/usr/x', '/etc/x', '/work/x', '/x', os.path.dirname(os.getcwd()) + '/x',
                  os.__file__ + '.x']:
            try:
                open(p, 'w').write('x')
            except OSError as e:
                print('denied', type(e).__name__)
            else:
                raise AssertionError(f'wrote {p}')
        open('ok.txt', 'w').write('scratch is writable')
        open('/tmp/ok.txt', 'w').write('tmp is writable')
        print('writes ok')
        """,
        "import subprocess\nprint(subprocess.run(['id', '-u'], capture_output=True, text=True).stdout.strip())",
    ), tmp_path, FAST, None)
    assert r.status == "ok", r.cell_failures
    out = [text(c) for c in r.notebook.cells]
    assert out[0].split()[:3] == ["65534", "65534", "[]"]
    assert "ifaces ['lo']" in out[2] and out[2].count("blocked") == 4
    assert out[3].count("denied") == 6 and "writes ok" in out[3]
    assert out[4].strip() == "65534"
    # nothing of the student's leaked onto the host outside the workdir's scratch
    assert not Path("/tmp/ok.txt").exists()
    assert no_sandbox_procs_left(tmp_path) == []


def test_errors_continue_and_kernel_death(tmp_path):
    r = execute_notebook(nb(
        "a = 1",
        "raise ValueError('bad ' * 10000)",
        "import sys\nsys.exit(3)",
        "b = a + 1\nprint('b', b)",
        "import os\nos._exit(1)",
        "print('never')",
        grade_ids=(None, "q_err", None, None, "q_exit", "q_after"),
    ), tmp_path, FAST, None)
    f = {x.index: x for x in r.cell_failures}
    assert f[1].kind == "error" and f[1].grade_id == "q_err" and f[1].message.startswith("ValueError: bad")
    assert len(f[1].message) < 2000
    assert f[2].kind == "error" and "SystemExit" in f[2].message
    assert text(r.notebook.cells[3]) == "b 2\n"
    assert f[4].kind == "kernel_died" and f[4].grade_id == "q_exit" and "1 later cell" in f[4].message
    assert 5 not in f and r.skipped_cells == [5] and r.notebook.cells[5].outputs == []
    assert r.status == "crashed" and r.results_dir is None


def test_timeout_interrupt_then_kill(tmp_path):
    lim = Limits(cell_timeout_s=2, notebook_timeout_s=60, interrupt_grace_s=2)
    r = execute_notebook(nb(
        "while True: pass",
        "print('after interrupt')",
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.01)",
        "print('never')",
        grade_ids=("loop1", None, "loop2", None),
    ), tmp_path, lim, None)
    f = r.cell_failures
    assert [(x.index, x.grade_id, x.kind) for x in f] == [(0, "loop1", "timeout"), (2, "loop2", "timeout")]
    assert "interrupted" in f[0].message and "stopped" in f[1].message
    assert text(r.notebook.cells[1]) == "after interrupt\n"
    assert r.skipped_cells == [3]
    assert r.status == "timeout" and r.limit_hit == "wall time"
    assert r.wall_s < 20


def test_notebook_wall_budget(tmp_path):
    lim = Limits(cell_timeout_s=30, notebook_timeout_s=3, interrupt_grace_s=2)
    r = execute_notebook(nb("import time\ntime.sleep(1)", "time.sleep(100)", "print('x')"),
                         tmp_path, lim, None)
    assert [(x.index, x.kind) for x in r.cell_failures] == [(1, "timeout")]
    assert "total time limit" in r.cell_failures[0].message
    assert r.skipped_cells == [2] and r.limit_hit == "wall time" and r.wall_s < 15


def test_memory_bomb(tmp_path):
    lim = Limits(memory_mb=1024, cell_timeout_s=30, notebook_timeout_s=60)
    r = execute_notebook(nb(
        "import numpy as np\na = np.ones(50 * 2**30 // 8)",          # one 50 GB array
        "chunks = []\nwhile True:\n    chunks.append(np.ones(2**24))",  # touch 128 MB at a time
        "del chunks\nimport torch\nt = torch.ones(2**33)",               # C++ allocator
        "print('still alive')",
    ), tmp_path, lim, None)
    f = {x.index: x for x in r.cell_failures}
    assert f[0].kind == "error" and "MemoryError" in f[0].message
    assert f[1].kind == "error" and "MemoryError" in f[1].message
    assert f[2].kind == "error"
    assert text(r.notebook.cells[3]) == "still alive\n"
    assert r.limit_hit == "memory" and r.status == "error"
    assert r.peak_rss_mb < 1024 + 300


def test_fork_bomb_contained(tmp_path):
    lim = Limits(max_processes=64, cell_timeout_s=20, notebook_timeout_s=60)
    r = execute_notebook(nb(
        """
        import subprocess, sys
        bomb = "import os, time\\nwhile True:\\n    try: os.fork()\\n    except OSError: time.sleep(0.2)"
        p = subprocess.Popen([sys.executable, '-c', bomb])
        time_ok = True
        import time; time.sleep(3)
        """,
        "import os\nn = len([d for d in os.listdir('/proc') if d.isdigit()])\nprint('procs', n)",
        """
        import os
        pids = []
        while True:
            pid = os.fork()
            if pid == 0:
                import time; time.sleep(100); os._exit(0)
            pids.append(pid)
        """,
    ), tmp_path, lim, None)
    n = int(text(r.notebook.cells[1]).split()[1])
    assert n <= 64 + 2
    f = {x.index: x for x in r.cell_failures}
    assert f[2].kind == "error" and "BlockingIOError" in f[2].message
    assert r.limit_hit == "processes"
    assert no_sandbox_procs_left(tmp_path) == []


def test_output_flood_capped(tmp_path):
    lim = Limits(cell_timeout_s=3, notebook_timeout_s=60, max_output_bytes=250_000,
                 max_cell_output_bytes=100_000, interrupt_grace_s=2)
    r = execute_notebook(nb(
        "print('small')",
        "print('y' * (50 * 10**6))",           # one message over the zmq size cap
        "for i in range(10**5): print(i)",     # over the per-cell cap
        "for i in range(3): print('z' * 99_000)",
        "print('w' * 99_000)",                 # over the per-notebook cap
        "while True: print('x' * 10**6)",      # endless flood
    ), tmp_path, lim, None)
    cells = r.notebook.cells
    sizes = [len(text(c)) for c in cells]
    assert text(cells[0]) == "small\n"
    assert all(s <= 100_000 + 200 for s in sizes), sizes
    assert sum(sizes) <= 250_000 + 1000, sizes
    assert sizes[4] < 60_000, sizes
    assert r.limit_hit == "output"
    for i in (1, 2, 3, 4, 5):
        assert "output limit reached" in text(cells[i]), i
    assert any(x.index == 5 and x.kind == "timeout" for x in r.cell_failures)
    assert r.wall_s < 30
