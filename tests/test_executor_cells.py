"""Cell policy on scripted step results (no kernel): budgets, failures, skips, limits, status."""
import asyncio

import nbformat
import pytest

from autograder.executor import CellFailure, Limits
from autograder.executor.cells import (
    Budget, RunRecord, died_of_memory, error_limit, run_cells, step_error, timeout_message,
)
from autograder.executor.execute import (
    EXECUTION_STATUSES, STATUS_CRASHED, STATUS_ERROR, STATUS_OK, STATUS_TIMEOUT, execution_status,
)
from autograder.executor.step import StepResult

LIM = Limits(cell_timeout_s=10, notebook_timeout_s=100, memory_mb=1000, max_cell_output_bytes=1234)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class FakeKernel:
    def __init__(self):
        self.dead = False
        self.exit_code = None
        self.over = None
        self.peak_process_bytes = 0
        self.log = ""
        self.kills = 0

    def log_tail(self, n):
        return self.log[-n:]

    async def kill(self):
        self.kills += 1
        self.dead = True


class Script:
    """run_step stand-in: each call takes the next scripted outcome, a StepResult or a function
    (kernel, outputs) -> StepResult; `seconds` says how long the step takes on the fake clock."""

    def __init__(self, kernel, clock, *steps, seconds=1.0):
        self.kernel, self.clock, self.steps, self.seconds = kernel, clock, list(steps), seconds
        self.calls = []

    async def __call__(self, code, timeout, outputs, cap, store_history=True):
        self.calls.append((code, timeout, cap))
        step = self.steps.pop(0)
        self.clock.t += min(timeout, self.seconds)
        return step(self.kernel, outputs) if callable(step) else step


def ok(count):
    return StepResult(reply={"status": "ok", "execution_count": count}, idle=True)


def notebook(*sources, grade_ids=()):
    cells = [nbformat.v4.new_markdown_cell(s[3:]) if s.startswith("md:") else nbformat.v4.new_code_cell(s)
             for s in sources]
    for cell, gid in zip(cells, grade_ids):
        if gid:
            cell.metadata["nbgrader"] = {"grade_id": gid}
    return cells


def run(cells, *steps, limits=LIM, seconds=1.0, kernel=None, record=None):
    kernel, clock, record = kernel or FakeKernel(), Clock(), record or RunRecord()
    script = Script(kernel, clock, *steps, seconds=seconds)
    asyncio.run(run_cells(cells, kernel, script, limits, record, clock=clock))
    assert script.steps == [], "not every scripted step was used"
    return record, script, kernel


# -- whole notebooks --------------------------------------------------------------------------------

def test_errors_are_recorded_and_the_run_goes_on():
    cells = notebook("a = 1", "md:# text", "   \n", "raise ValueError", "b = 2", grade_ids=(None, None, None, "q1"))
    cells[2].outputs = [nbformat.v4.new_output("stream", text="stale")]
    rec, script, kernel = run(
        cells, ok(1),
        StepResult(reply={"status": "error", "execution_count": 2}, error=("ValueError", "bad"), idle=True),
        ok(3))
    assert [c for c, _, _ in script.calls] == ["a = 1", "raise ValueError", "b = 2"]
    assert all(cap == 1234 and t == 10 for _, t, cap in script.calls)
    assert rec.failures == [CellFailure(3, "q1", "error", "ValueError: bad")]
    assert [cells[i].execution_count for i in (0, 3, 4)] == [1, 2, 3]
    assert cells[2].outputs == [] and cells[2].execution_count is None  # empty cell: cleared, not run
    assert rec.errored and not rec.crashed and not rec.timed_out and rec.skipped == []
    assert rec.limit_hit is None and kernel.kills == 0
    assert execution_status(rec) == STATUS_ERROR


def test_an_error_known_only_from_the_reply_is_clipped():
    rec, _, _ = run(notebook("x"), StepResult(reply={"status": "error", "ename": "E" * 300, "evalue": "v" * 3000}))
    (f,) = rec.failures
    assert f.kind == "error" and f.message.startswith("E" * 200 + "…[truncated]: vvv")
    assert len(f.message) == 1000 + len("…[truncated]")


def test_a_dead_kernel_fails_its_cell_and_skips_the_rest():
    def dies(kernel, outputs):
        kernel.exit_code = 1
        return StepResult(died=True)

    cells = notebook("a", "import os; os._exit(1)", "md:x", "b", "", "c", grade_ids=(None, "q_exit"))
    rec, script, kernel = run(cells, ok(1), dies)
    assert rec.failures == [CellFailure(1, "q_exit", "kernel_died",
                                        "the kernel died while running this cell; 3 later cell(s) were not run")]
    assert rec.skipped == [3, 4, 5] and len(script.calls) == 2
    assert kernel.kills == 1 and rec.crashed and rec.limit_hit is None
    assert execution_status(rec) == STATUS_CRASHED


