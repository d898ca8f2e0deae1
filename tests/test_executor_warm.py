"""Warm kernels: the next notebook's kernel starts ahead, in a sandbox of its own, and a notebook
graded in it sees nothing of the previous one."""
import textwrap
import time

import nbformat
import psutil
import pytest

from autograder.executor import Limits, execute_notebook, sandbox_available
from autograder.executor.warm import WARM_UID_OFFSET, WarmKernels, imported_modules, preload_code

OK, WHY = sandbox_available()
needs_sandbox = pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")
FAST = Limits(cell_timeout_s=20, notebook_timeout_s=60, harvest_timeout_s=30)


def nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources])


def printed(result) -> str:
    return "".join(o.get("text", "") for c in result.notebook.cells for o in c.outputs
                   if o.output_type == "stream")


def warm_kernel_processes(home_uid: int) -> list[int]:
    """Processes under a worker's pair of uids that run in a warm kernel's scratch dir."""
    uids = {home_uid, home_uid - WARM_UID_OFFSET}
    return [p.pid for p in psutil.process_iter(["uids", "cwd"])
            if p.info["uids"] and p.info["uids"].real in uids and "/warm-kernel-" in str(p.info["cwd"])]


@pytest.fixture
def warm():
    kernels = WarmKernels()
    yield kernels
    kernels.close()


FIRST = """
import os, sys
secret = 'first student'
open(os.path.expanduser('~/answer.txt'), 'w').write('first')
open('/tmp/left-behind', 'w').write('first')
print(os.getcwd())
"""
SECOND = """
import os, sys
print('secret' in globals(), os.path.exists(os.path.expanduser('~/answer.txt')),
      os.path.exists('/tmp/left-behind'), 'numpy' in sys.modules, 'numpy' in globals(), os.getcwd(),
      os.getuid())
"""


@needs_sandbox
def test_the_next_notebook_runs_in_a_kernel_started_ahead_that_holds_nothing_of_the_last(tmp_path, warm):
    first = execute_notebook(nb(FIRST), tmp_path / "a", FAST, warm=warm, preload=("numpy",))
    second = execute_notebook(nb(SECOND), tmp_path / "b", FAST, warm=warm, preload=("numpy",))
    assert (first.status, second.status) == ("ok", "ok")
    assert (warm.hits, warm.misses) == (1, 1)
    no_global, no_home_file, no_tmp_file, preloaded, bound, cwd, uid = printed(second).split()
    # NumPy was imported ahead, yet binds no name: a forgotten import fails as it would at home.
    assert (no_global, no_home_file, no_tmp_file, preloaded, bound) == ("False", "False", "False", "True", "False")
    assert cwd != printed(first).strip(), "each notebook gets a scratch dir of its own"
    assert [c.execution_count for c in second.notebook.cells] == [1]
    # It waited under the worker's other uid, so the first notebook's process limit was its own.
    assert int(uid) == FAST.sandbox_uid - WARM_UID_OFFSET


@needs_sandbox
def test_other_settings_get_a_fresh_kernel_and_the_waiting_one_is_killed(tmp_path, warm):
    execute_notebook(nb("x = 1"), tmp_path / "a", FAST, warm=warm)
    other = FAST.__class__(**{**FAST.__dict__, "memory_mb": FAST.memory_mb // 2})
    r = execute_notebook(nb("import resource; print(resource.getrlimit(resource.RLIMIT_DATA)[0] // 2**20)"),
                         tmp_path / "b", other, warm=warm)
    assert printed(r).strip() == str(other.memory_mb), "the kernel must have the notebook's own limits"
    assert (warm.hits, warm.misses) == (0, 2)
    time.sleep(1)
    assert warm_kernel_processes(FAST.sandbox_uid), "a kernel waits for the next notebook"
    warm.close()
    assert warm_kernel_processes(FAST.sandbox_uid) == [], "closing kills the kernel waiting for a notebook"


@needs_sandbox
def test_a_waiting_kernel_that_died_is_replaced(tmp_path, warm):
    execute_notebook(nb("x = 1"), tmp_path / "a", FAST, warm=warm)
    time.sleep(1)  # it has started
    waiting = warm_kernel_processes(FAST.sandbox_uid)
    assert waiting
    for pid in waiting:
        psutil.Process(pid).kill()
    r = execute_notebook(nb("print('ran')"), tmp_path / "b", FAST, warm=warm)
    assert (r.status, printed(r).strip(), warm.hits) == ("ok", "ran", 0)


def test_imports_are_read_from_code_cells_without_running_them():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nfrom torch import nn\n  import cv2"),
        nbformat.v4.new_code_cell("# import tensorflow\nx = 'import sklearn'\nimport keras\nimport os"),
        nbformat.v4.new_markdown_cell("import pandas"),
    ])
    # Keras is not imported ahead (it fixes its backend when imported) but its default backend is,
    # and comments, strings and prose import nothing.
    assert imported_modules(notebook) == ("numpy", "tensorflow", "torch", "cv2")
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import os\nos.environ['KERAS_BACKEND'] = 'torch'"))
    assert imported_modules(notebook) == ("numpy", "torch", "cv2")


def test_preloading_binds_no_name_and_survives_a_missing_package():
    namespace = {}
    exec(preload_code(("numpy", "no_such_package_here")), namespace)
    assert set(namespace) == {"__builtins__"}
