"""Cell policy: time budgets, and what a cell's timeout, error or kernel death means for the run.

Contract: `run_cells(cells, kernel, run_step, limits, record)` runs each non-empty code cell in
order (clearing every code cell's outputs first) with a timeout of the cell limit, or what is left
of the notebook's budget when that is less. The outcome of each step is written to `record`:
- the kernel died: a "kernel_died" CellFailure (saying whether the memory or disk limit killed
  it), record.crashed, the session killed, every later code cell skipped;
- it timed out: a "timeout" failure and limit "wall time"; if the notebook's budget was what ran
  out, the later cells are skipped; if the kernel had to be killed, they are skipped anyway;
- it raised: an "error" failure, and limit "memory" or "processes" when the error says so.
Once the budget is spent, the remaining cells are skipped (listed in record.skipped).
The classification helpers are pure functions of what was observed.
"""
from __future__ import annotations

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


@dataclass
class CellFailure:
    index: int                      # index in nb.cells
    grade_id: str | None            # nbgrader grade_id when present
    kind: FailureKind
    message: str


@dataclass
class RunRecord:
    """What an execution came to: failures, skipped cells, the limit hit, and how it ended."""
    failures: list[CellFailure] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    limit_hit: LimitHit | None = None
    crashed: bool = False    # the kernel died on its own (not stopped by us)
    timed_out: bool = False
    errored: bool = False

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
    peak_bytes: int

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

    def next_timeout(self) -> tuple[float, bool] | None:
        """(timeout for the next cell, whether the notebook's budget rather than the cell limit
        bounds it); None once the budget is spent."""
        remaining = self.end - self.clock()
        if remaining <= 0:
            return None
        return min(self.cell_s, remaining), remaining < self.cell_s

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


def timeout_message(budget_bound: bool, cell_timeout_s: float, killed: bool) -> str:
    what = "the notebook's total time limit" if budget_bound else f"the cell time limit ({cell_timeout_s:g} s)"
    return (f"cell exceeded {what}"
            + ("; the kernel was stopped and later cells were not run" if killed else " and was interrupted"))


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
        timeout = budget.next_timeout()
        if timeout is None:
            record.skipped.append(i)
            continue
        seconds, budget_bound = timeout
        st = await run_step(cell["source"], seconds, cell["outputs"], limits.max_cell_output_bytes)
        reply = st.reply or {}
        if isinstance(reply.get("execution_count"), int):
            cell["execution_count"] = reply["execution_count"]
        if st.died:
            record.crashed = True
            memory = died_of_memory(over=kernel.over, outputs=cell["outputs"], exit_code=kernel.exit_code,
                                    peak_bytes=kernel.peak_bytes, memory_mb=limits.memory_mb,
                                    log_tail=kernel.log_tail(4000))
            if memory:
                record.force_limit("memory")
            later = sum(1 for c in cells[i + 1:] if c.get("cell_type") == "code")
            record.fail(i, cell, "kernel_died", death_message(memory, kernel.over == "disk", later))
            await kernel.kill()
        elif st.timed_out:
            record.timed_out = True
            record.note_limit("wall time")
            record.fail(i, cell, "timeout", timeout_message(budget_bound, limits.cell_timeout_s, kernel.dead))
            if budget_bound and not kernel.dead:
                budget.spend()
        elif (err := step_error(st)) is not None:
            ename, evalue = err
            record.errored = True
            limit = error_limit(ename, evalue)
            if limit:
                record.note_limit(limit)
            record.fail(i, cell, "error", clip(f"{ename}: {evalue}", MAX_MESSAGE))