def test_death_over_the_memory_limit_overrides_an_earlier_limit():
    def dies(kernel, outputs):
        kernel.over = "memory"
        return StepResult(died=True)

    rec, _, _ = run(notebook("x"), dies, record=RunRecord(limit_hit="output"))
    assert rec.limit_hit == "memory"
    assert rec.failures[0].message == "the kernel died while running this cell (memory limit exceeded)"


def test_death_over_the_disk_limit_is_named_and_is_not_memory():
    def dies(kernel, outputs):
        kernel.over, kernel.exit_code, kernel.peak_process_bytes = "disk", -9, 10**12
        return StepResult(died=True)

    rec, _, _ = run(notebook("x", "y"), dies)
    assert rec.limit_hit is None  # the usage monitor reports "disk" itself, through the session
    assert rec.failures[0].message == ("the kernel died while running this cell (disk limit exceeded); "
                                       "1 later cell(s) were not run")


def test_a_cell_timeout_interrupts_and_the_run_goes_on():
    rec, script, _ = run(notebook("while True: pass", "print(1)", grade_ids=("loop",)),
                         StepResult(timed_out=True, reply={"status": "error"}, error=("KeyboardInterrupt", "")),
                         ok(2), seconds=10)
    assert rec.failures == [CellFailure(0, "loop", "timeout",
                                        "cell exceeded the cell time limit (10 s) and was interrupted")]
    assert len(script.calls) == 2 and rec.skipped == []
    assert rec.timed_out and not rec.errored and rec.limit_hit == "wall time"
    assert execution_status(rec) == STATUS_TIMEOUT


def test_a_timeout_whose_kernel_had_to_be_killed_skips_the_rest():
    def killed(kernel, outputs):
        kernel.dead = True
        return StepResult(timed_out=True)

    rec, script, kernel = run(notebook("x", "y", "z"), killed, record=RunRecord(limit_hit="processes"))
    assert rec.failures[0].message == ("cell exceeded the cell time limit (10 s); "
                                       "the kernel was stopped and later cells were not run")
    assert rec.skipped == [1, 2] and len(script.calls) == 1
    assert rec.limit_hit == "processes"  # an earlier limit is kept
    assert not rec.crashed and kernel.kills == 0  # stopped by us, not died


def test_the_notebook_budget_bounds_the_last_cells_then_skips_the_rest():
    lim = Limits(cell_timeout_s=10, notebook_timeout_s=25)
    rec, script, _ = run(notebook("a", "b", "c", "d", "e"), ok(1), ok(2), StepResult(timed_out=True),
                         limits=lim, seconds=10)
    assert [t for _, t, _ in script.calls] == [10, 10, 5]
    assert rec.failures == [CellFailure(2, None, "timeout", "cell exceeded the notebook's total time limit"
                                                            " and was interrupted")]
    assert rec.skipped == [3, 4] and rec.limit_hit == "wall time"


def test_a_timeout_bounded_by_the_notebook_budget_ends_the_run():
    lim = Limits(cell_timeout_s=10, notebook_timeout_s=15)
    rec, script, _ = run(notebook("a", "b", "c"), ok(1), StepResult(timed_out=True), limits=lim, seconds=7)
    assert [t for _, t, _ in script.calls] == [10, 8]
    assert rec.skipped == [2]  # though the fake clock says 1 s is left


def test_cells_after_the_budget_are_skipped_without_a_failure():
    lim = Limits(cell_timeout_s=10, notebook_timeout_s=15)
    rec, script, _ = run(notebook("a", "b", "c"), ok(1), ok(2), limits=lim, seconds=8)
    assert [t for _, t, _ in script.calls] == [10, 7]
    assert rec.failures == [] and rec.skipped == [2] and execution_status(rec) == STATUS_OK


@pytest.mark.parametrize("err, limit", [
    (("MemoryError", ""), "memory"),
    (("RuntimeError", "CUDA error: out of memory (OOM)"), "memory"),
    (("OSError", "[Errno 12] Cannot allocate memory"), "memory"),
    (("BlockingIOError", "[Errno 11] Resource temporarily unavailable"), "processes"),
    (("BlockingIOError", "[Errno 11] other"), None),
    (("ValueError", "memory"), None),
])
def test_errors_that_reveal_a_limit(err, limit):
    assert error_limit(*err) == limit
    rec, _, _ = run(notebook("x"), StepResult(error=err))
    assert rec.limit_hit == limit and rec.failures[0].kind == "error"


def test_a_revealed_limit_does_not_replace_an_earlier_one():
    rec, _, _ = run(notebook("x", "y"), StepResult(error=("BlockingIOError", "temporarily unavailable")),
                    StepResult(error=("MemoryError", "")))
    assert rec.limit_hit == "processes"


# -- pure parts ------------------------------------------------------------------------------------

MB = 2**20


