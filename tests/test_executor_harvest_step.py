"""The harvest step with a stand-in kernel: where the request goes, how results come back."""
import asyncio
import os
import stat

import pytest

from autograder.executor import HarvestRequest, Limits
from autograder.executor.harvest_step import (
    HARVEST_OUTPUT_BYTES, NOT_RUNNING, has_results_json, run_harvest,
)
from autograder.executor.step import StepResult

LIM = Limits(harvest_timeout_s=7)


class FakeSession:
    def __init__(self, tmp_path, alive=True):
        self.conn_dir = tmp_path / "conn"
        self.scratch = tmp_path / "scratch"
        self.conn_dir.mkdir()
        self.scratch.mkdir()
        self.sandboxed = False
        self.limits = Limits()
        self.workdir = tmp_path / "work"
        self._alive = alive
        self.events = []

    def alive(self):
        return self._alive

    async def kill(self):
        self.events.append("kill")
        self.copied_before_kill = list(self.workdir.glob("results-*"))
        self._alive = False


class Kernel:
    """run_step stand-in: `act(results_dir)` plays the student's kernel, then `result` is returned."""

    def __init__(self, session, act=lambda res: None, result=None):
        self.session, self.act, self.result = session, act, result or StepResult(reply={}, idle=True)
        self.calls = []

    async def __call__(self, code, timeout, outputs, cap, store_history=True):
        (res,) = self.session.scratch.glob("results-*")
        (req,) = self.session.conn_dir.glob("request-*")
        self.calls.append(dict(code=code, timeout=timeout, cap=cap, store_history=store_history,
                               res=res, req=req))
        self.session.events.append("step")
        self.act(res)
        return self.result


def harvest(tmp_path, session, kernel):
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return asyncio.run(run_harvest(HarvestRequest().value("v", "x"), session, kernel, LIM, workdir))


def write_results(res, text='{"ok": true}'):
    (res / "results.json").write_text(text)
    (res / "call-a.npy").write_bytes(b"npy")
    (res / "notes.txt").write_text("not a protocol file")


def test_request_in_our_dir_results_copied_after_the_kill(tmp_path):
    s = FakeSession(tmp_path)
    k = Kernel(s, write_results)
    old = os.umask(0o077)  # modes are set, not left to the grader's umask
    try:
        out = harvest(tmp_path, s, k)
    finally:
        os.umask(old)
    (call,) = k.calls
    assert call["timeout"] == 7 and call["cap"] == HARVEST_OUTPUT_BYTES and not call["store_history"]
    assert str(call["req"]) in call["code"] and str(call["res"]) in call["code"]
    assert stat.S_IMODE(call["req"].stat().st_mode) == 0o755
    files = list(call["req"].iterdir())
    assert "request.json" in [p.name for p in files]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files)
    assert stat.S_IMODE(call["res"].stat().st_mode) == 0o700
    assert s.events == ["step", "kill"] and s.copied_before_kill == []
    assert out.error is None and not out.kernel_died
    assert out.results_dir.parent == tmp_path / "work"
    assert sorted(p.name for p in out.results_dir.iterdir()) == ["call-a.npy", "results.json"]


def test_a_results_dir_swapped_for_a_link_is_not_followed(tmp_path):
    secret = tmp_path / "host-secret"
    secret.mkdir()
    (secret / "results.json").write_text("secret")

    def swap(res):
        write_results(res, "student's")
        os.rename(res, res.parent / "moved")
        os.symlink(secret, res)

    s = FakeSession(tmp_path)
    out = harvest(tmp_path, s, Kernel(s, swap))
    assert (out.results_dir / "results.json").read_text() == "student's"


def test_no_harvest_without_a_running_kernel(tmp_path):
    s = FakeSession(tmp_path, alive=False)
    k = Kernel(s)
    out = harvest(tmp_path, s, k)
    assert out.error == NOT_RUNNING and out.results_dir is None and k.calls == []
    assert list(s.conn_dir.iterdir()) == [] and list(s.scratch.iterdir()) == []


@pytest.mark.parametrize("result, error, died", [
    (StepResult(died=True), "the kernel died while collecting results", True),
    (StepResult(timed_out=True), "collecting results timed out", False),
    (StepResult(error=("NameError", "x" * 3000)), "collecting results failed: NameError: xxx", False),
])
@pytest.mark.parametrize("wrote_json", [True, False])
def test_a_failed_harvest_keeps_results_only_when_results_json_was_written(tmp_path, result, error, died,
                                                                          wrote_json):
    s = FakeSession(tmp_path)
    out = harvest(tmp_path, s, Kernel(s, write_results if wrote_json else lambda res: None, result))
    assert out.error.startswith(error) and len(out.error) <= 1000 + len("…[truncated]")
    assert out.kernel_died is died and s.events == ["step", "kill"]
    assert (out.results_dir is not None) is wrote_json


def test_results_json_must_be_a_regular_file(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert not has_results_json(fd)
        os.symlink(tmp_path / "elsewhere.json", d / "results.json")
        (tmp_path / "elsewhere.json").write_text("{}")
        assert not has_results_json(fd)
        os.unlink(d / "results.json")
        (d / "results.json").write_text("{}")
        assert has_results_json(fd)
    finally:
        os.close(fd)


def test_results_that_cannot_be_copied_are_an_error_not_a_crash(tmp_path, monkeypatch):
    import autograder.executor.harvest_step as hs
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    real = hs.collect_results
    monkeypatch.setattr(hs, "collect_results", lambda fd, dest: real(fd, blocker / "x"))
    s = FakeSession(tmp_path)
    out = harvest(tmp_path, s, Kernel(s, write_results))
    assert out.error == "results could not be read: NotADirectoryError" and out.results_dir is None
