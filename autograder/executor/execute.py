"""Run a notebook cell by cell in a sandboxed kernel, then harvest results.

The executor is trusted and lives outside the sandbox; everything that comes
back from the kernel (outputs, tracebacks, results) is untrusted data and is
size-capped before it is stored.

Contract: `execute_notebook` runs a copy of the notebook (the caller's is not changed) and returns
an ExecutionResult; it raises only for the installation (SandboxUnavailable, KernelStartError) or
bad arguments, never for what the student's code does. The steps: start a KernelSession
(session.py), run the cells under the cell policy (cells.py) with outputs capped (outputs.py),
harvest (harvest_step.py), then sample, kill and clean up whatever happened.
"""
from __future__ import annotations

import asyncio
import copy
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Mapping, Sequence, get_args

import nbformat

from ..protocol.harvest_request import HarvestRequest
from ..protocol.harvest_results import HarvestResults, read_results
from .bwrap import SANDBOX_UID, PYLIB_DIR, Bind, SandboxUnavailable, check_bind_source, sandbox_available
from .cells import CellFailure, LimitHit, RunRecord, run_cells
from .harvest_step import NOT_RUNNING, HarvestOutcome, run_harvest
from .outputs import OutputCapper
from .session import KernelSession, KernelStartError
from .step import StepRunner
from .warm import SandboxSettings, WarmKernels, chooses_keras_backend

# How an execution ended: the one vocabulary for ExecutionResult.status (grade.py maps it).
ExecutionStatus = Literal["ok", "error", "timeout", "crashed"]
STATUS_OK: Final = "ok"             # every cell ran without error
STATUS_ERROR: Final = "error"       # every cell ran, some raised
STATUS_TIMEOUT: Final = "timeout"   # a cell ran out of time (the kernel survived or we stopped it)
STATUS_CRASHED: Final = "crashed"   # the kernel died on its own (or by a memory/disk limit)
EXECUTION_STATUSES: tuple[ExecutionStatus, ...] = get_args(ExecutionStatus)


@dataclass(frozen=True)
class Limits:
    cell_timeout_s: float = 120.0
    notebook_timeout_s: float = 900.0      # wall budget for all cells together
    harvest_timeout_s: float = 120.0       # model export can be slow
    startup_timeout_s: float = 60.0
    interrupt_grace_s: float = 5.0         # after SIGINT, wait this long before killing
    memory_mb: int = 4096                  # RLIMIT_DATA per process
    address_space_mb: int | None = None    # optional RLIMIT_AS (off: breaks big imports)
    max_processes: int = 256               # RLIMIT_NPROC of the sandbox uid (threads count)
    max_file_mb: int = 256                 # RLIMIT_FSIZE
    max_open_files: int = 1024             # RLIMIT_NOFILE
    tmp_mb: int = 256                      # size of the private /tmp tmpfs
    max_disk_mb: int = 2048                # all files in the scratch dir (host disk) together
    max_output_bytes: int = 10_000_000     # captured outputs per notebook (figures are large)
    max_cell_output_bytes: int = 2_000_000  # captured outputs per cell
    max_traceback_bytes: int = 8_000
    gpu: bool = True                       # expose NVIDIA devices when the machine has them
    # RLIMIT_NPROC counts every process of a uid on the machine: notebooks graded at the same time
    # run under different uids (one per worker), so one's fork bomb cannot starve another.
    sandbox_uid: int = SANDBOX_UID
    # Per-cell limits by grade_id (derived from the reference's timings); other cells get cell_timeout_s.
    cell_timeouts: tuple[tuple[str, float], ...] = ()
    hook_timeout_s: float = 15.0           # a grading hook still runs after the budget is spent
    threads: int | None = None             # thread pools' size in the kernel (a worker's core share)


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    status: ExecutionStatus
    cell_failures: list[CellFailure] = field(default_factory=list)
    results_dir: Path | None = None
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    limit_hit: LimitHit | None = None
    harvest_error: str | None = None
    skipped_cells: list[int] = field(default_factory=list)
    sandboxed: bool = True
    kernel_exit_code: int | None = None
    cell_seconds: dict[int, float] = field(default_factory=dict)   # cell index -> wall time

    def harvest_results(self) -> HarvestResults:
        return read_results(self.results_dir, self.harvest_error)


def execution_status(record: RunRecord) -> ExecutionStatus:
    """The worst thing that happened wins."""
    if record.crashed:
        return STATUS_CRASHED
    if record.timed_out:
        return STATUS_TIMEOUT
    return STATUS_ERROR if record.errored else STATUS_OK


@dataclass(frozen=True)
class _Sandbox:
    """Where and how the kernel runs, as worked out from execute_notebook's arguments."""
    sandboxed: bool
    binds: list[Bind]
    pythonpath: list[str]