@pytest.mark.parametrize("kw, expected", [
    (dict(over="memory"), True),
    (dict(over="disk", outputs=[{"output_type": "error", "ename": "MemoryError"}], log_tail="MemoryError"), False),
    (dict(outputs=[{"output_type": "error", "ename": "MemoryError"}]), True),
    (dict(outputs=[{"output_type": "stream", "text": "MemoryError"}]), False),
    (dict(exit_code=-9, peak_bytes=800 * MB), True),
    (dict(exit_code=137, peak_bytes=800 * MB), True),
    (dict(exit_code=-9, peak_bytes=799 * MB), False),
    (dict(exit_code=1, peak_bytes=1000 * MB), False),
    (dict(log_tail="terminate called after throwing an instance of 'std::bad_alloc'"), True),
    (dict(log_tail="MemoryError"), True),
    (dict(), False),
])
def test_died_of_memory(kw, expected):
    args = dict(over=None, outputs=[], exit_code=None, peak_bytes=0, memory_mb=1000, log_tail="") | kw
    assert died_of_memory(**args) is expected


def test_step_error_prefers_iopub_and_ignores_success():
    assert step_error(StepResult(error=("A", "b"), reply={"status": "error", "ename": "C"})) == ("A", "b")
    assert step_error(StepResult(reply={"status": "error"})) == ("Error", "")
    assert step_error(StepResult(reply={"status": "ok"})) is None
    assert step_error(StepResult()) is None


def test_timeout_message():
    assert timeout_message(False, 2.5, False) == "cell exceeded the cell time limit (2.5 s) and was interrupted"
    assert timeout_message(True, 2.5, True) == ("cell exceeded the notebook's total time limit; "
                                                "the kernel was stopped and later cells were not run")


def test_budget():
    clock = Clock()
    b = Budget(30, 10, clock)
    assert b.next_timeout() == (10, False)
    clock.t += 25
    assert b.next_timeout() == (5, True)
    b.spend()
    assert b.next_timeout() is None


def test_record_limits():
    r = RunRecord()
    r.note_limit("output")
    r.note_limit("wall time")
    assert r.limit_hit == "output"
    r.force_limit("disk")
    assert r.limit_hit == "disk"


def test_status_vocabulary():
    assert set(EXECUTION_STATUSES) == {STATUS_OK, STATUS_ERROR, STATUS_TIMEOUT, STATUS_CRASHED} \
        == {"ok", "error", "timeout", "crashed"}
    assert execution_status(RunRecord(crashed=True, timed_out=True, errored=True)) == STATUS_CRASHED
    assert execution_status(RunRecord(timed_out=True, errored=True)) == STATUS_TIMEOUT
    assert execution_status(RunRecord()) == STATUS_OK


# -- budgets that fit the question --------------------------------------------------------------------

def interrupted(traceback_counts):
    """A step interrupted at its deadline, whose traceback runs through cells In[n] for each count."""
    def step(kernel, outputs):
        frames = [f"\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[{n}]\x1b[39m, line 2" for n in traceback_counts]
        outputs.append({"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "",
                        "traceback": ["KeyboardInterrupt   Traceback (most recent call last)", *frames]})
        return StepResult(reply={"status": "error", "execution_count": traceback_counts[0]}, timed_out=True)
    return step


def test_each_measured_cell_gets_its_own_limit_and_others_the_cell_limit():
    limits = Limits(cell_timeout_s=10, notebook_timeout_s=100, cell_timeouts=(("slow", 40.0), ("fast", 20.0)))
    cells = notebook("a", "b", "c", grade_ids=("fast", "slow", None))
    _, script, _ = run(cells, ok(1), ok(2), ok(3), limits=limits)
    assert [timeout for _, timeout, _ in script.calls] == [20.0, 40.0, 10.0]


def test_a_timeout_names_the_answer_cell_where_the_time_went():
    cells = notebook("def f():\n    while True: pass", "f()", grade_ids=("my_answer", "public_check"))
    record, _, _ = run(cells, ok(1), interrupted([2, 1]), seconds=50)
    failure = record.failures[0]
    assert (failure.kind, failure.grade_id, failure.spent_in) == ("timeout", "public_check", "my_answer")
    assert failure.message.endswith("; the time went in my_answer")


def test_a_cell_that_loops_itself_is_named_once():
    cells = notebook("while True: pass", grade_ids=("my_answer",))
    record, _, _ = run(cells, interrupted([1]), seconds=50)
    assert record.failures[0].spent_in is None and "time went" not in record.failures[0].message


def test_grading_hooks_still_run_after_the_budget_is_spent():
    limits = Limits(cell_timeout_s=50, notebook_timeout_s=60, hook_timeout_s=7)
    cells = notebook("loop()", "other()", "def hook(x): ...", grade_ids=("answer", "check", "q_grading_hook"))
    record, script, _ = run(cells, interrupted([1]), ok(2), ok(3), limits=limits, seconds=50)
    # the loop spent 50 s, the next cell the last 10 s of the budget; the hook then gets its own 7 s
    assert [timeout for _, timeout, _ in script.calls] == [50, 10, 7]
    assert record.skipped == []


def test_the_seconds_each_cell_took_are_recorded():
    record, _, _ = run(notebook("a", "b"), ok(1), ok(2), seconds=3.0)
    assert record.seconds == {0: 3.0, 1: 3.0}
