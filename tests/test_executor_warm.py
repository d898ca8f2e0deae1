"""Warm kernels: each notebook's kernel is forked from a sandbox that imported the frameworks once,
and a notebook graded there sees nothing of the one before it."""
import os
import textwrap

import nbformat
import psutil
import pytest

from autograder.executor import Limits, execute_notebook, sandbox_available
from autograder.executor.warm import WarmKernels, chooses_keras_backend, imported_modules

OK, WHY = sandbox_available()
needs_sandbox = pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="warm sandboxes are emptied between notebooks as root")
FAST = Limits(cell_timeout_s=20, notebook_timeout_s=60, harvest_timeout_s=30)


def nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources])


def printed(result) -> str:
    return "".join(o.get("text", "") for c in result.notebook.cells for o in c.outputs
                   if o.output_type == "stream")


def sandbox_processes(uid: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]


@pytest.fixture
def warm():
    kernels = WarmKernels()
    yield kernels
    kernels.close()


FIRST = """
import ctypes, os, subprocess, sys
import numpy as np
secret = 'first student'
open(os.path.expanduser('~/answer.txt'), 'w').write('first')
open('/tmp/left-behind', 'w').write('first')
open('/dev/shm/left-behind', 'w').write('first')
# A process that outlives the kernel (its own session, so not in the kernel's process group) ...
subprocess.Popen(['sleep', '600'], start_new_session=True)
# ... and a System V shared memory segment, which outlives every process.
libc = ctypes.CDLL(None)
segment = libc.shmget(0x5eed, 4096, 0o1600)
os.environ['LEFT_BEHIND'] = 'first'
print(os.getcwd(), segment >= 0, np.random.randint(2**62))
"""
SECOND = """
import ctypes, os, sys
import numpy as np
print('secret' in globals(), os.path.exists(os.path.expanduser('~/answer.txt')), os.path.exists('/tmp/left-behind'),
      os.path.exists('/dev/shm/left-behind'), ctypes.CDLL(None).shmget(0x5eed, 0, 0) >= 0, 'LEFT_BEHIND' in os.environ,
      'tensorflow' in sys.modules, 'tf' in globals(), os.getcwd(), os.getuid(), np.random.randint(2**62))
print({int(p) for p in os.listdir('/proc') if p.isdigit()} == {1, os.getpid()})
"""


@needs_sandbox
@needs_root
def test_the_next_notebook_runs_in_a_kernel_forked_after_the_last_one_was_wiped_out(tmp_path, warm):
    first = execute_notebook(nb(FIRST), tmp_path / "a", FAST, warm=warm, preload=("numpy", "tensorflow"))
    second = execute_notebook(nb(SECOND), tmp_path / "b", FAST, warm=warm, preload=("numpy", "tensorflow"))
    assert (first.status, second.status) == ("ok", "ok"), (first.cell_failures, second.cell_failures)
    assert (warm.hits, warm.misses) == (1, 1), "the second kernel came from the first one's sandbox"
    cwd, made_segment, first_draw = printed(first).split()
    *left, preloaded, bound, second_cwd, uid, second_draw, alone = printed(second).split()
    assert made_segment == "True"
    assert left == ["False"] * 6, "globals, files in home, /tmp, /dev/shm, shared memory, environment: all gone"
    # TensorFlow was imported before the kernel was forked, yet binds no name: a forgotten import
    # fails as it would at home.
    assert (preloaded, bound) == ("True", "False")
    assert (second_cwd, int(uid)) == (cwd, FAST.sandbox_uid)
    assert second_draw != first_draw, "each kernel draws its own random seeds, as a new process would"
    assert alone == "True", "no process of the first notebook is left in the sandbox"
    assert [c.execution_count for c in second.notebook.cells] == [1]
    assert not [p for p in sandbox_processes(FAST.sandbox_uid) if p.name() == "sleep"]


