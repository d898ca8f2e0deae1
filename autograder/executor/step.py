"""One execute request in a kernel session: send code, collect its outputs, stop it at its deadline.

Contract: `StepRunner(session, capper).run(code, timeout, outputs, cap)` returns a StepResult once
the kernel has replied and gone idle (or 2 s after the reply without idle), or the kernel has
died. At `timeout` the kernel gets SIGINT; if it is still busy `interrupt_grace_s` later, or
cannot be signalled, the session is killed. Only iopub messages of this request become outputs
(through the capper's per-request sink, capped at `cap` bytes). The sandbox's usage is sampled
while it runs and once more at the end. If zmq dropped an oversized message, the iopub socket is
replaced and, before the next request, resynchronised so no later output is lost; a kernel that
dies drops iopub too, so a drop counts only if the kernel outlives it.
"""
from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from typing import Protocol

from .outputs import CellOutputs, OutputCapper
from .session import KernelSession

IDLE_WAIT_S = 2.0     # after the reply, how long to wait for the idle status (and late output)
POLL_S = 0.05         # socket wait per round while nothing arrives
DRAIN_MAX = 200       # iopub messages read per round before the clock is checked again
RESYNC_S = 5.0
DEATH_WAIT_S = 2.0    # a kernel that dies also drops iopub; its exit is seen within this


@dataclass
class StepResult:
    reply: dict | None = None               # content of the execute_reply
    error: tuple[str, str] | None = None    # (ename, evalue) from an iopub error message
    idle: bool = False
    timed_out: bool = False
    died: bool = False                      # the kernel ended on its own (or by a usage limit)


class RunStep(Protocol):
    """StepRunner.run, or a stand-in for it."""
    async def __call__(self, code: str, timeout: float, outputs: list, cap: int,
                       store_history: bool = True) -> StepResult: ...


class StepRunner:
    def __init__(self, session: KernelSession, capper: OutputCapper):
        self.session = session
        self.capper = capper
        self._iopub_dirty = False  # iopub was reconnected and may not be subscribed yet

    async def run(self, code: str, timeout: float, outputs: list, cap: int,
                  store_history: bool = True) -> StepResult:
        s, kc = self.session, self.session.kc
        sink = self.capper.cell(outputs, cap)
        st = StepResult()
        if self._iopub_dirty:
            await self._resync_iopub()
        msg_id = kc.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        reply_at = interrupted_at = None
        while True:
            now = time.monotonic()
            if st.reply is not None and (sink.idle or now - reply_at > IDLE_WAIT_S):
                break
            if not s.alive():
                st.died = True
                break
            if interrupted_at is None and now >= deadline:
                st.timed_out = True
                interrupted_at = now
                if not s.km.signal_kernel(signal.SIGINT):
                    await s.kill()
                    break
            if interrupted_at is not None and now - interrupted_at > s.limits.interrupt_grace_s:
                await s.kill()
                break
            s.sample()
            got = await self._drain_iopub(msg_id, sink)
            if kc.iopub_drops() and await self._outlives(DEATH_WAIT_S):
                sink.note_dropped()
                kc.reconnect_iopub()
                self._iopub_dirty = True
            if st.reply is None:
                try:
                    r = await kc.get_shell_msg(timeout=0 if got else POLL_S)
                except Exception:
                    r = None
                if r is not None and r.get("parent_header", {}).get("msg_id") == msg_id:
                    st.reply = r.get("content") or {}
                    reply_at = time.monotonic()
        s.sample(force=True)
        st.idle, st.error = sink.idle, sink.error
        return st

    async def _outlives(self, seconds: float) -> bool:
        """Whether the kernel is still running `seconds` from now (checked as it goes)."""
        end = time.monotonic() + seconds
        while self.session.alive():
            if time.monotonic() >= end:
                return True
            await asyncio.sleep(0.02)
        return False

    async def _drain_iopub(self, msg_id: str, sink: CellOutputs) -> bool:
        """Handle what iopub has for this request (bounded, to come back to the clock); any read?"""
        got = False
        for _ in range(DRAIN_MAX):
            try:
                msg = await self.session.kc.get_iopub_msg(timeout=POLL_S if not got else 0)
            except Exception:  # queue.Empty / TimeoutError / malformed message
                break
            got = True
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                try:
                    sink.handle(msg)
                except Exception:
                    pass  # a malformed message is dropped, not fatal to the grader
        return got

    async def _resync_iopub(self) -> None:
        """After zmq dropped the iopub connection, wait until it is back (as
        jupyter_client's wait_for_ready does) so the next cell's output is not lost."""
        s, kc = self.session, self.session.kc
        end = time.monotonic() + RESYNC_S
        while time.monotonic() < end and s.alive():
            mid = kc.kernel_info()
            t = time.monotonic() + 0.5
            while time.monotonic() < t:
                try:
                    msg = await kc.get_iopub_msg(timeout=0.1)
                except Exception:
                    continue
                if msg.get("parent_header", {}).get("msg_id") == mid:
                    self._iopub_dirty = False
                    await self._drain_shell()
                    return

    async def _drain_shell(self) -> None:
        """Discard the kernel_info replies the resync left on the shell channel."""
        while True:
            try:
                await self.session.kc.get_shell_msg(timeout=0.2)
            except Exception:
                return