def _sandbox(ro_binds, python_packages, unsandboxed_ok: bool) -> _Sandbox:
    ok, msg = sandbox_available()
    if not ok and not unsandboxed_ok:
        raise SandboxUnavailable(msg)
    binds: list[Bind] = []
    for b in ro_binds:
        src, dest = (b, b) if isinstance(b, (str, Path)) else b
        binds.append(Bind(Path(src).resolve(), Path(dest)))
    pythonpath: list[str] = []
    for pkg in python_packages:
        pkg = Path(pkg).resolve()
        if not (pkg / "__init__.py").is_file():
            raise ValueError(f"{pkg} is not a Python package")
        binds.append(Bind(pkg, Path(PYLIB_DIR) / pkg.name))
        if not pythonpath:
            pythonpath.append(PYLIB_DIR)
    for b in binds:
        check_bind_source(b.src)
    if not ok:
        # Unsandboxed (trusted code only): host paths are used as they are.
        pythonpath = sorted({str(b.src.parent) for b in binds if b.dest.parent == Path(PYLIB_DIR)})
    return _Sandbox(ok, binds, pythonpath)


async def _execute(nb, workdir: Path, limits: Limits, harvest: HarvestRequest | None, box: _Sandbox,
                   env: Mapping[str, str], keep_scratch: bool,
                   started: KernelSession | None = None) -> ExecutionResult:
    """Run nb in `started` (a kernel forked in a warm sandbox with these settings) or in a kernel
    started here."""
    t0 = time.monotonic()
    nb = copy.deepcopy(nb)
    record = RunRecord()
    if started is None:
        session = KernelSession(workdir, limits, sandboxed=box.sandboxed, ro_binds=box.binds, env=env,
                                pythonpath=box.pythonpath, on_over=record.force_limit)
    else:
        session = started
        session.limits = limits
        session.on_over = record.force_limit
        workdir.mkdir(parents=True, exist_ok=True)  # the results land here, not in the kernel's dir
    capper = OutputCapper(limits.max_output_bytes, limits.max_traceback_bytes,
                          on_limit=lambda: record.note_limit("output"))
    run_step = StepRunner(session, capper).run
    harvested = HarvestOutcome()
    try:
        if started is None:
            await session.start()
        await run_cells(nb.cells, session, run_step, limits, record)
        if harvest is not None:
            harvested = await run_harvest(harvest, session, run_step, limits, workdir)
            # Found dead before the harvest, and not stopped by a timeout: it died after its last cell
            # (say a memory limit crossed by processes it forked), which is a crash, not an answer.
            found_dead = harvested.error == NOT_RUNNING and not record.timed_out
            record.crashed = record.crashed or harvested.kernel_died or found_dead
    finally:
        session.sample(force=True)  # peak usage up to the end, unless already killed
        await session.kill()
        session.cleanup(keep_scratch)
    return ExecutionResult(
        notebook=nb, status=execution_status(record), cell_failures=record.failures,
        results_dir=harvested.results_dir, wall_s=time.monotonic() - t0,
        peak_rss_mb=session.peak_bytes / 2**20, limit_hit=record.limit_hit,
        harvest_error=harvested.error, skipped_cells=record.skipped, sandboxed=box.sandboxed,
        cell_seconds=record.seconds,
        kernel_exit_code=session.exit_code)


def _run_sync(coro):
    """asyncio.run, also from a thread that already runs an event loop (e.g. a notebook's)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target():
        try:
            box["r"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            box["e"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["r"]


def execute_notebook(
    nb: nbformat.NotebookNode,
    workdir: Path,
    limits: Limits = Limits(),
    harvest: HarvestRequest | None = None,
    unsandboxed_ok: bool = False,
    *,
    ro_binds: Sequence[Path | tuple[Path, Path]] = (),
    python_packages: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    keep_scratch: bool = False,
    warm: WarmKernels | None = None,
    preload: tuple[str, ...] = (),
) -> ExecutionResult:
    """Execute nb in a sandboxed kernel and harvest what `harvest` asks for.

    ro_binds: extra read-only binds (path, or (host_path, sandbox_path)), e.g.
    the student data cache. python_packages: package dirs (e.g. repo/data)
    mounted read-only under PYLIB_DIR, which is put on PYTHONPATH.
    env: extra environment variables for the kernel (e.g. COURSE_DATA_CACHE).
    warm: fork the kernel from a warm sandbox with the same settings (one is started, with the
    `preload` modules imported, where there is none).
    Raises SandboxUnavailable if bubblewrap is missing and not unsandboxed_ok.
    """
    workdir = Path(workdir).resolve()
    box = _sandbox(ro_binds, python_packages, unsandboxed_ok)
    if warm is None or keep_scratch:  # a kept scratch dir must be where the caller asked
        return _run_sync(_execute(nb, workdir, limits, harvest, box, env or {}, keep_scratch))
    settings = SandboxSettings.of(limits, box, env or {})

    async def in_warm_kernel():
        started = await warm.take(settings, limits, tuple(preload), chooses_keras_backend(nb))
        return await _execute(nb, workdir, limits, harvest, box, env or {}, keep_scratch, started)

    return warm.run(in_warm_kernel())
