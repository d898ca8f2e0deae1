"""Warm kernels: the next notebook's sandboxed kernel starts while the current notebook runs.

A grading batch runs the same question for student after student, so the next sandbox will most
likely have the same settings as the current one. As a notebook starts running, a kernel for the
next one is started in a sandbox of its own (a fresh bubblewrap, scratch dir and process tree:
nothing of one student reaches the next) and imports the slow modules the current notebook imports;
it then waits, running no student code, until the next notebook with those settings takes it. A notebook
with other settings (another question, another worker's uid) gets a fresh kernel as before, and the
waiting one is killed.

Modules are imported, never run: the frameworks' thread pools and CUDA start when the student's code
first uses them, inside this kernel. Keras is not imported ahead, since it fixes its backend from
KERAS_BACKEND when imported and a student may set that first.

All kernels of one WarmKernels live on its own event loop, in a thread that outlives each notebook.
"""
from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from .outputs import OutputCapper
from .session import KernelSession
from .step import StepRunner

# Imported ahead when the released notebook imports them: slow to import, no settings read at import.
PRELOADABLE = ("numpy", "tensorflow", "torch", "cv2", "matplotlib", "sklearn", "scipy", "pandas")
PRELOAD_OUTPUT_BYTES = 64_000
MAX_SCANNED = 100_000   # characters of a cell read for imports
ANSWER_WAIT_S = 10.0    # a live, idle kernel answers a kernel_info request in milliseconds
# A worker's kernels alternate between its uid and this far below it (RLIMIT_NPROC is per uid).
WARM_UID_OFFSET = 512


_IMPORT = re.compile(r"^[ \t]*(?:import|from)[ \t]+(" + "|".join(PRELOADABLE + ("keras",)) + r")\b",
                     re.MULTILINE)


def imported_modules(notebook) -> tuple[str, ...]:
    """The PRELOADABLE packages that the notebook's code cells import (a hint, read with a pattern:
    the notebook may be a student's, and nothing of it is run or parsed here). Importing Keras means
    importing TensorFlow, its default backend and most of its import time, unless the notebook
    chooses another backend."""
    sources = [str(cell.get("source", ""))[:MAX_SCANNED] for cell in notebook.cells if cell.get("cell_type") == "code"]
    found = {m for source in sources for m in _IMPORT.findall(source)}
    if "keras" in found and not any("KERAS_BACKEND" in source for source in sources):
        found.add("tensorflow")
    return tuple(m for m in PRELOADABLE if m in found)


def preload_code(modules: tuple[str, ...]) -> str:
    """Code that puts the modules in sys.modules and binds no name in the student's namespace (a
    notebook that forgot an import must fail here as it would at home). Each import on its own: a
    missing package is the student's to meet in their own cell."""
    return "\n".join(f"try:\n    __import__({m!r})\nexcept Exception:\n    pass" for m in modules)


# Limits that apply only while cells run; every other field of Limits is part of a sandbox's settings
# (so a field added later keeps kernels apart until it is listed here).
RUN_TIME_LIMITS = ("cell_timeout_s", "notebook_timeout_s", "harvest_timeout_s", "interrupt_grace_s",
                   "max_output_bytes", "max_cell_output_bytes", "max_traceback_bytes", "cell_timeouts",
                   "hook_timeout_s")


@dataclass(frozen=True)
class SandboxSettings:
    """Everything a kernel's sandbox is started with; two notebooks with equal settings can use
    each other's kernel."""
    sandboxed: bool
    binds: tuple
    pythonpath: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    start_limits: object   # the Limits, run-time fields blanked

    @classmethod
    def of(cls, limits, box, env: Mapping[str, str]) -> "SandboxSettings":
        start = replace(limits, **dict.fromkeys(RUN_TIME_LIMITS, None))
        return cls(box.sandboxed, tuple(box.binds), tuple(box.pythonpath), tuple(sorted(env.items())), start)


class WarmKernels:
    def __init__(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="warm-kernels", daemon=True)
        self._thread.start()
        self._waiting: tuple[SandboxSettings, asyncio.Task] | None = None
        self.hits = self.misses = 0

    def run(self, coroutine):
        """Run a coroutine on this object's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def take(self, settings: SandboxSettings) -> KernelSession | None:
        """The waiting kernel if it was started with `settings` and came up, else None."""
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            self.misses += 1
            return None
        their_settings, task = waiting
        if their_settings != settings:
            self.misses += 1
            await _discard(task)
            return None
        try:
            session = await task
        except Exception:  # it did not come up: the caller starts one the usual way
            session = None
        if session is None or not await _answers(session):
            self.misses += 1
            if session is not None:
                await _close(session)
            return None
        self.hits += 1
        return session

    def start_next(self, settings: SandboxSettings, limits, preload: tuple[str, ...], running_uid: int) -> None:
        """Start a kernel for the next notebook with these settings, `preload` imported (called on
        this loop). It runs under the other uid of the pair than the notebook running now, so that
        while it waits it takes nothing of that notebook's process limit."""
        home = limits.sandbox_uid
        uid = home - WARM_UID_OFFSET if running_uid == home else home
        self._waiting = (settings, asyncio.ensure_future(_start(settings, replace(limits, sandbox_uid=uid), preload)))

    def close(self) -> None:
        """Kill the waiting kernel and stop the loop (idempotent)."""
        if not self._thread.is_alive():
            return

        async def discard_waiting():
            waiting, self._waiting = self._waiting, None
            if waiting is not None:
                await _discard(waiting[1])

        self.run(discard_waiting())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _start(settings: SandboxSettings, limits, preload: tuple[str, ...]) -> KernelSession:
    workdir = Path(tempfile.mkdtemp(prefix="warm-kernel-"))
    session = KernelSession(workdir, limits, sandboxed=settings.sandboxed, ro_binds=list(settings.binds),
                            env=dict(settings.env), pythonpath=list(settings.pythonpath))
    try:
        await session.start()
        if preload:
            capper = OutputCapper(PRELOAD_OUTPUT_BYTES, PRELOAD_OUTPUT_BYTES)
            await StepRunner(session, capper).run(preload_code(preload), limits.startup_timeout_s,
                                                  [], PRELOAD_OUTPUT_BYTES, store_history=False)
    except BaseException:
        await _close(session)
        raise
    return session


async def _answers(session: KernelSession) -> bool:
    """Whether the kernel still answers (it may have died while it waited: killed, out of memory)."""
    if not session.alive():
        return False
    try:
        await session.kc.wait_for_ready(timeout=ANSWER_WAIT_S)
    except (RuntimeError, TimeoutError):
        return False
    return session.alive()


async def _close(session: KernelSession) -> None:
    await session.kill()
    session.cleanup()
    shutil.rmtree(session.workdir, ignore_errors=True)


async def _discard(task: asyncio.Task) -> None:
    if not task.done():
        task.cancel()
    try:
        session = await task
    except BaseException:  # cancelled or failed: _start cleaned up after itself
        return
    await _close(session)
