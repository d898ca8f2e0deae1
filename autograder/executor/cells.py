"""Cell policy: time budgets, and what a cell's timeout, error or kernel death means for the run.

Contract: `run_cells(cells, kernel, run_step, limits, record)` runs each non-empty code cell in
order (clearing every code cell's outputs first) with a timeout of the cell's own limit (from
`limits.cell_timeouts` by grade_id, else the cell limit), or what is left of the notebook's budget
when that is less. The outcome of each step is written to `record`:
- the kernel died: a "kernel_died" CellFailure (saying whether the memory or disk limit killed
  it), record.crashed, the session killed, every later code cell skipped;
- it timed out: a "timeout" failure and limit "wall time"; if the notebook's budget was what ran
  out, the later cells are skipped; if the kernel had to be killed, they are skipped anyway;
- it raised: an "error" failure, and limit "memory" or "processes" when the error says so.
Once the budget is spent, the remaining cells are skipped (listed in record.skipped), except the
grading hooks (locked cells whose grade_id ends in "_grading_hook"): the harvest calls them, so they
still run, each within `limits.hook_timeout_s`. A timeout names the notebook cell where the time
went (the innermost "Cell In[n]" frame of the interrupted traceback). The seconds each cell took
are kept in record.seconds (by cell index). The classification helpers are pure functions of what
was observed.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

from .outputs import MAX_ENAME, MAX_EVALUE, clip
from .step import RunStep, StepResult

LimitHit = Literal["wall time", "memory", "processes", "output", "disk"]
FailureKind = Literal["error", "timeout", "kernel_died"]

MAX_MESSAGE = 1000
# A process is "near" the memory limit past this share of it (its death by signal is then
# taken for the out-of-memory kill).
NEAR_MEMORY_LIMIT = 0.8
_OOM_EVALUES = ("can't allocate memory", "Cannot allocate memory", "std::bad_alloc", "OOM")
GRADING_HOOK_SUFFIX = "_grading_hook"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\]")


@dataclass
class CellFailure:
    index: int                      # index in nb.cells
    grade_id: str | None            # nbgrader grade_id when present
    kind: FailureKind
    message: str
    spent_in: str | None = None     # for a timeout: the cell whose code was running (grade_id or "cell n")


@dataclass
class RunRecord:
    """What an execution came to: failures, skipped cells, the limit hit, and how it ended."""
    failures: list[CellFailure] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    limit_hit: LimitHit | None = None
    crashed: bool = False    # the kernel died on its own (not stopped by us)
    timed_out: bool = False
    errored: bool = False
    seconds: dict[int, float] = field(default_factory=dict)   # cell index -> wall time of its step

    def note_limit(self, limit: LimitHit) -> None:
        """A limit that explains the outcome only if none was recorded before."""
        self.limit_hit = self.limit_hit or limit

    def force_limit(self, limit: LimitHit) -> None:
        """A limit that certainly ended the kernel (memory/disk measured over): it wins."""
        self.limit_hit = limit

    def fail(self, index: int, cell, kind: FailureKind, message: str) -> None:
        self.failures.append(CellFailure(index, grade_id(cell) if cell is not None else None, kind, message))


class CellKernel(Protocol):
    """What the policy needs from a kernel session (see session.KernelSession)."""
    dead: bool
    exit_code: int | None
    over: str | None
    peak_process_bytes: int

    def log_tail(self, n: int) -> str: ...
    async def kill(self) -> None: ...


def grade_id(cell) -> str | None:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid if isinstance(gid, str) else None


class Budget:
    """The notebook's wall-time budget, handed out cell by cell."""

    def __init__(self, notebook_s: float, cell_s: float, clock: Callable[[], float] = time.monotonic):
        self.cell_s = cell_s
        self.clock = clock
        self.end = clock() + notebook_s

    def next_timeout(self, cell_s: float | None = None) -> tuple[float, bool] | None:
        """(timeout for the next cell, whether the notebook's budget rather than the cell limit
        bounds it); None once the budget is spent. cell_s: this cell's own limit."""
        cell_s = self.cell_s if cell_s is None else cell_s
        remaining = self.end - self.clock()
        if remaining <= 0:
            return None
        return min(cell_s, remaining), remaining < cell_s

    def spend(self) -> None:
        self.end = self.clock()


def died_of_memory(*, over: str | None, outputs: list, exit_code: int | None, peak_bytes: int,
                   memory_mb: int, log_tail: str) -> bool:
    """Whether a kernel death is the memory limit's doing (measured, or the likely cause)."""
    if over == "disk":
        return False
    if over == "memory":
        return True
    if any(o.get("output_type") == "error" and "MemoryError" in str(o.get("ename")) for o in outputs):
        return True
    # RLIMIT_DATA makes the allocator fail; some runtimes then abort (a signal) instead of raising
    by_signal = exit_code is not None and (exit_code < 0 or exit_code > 128)
    near = peak_bytes >= NEAR_MEMORY_LIMIT * memory_mb * 1024 * 1024
    return (by_signal and near) or "MemoryError" in log_tail or "bad_alloc" in log_tail


