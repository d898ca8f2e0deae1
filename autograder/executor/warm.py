"""Warm kernels: a grading process forks each notebook's kernel from a sandbox that has imported
the frameworks already (zygote.py), instead of paying their import in every notebook.

A grading batch runs the same question for student after student, so one warm sandbox per grading
process serves them all: it is started with the first notebook's sandbox settings and imports, and
between notebooks it is emptied of everything the last one left (zygote.py says how, and when it
is killed instead). As soon as it is clean, the next kernel is forked, so that it is up by the time
the next notebook comes, while this one's checks run. A notebook with other settings (another
question, another worker's uid) replaces the sandbox; one that chooses its Keras backend never
runs where TensorFlow, and so Keras, was imported ahead.

Modules are imported, never run: the frameworks' thread pools and CUDA start when the student's code
first uses them, in the forked kernel. Only run as root, the grader can empty the sandbox's private
/tmp and IPC namespace; other users get a fresh sandbox per notebook.

All kernels of one WarmKernels live on its own event loop, in a thread that outlives each notebook.
"""
from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Mapping

from .session import KernelSession, KernelStartError
from .zygote import ForkedKernelSession, Zygote

# Imported ahead when the released notebook imports them: slow to import, no settings read at import.
PRELOADABLE = ("numpy", "tensorflow", "torch", "cv2", "matplotlib", "sklearn", "scipy", "pandas")
MAX_SCANNED = 100_000   # characters of a cell read for imports
ANSWER_WAIT_S = 10.0    # a live, idle kernel answers a kernel_info request in milliseconds


_IMPORT = re.compile(r"^[ \t]*(?:import|from)[ \t]+(" + "|".join(PRELOADABLE + ("keras",)) + r")\b",
                     re.MULTILINE)


def imported_modules(notebook) -> tuple[str, ...]:
    """The PRELOADABLE packages that the notebook's code cells import (a hint, read with a pattern:
    the notebook may be a student's, and nothing of it is run or parsed here). Importing Keras means
    importing TensorFlow, its default backend and most of its import time, unless the notebook
    chooses another backend."""
    sources = [str(cell.get("source", ""))[:MAX_SCANNED] for cell in notebook.cells if cell.get("cell_type") == "code"]
    found = {m for source in sources for m in _IMPORT.findall(source)}
    if "keras" in found and not chooses_keras_backend(notebook):
        found.add("tensorflow")
    return tuple(m for m in PRELOADABLE if m in found)


def chooses_keras_backend(notebook) -> bool:
    """Whether the notebook may set KERAS_BACKEND: then Keras, which TensorFlow imports, must not be
    imported before its code runs."""
    return any("KERAS_BACKEND" in str(cell.get("source", ""))[:MAX_SCANNED]
               for cell in notebook.cells if cell.get("cell_type") == "code")


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
        self._zygote: Zygote | None = None
        self._settings: SandboxSettings | None = None
        self._ahead: asyncio.Task | None = None   # the next kernel, forked once the sandbox was clean
        self.hits = self.misses = 0

    def run(self, coroutine):
        """Run a coroutine on this object's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def take(self, settings: SandboxSettings, limits, preload: tuple[str, ...],
                   keras_backend_chosen: bool = False) -> KernelSession | None:
        """A kernel forked in a warm sandbox with these settings, started now if there is none;
        None where there can be none (unsandboxed, not root) or it did not come up: the caller
        starts a kernel the usual way. A hit is a kernel whose sandbox was warm already."""
        if not settings.sandboxed or os.geteuid() != 0:
            self.misses += 1
            return None
        zygote = self._zygote
        warm = (zygote is not None and self._settings == settings and zygote.server_alive()
                and not (keras_backend_chosen and "tensorflow" in zygote.preload))
        if not warm:
            await self._retire()
            zygote = Zygote(settings, limits, preload)
            try:
                await zygote.start()
            except (KernelStartError, OSError):
                self.misses += 1
                return None
            zygote.on_clean = lambda: self._fork_ahead(zygote, limits)
            self._zygote, self._settings = zygote, settings
        session = await self._forked_ahead()
        if session is None:
            try:
                session = await zygote.new_session(limits)
            except (KernelStartError, OSError):
                self.misses += 1
                return None
        if warm:
            self.hits += 1
        else:
            self.misses += 1
        return session

    def _fork_ahead(self, zygote: Zygote, limits) -> None:
        if zygote is self._zygote and zygote.usable:
            self._ahead = asyncio.ensure_future(zygote.new_session(limits))

    async def _forked_ahead(self) -> ForkedKernelSession | None:
        """The kernel forked ahead, if it came up and still answers."""
        task, self._ahead = self._ahead, None
        if task is None:
            return None
        try:
            session = await task
        except Exception:  # it did not come up: new_session retired the sandbox
            return None
        if await _answers(session):
            return session
        await _close(session)
        return None

    async def _retire(self) -> None:
        zygote, self._zygote, self._settings = self._zygote, None, None
        task, self._ahead = self._ahead, None
        if zygote is not None:
            zygote.retire()
        if task is not None:
            await _discard(task)
        if zygote is not None and zygote.gone is not None:
            await zygote.gone

    def close(self) -> None:
        """Kill the warm sandbox and stop the loop (idempotent)."""
        if not self._thread.is_alive():
            return
        self.run(self._retire())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _answers(session: KernelSession) -> bool:
    """Whether the kernel still answers (it may have died while it waited: killed, out of memory).
    One kernel_info round trip: wait_for_ready would also wait for iopub to fall quiet."""
    if not session.alive():
        return False
    request = session.kc.kernel_info()
    deadline = time.monotonic() + ANSWER_WAIT_S
    while session.alive() and time.monotonic() < deadline:
        try:
            reply = await session.kc.get_shell_msg(timeout=0.05)
        except Exception:  # queue.Empty, or a malformed message
            continue
        if reply.get("parent_header", {}).get("msg_id") == request:
            return True
    return False


async def _close(session: KernelSession) -> None:
    await session.kill()
    session.cleanup()


async def _discard(task: asyncio.Task) -> None:
    if not task.done():
        task.cancel()
    try:
        session = await task
    except BaseException:  # cancelled or failed: new_session cleaned up after itself
        return
    await _close(session)