@needs_sandbox
@needs_root
def test_other_settings_get_a_new_sandbox_and_the_old_one_is_killed(tmp_path, warm):
    execute_notebook(nb("x = 1"), tmp_path / "a", FAST, warm=warm)
    old = {p.pid for p in sandbox_processes(FAST.sandbox_uid)}
    assert old, "the warm sandbox waits with a kernel forked for the next notebook"
    other = FAST.__class__(**{**FAST.__dict__, "memory_mb": FAST.memory_mb // 2})
    r = execute_notebook(nb("import resource; print(resource.getrlimit(resource.RLIMIT_DATA)[0] // 2**20)"),
                         tmp_path / "b", other, warm=warm)
    assert printed(r).strip() == str(other.memory_mb), "the kernel must have the notebook's own limits"
    assert (warm.hits, warm.misses) == (0, 2)
    assert not old & {p.pid for p in sandbox_processes(FAST.sandbox_uid)}
    warm.close()
    assert sandbox_processes(FAST.sandbox_uid) == [], "closing kills the warm sandbox"


KILLER = """
import os, signal
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
    os.kill(1, sig)      # the fork server, the sandbox's init
try:
    os.kill(-1, signal.SIGKILL)  # everything but init and the caller
except ProcessLookupError:       # there was nothing else
    pass
print(os.getppid())
"""


@needs_sandbox
@needs_root
def test_the_notebook_cannot_kill_or_stop_the_fork_server(tmp_path, warm):
    killer = execute_notebook(nb(KILLER, "print('after')"), tmp_path / "a", FAST, warm=warm)
    assert (killer.status, printed(killer).split()) == ("ok", ["1", "after"])
    after = execute_notebook(nb("print('ran')"), tmp_path / "b", FAST, warm=warm)
    assert (after.status, printed(after).strip()) == ("ok", "ran")
    assert (warm.hits, warm.misses) == (1, 1), "the next kernel was forked by the same server"


HOG = """
import subprocess, sys, time
hold = "import numpy as np, time; x = np.ones(300 * 2**20, dtype=np.uint8); time.sleep(60)"
holders = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(3)]
time.sleep(30)
"""


@needs_sandbox
@needs_root
def test_a_notebook_over_the_sandbox_memory_limit_retires_the_sandbox(tmp_path, warm):
    # Each process stays under RLIMIT_DATA; together they cross the sandbox's limit.
    small = FAST.__class__(**{**FAST.__dict__, "memory_mb": 600})
    hog = execute_notebook(nb(HOG), tmp_path / "a", small, warm=warm, preload=("numpy",))
    assert (hog.status, hog.limit_hit) == ("crashed", "memory")
    after = execute_notebook(nb("print('ran')"), tmp_path / "b", small, warm=warm, preload=("numpy",))
    assert (after.status, printed(after).strip()) == ("ok", "ran")
    assert (warm.hits, warm.misses) == (0, 2), "a sandbox killed for its memory is not used again"


def test_imports_are_read_from_code_cells_without_running_them():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nfrom torch import nn\n  import cv2"),
        nbformat.v4.new_code_cell("# import tensorflow\nx = 'import sklearn'\nimport keras\nimport os"),
        nbformat.v4.new_markdown_cell("import pandas"),
    ])
    # Keras is not imported ahead (it fixes its backend when imported) but its default backend is,
    # and comments, strings and prose import nothing.
    assert imported_modules(notebook) == ("numpy", "tensorflow", "torch", "cv2")
    assert not chooses_keras_backend(notebook)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import os\nos.environ['KERAS_BACKEND'] = 'torch'"))
    assert imported_modules(notebook) == ("numpy", "torch", "cv2")
    assert chooses_keras_backend(notebook)


@needs_sandbox
@needs_root
def test_a_notebook_that_chooses_its_keras_backend_never_gets_tensorflow_imported_ahead(tmp_path, warm):
    execute_notebook(nb("import keras"), tmp_path / "a", FAST, warm=warm, preload=("tensorflow",))
    chooser = nb("import os, sys\nos.environ['KERAS_BACKEND'] = 'torch'\nprint('keras' in sys.modules)")
    r = execute_notebook(chooser, tmp_path / "b", FAST, warm=warm, preload=imported_modules(chooser))
    assert (r.status, printed(r).strip()) == ("ok", "False")
    assert (warm.hits, warm.misses) == (0, 2)