def error_limit(ename: str, evalue: str) -> LimitHit | None:
    """The limit an error raised in a cell reveals, if any."""
    if ename == "MemoryError" or any(m in evalue for m in _OOM_EVALUES):
        return "memory"
    if ename == "BlockingIOError" and "temporarily unavailable" in evalue:
        return "processes"  # fork() past RLIMIT_NPROC
    return None


def death_message(memory: bool, disk: bool, later: int) -> str:
    why = " (memory limit exceeded)" if memory else " (disk limit exceeded)" if disk else ""
    return ("the kernel died while running this cell" + why
            + (f"; {later} later cell(s) were not run" if later else ""))


def timeout_message(budget_bound: bool, cell_timeout_s: float, killed: bool, spent_in: str | None = None) -> str:
    what = "the notebook's total time limit" if budget_bound else f"the cell time limit ({cell_timeout_s:g} s)"
    return (f"cell exceeded {what}"
            + ("; the kernel was stopped and later cells were not run" if killed else " and was interrupted")
            + (f"; the time went in {spent_in}" if spent_in else ""))


def is_grading_hook(cell) -> bool:
    return (grade_id(cell) or "").endswith(GRADING_HOOK_SUFFIX)


def cell_label(cells: list, index: int) -> str:
    return grade_id(cells[index]) or f"cell {index + 1}"


def innermost_cell(outputs: list, cells: list) -> str | None:
    """The notebook cell of the innermost frame of an interrupted traceback: where the time went
    (a public check cell that calls a looping answer names the answer's cell)."""
    text = "\n".join(_ANSI.sub("", "\n".join(o.get("traceback", []))) for o in outputs
                     if o.get("output_type") == "error")
    counts = _CELL_FRAME.findall(text)
    if not counts:
        return None
    by_count = {c.get("execution_count"): i for i, c in enumerate(cells) if c.get("cell_type") == "code"}
    index = by_count.get(int(counts[-1]))
    return cell_label(cells, index) if index is not None else None


def step_error(st: StepResult) -> tuple[str, str] | None:
    """(ename, evalue) when the step raised: from iopub, else from the reply."""
    reply = st.reply or {}
    if st.error is not None:
        return st.error
    if reply.get("status") == "error":
        return clip(reply.get("ename", "Error"), MAX_ENAME), clip(reply.get("evalue", ""), MAX_EVALUE)
    return None


async def run_cells(cells: list, kernel: CellKernel, run_step: RunStep, limits, record: RunRecord,
                    clock: Callable[[], float] = time.monotonic) -> None:
    budget = Budget(limits.notebook_timeout_s, limits.cell_timeout_s, clock)
    own_limits = dict(getattr(limits, "cell_timeouts", ()) or ())
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        if kernel.dead:
            record.skipped.append(i)
            continue
        if not cell.get("source", "").strip():
            continue
        cell_limit = own_limits.get(grade_id(cell), limits.cell_timeout_s)
        timeout = budget.next_timeout(cell_limit)
        if timeout is None and is_grading_hook(cell):
            timeout = (min(cell_limit, limits.hook_timeout_s), False)  # the harvest needs it
        if timeout is None:
            record.skipped.append(i)
            continue
        seconds, budget_bound = timeout
        started = clock()
        st = await run_step(cell["source"], seconds, cell["outputs"], limits.max_cell_output_bytes)
        record.seconds[i] = clock() - started
        reply = st.reply or {}
        if isinstance(reply.get("execution_count"), int):
            cell["execution_count"] = reply["execution_count"]
        if st.died:
            record.crashed = True
            memory = died_of_memory(over=kernel.over, outputs=cell["outputs"], exit_code=kernel.exit_code,
                                    peak_bytes=kernel.peak_process_bytes, memory_mb=limits.memory_mb,
                                    log_tail=kernel.log_tail(4000))
            if memory:
                record.force_limit("memory")
            later = sum(1 for c in cells[i + 1:] if c.get("cell_type") == "code")
            record.fail(i, cell, "kernel_died", death_message(memory, kernel.over == "disk", later))
            await kernel.kill()
        elif st.timed_out:
            record.timed_out = True
            record.note_limit("wall time")
            spent_in = innermost_cell(cell["outputs"], cells)
            spent_in = spent_in if spent_in != cell_label(cells, i) else None
            record.fail(i, cell, "timeout", timeout_message(budget_bound, cell_limit, kernel.dead, spent_in))
            record.failures[-1].spent_in = spent_in
            if budget_bound and not kernel.dead:
                budget.spend()
        elif (err := step_error(st)) is not None:
            ename, evalue = err
            record.errored = True
            limit = error_limit(ename, evalue)
            if limit:
                record.note_limit(limit)
            record.fail(i, cell, "error", clip(f"{ename}: {evalue}", MAX_MESSAGE))
