"""StepRunner against a scripted kernel: what an iopub disconnect means depends on the kernel living."""
import asyncio
import queue
from types import SimpleNamespace

import pytest

from autograder.executor.outputs import OutputCapper
from autograder.executor.step import StepRunner


class ScriptedClient:
    """A kernel client whose iopub is disconnected once, and which never replies."""

    def __init__(self):
        self.drops = 1
        self.reconnected = False

    def execute(self, code, **kw):
        return "m1"

    async def get_iopub_msg(self, timeout=0):
        raise queue.Empty

    async def get_shell_msg(self, timeout=0):
        await asyncio.sleep(timeout)
        raise queue.Empty

    def iopub_drops(self):
        n, self.drops = self.drops, 0
        return n

    def reconnect_iopub(self):
        self.reconnected = True


class ScriptedSession:
    """Alive for `lives` checks, then gone (None: alive until killed)."""

    def __init__(self, lives):
        self.kc = ScriptedClient()
        self.lives = lives
        self.killed = False
        self.limits = SimpleNamespace(interrupt_grace_s=0.1)
        self.km = SimpleNamespace(signal_kernel=lambda sig: True)

    def alive(self):
        if self.killed:
            return False
        if self.lives is None:
            return True
        self.lives -= 1
        return self.lives >= 0

    def sample(self, force=False):
        pass

    async def kill(self):
        self.killed = True


def _run(session):
    hits = []
    capper = OutputCapper(10_000, 1_000, on_limit=lambda: hits.append("output"))
    outputs = []
    result = asyncio.run(StepRunner(session, capper).run("x", 0.5, outputs, 1_000))
    return result, outputs, hits


@pytest.mark.parametrize("lives", [1, 3])
def test_a_kernel_dying_drops_iopub_but_no_output_limit_is_reported(lives):
    # A kernel killed by its own code closes its sockets before its exit is seen.
    session = ScriptedSession(lives)
    result, outputs, hits = _run(session)
    assert result.died and hits == [] and outputs == []
    assert not session.kc.reconnected


def test_a_disconnect_the_kernel_outlives_is_a_dropped_message():
    session = ScriptedSession(None)
    result, outputs, hits = _run(session)
    assert hits == ["output"] and session.kc.reconnected
    assert outputs[-1]["metadata"] == {"autograder_truncated": True}
    assert result.timed_out and not result.died
