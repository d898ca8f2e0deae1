"""The harvest step: after the cells, have the kernel export what the request asks for, then copy
the results out once the kernel is dead.

Contract: `run_harvest(request, session, run_step, limits, workdir)` returns a HarvestOutcome.
The scratch dir belongs to the student, and a process left running there can rename anything in
it or swap it for a symlink to a host path, which we (possibly root) would follow. So:
- the request is written into the session's connection dir (ours, read-only in the sandbox);
- the results dir is created in scratch and from then on used only through a descriptor opened
  with O_NOFOLLOW (if it is already not a plain dir, the harvest fails);
- the session is killed before anything is read, and results are copied (collect_results: only
  protocol files, size-capped) into a fresh dir under workdir. They are kept after a failure
  only when the kernel got as far as writing results.json.
"""
from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ..kernel_side import harvest as kernel_harvest
from ..protocol.harvest_request import HarvestRequest
from ..protocol.harvest_results import RESULTS_JSON, collect_results
from .bwrap import SANDBOX_GID, SANDBOX_UID
from .cells import MAX_MESSAGE
from .outputs import clip
from .session import KernelSession
from .step import RunStep, StepResult

HARVEST_OUTPUT_BYTES = 64_000  # the harvest prints nothing of use; bounded like any cell
NOT_RUNNING = "the notebook's kernel was not running, so nothing could be collected"


@dataclass
class HarvestOutcome:
    results_dir: Path | None = None   # trusted copy of the results, when there are any
    error: str | None = None          # student-facing
    kernel_died: bool = False


def has_results_json(dir_fd: int) -> bool:
    try:
        return stat.S_ISREG(os.stat(RESULTS_JSON, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def write_request(request: HarvestRequest, conn_dir: Path, token: str) -> Path:
    """The request, readable by the sandbox user, in a dir it cannot write."""
    hdir = conn_dir / f"request-{token}"
    hdir.mkdir()
    os.chmod(hdir, 0o755)  # explicit: mkdir's mode is masked by the grader's umask
    request.write(hdir)
    for f in hdir.iterdir():
        os.chmod(f, 0o644)
    return hdir


def open_results_dir(scratch: Path, token: str, sandboxed: bool, uid: int = SANDBOX_UID) -> tuple[Path, int | None]:
    """Make the results dir in scratch; (its path, a no-follow descriptor on it, or None if the
    path was swapped before it could be opened)."""
    res = scratch / f"results-{token}"
    res.mkdir(mode=0o700)
    try:
        fd = os.open(res, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return res, None
    if os.geteuid() == 0 and sandboxed:
        try:
            os.fchown(fd, uid, SANDBOX_GID)
        except BaseException:
            os.close(fd)
            raise
    return res, fd


def harvest_failure(st: StepResult) -> tuple[str | None, bool]:
    """(harvest error, whether the kernel died) for the harvest's step result."""
    if st.died:
        return "the kernel died while collecting results", True
    if st.timed_out:
        return "collecting results timed out", False
    if st.error is not None:
        return clip("collecting results failed: " + ": ".join(st.error), MAX_MESSAGE), False
    return None, False


async def run_harvest(request: HarvestRequest, session: KernelSession, run_step: RunStep,
                      limits, workdir: Path) -> HarvestOutcome:
    if not session.alive():
        return HarvestOutcome(error=NOT_RUNNING)
    token = secrets.token_hex(16)
    hdir = write_request(request, session.conn_dir, token)
    res, res_fd = open_results_dir(session.scratch, token, session.sandboxed, session.limits.sandbox_uid)
    if res_fd is None:
        return HarvestOutcome(error="the results directory was tampered with")
    try:
        st = await run_step(kernel_harvest.kernel_code(hdir, res), limits.harvest_timeout_s, [],
                            HARVEST_OUTPUT_BYTES, store_history=False)
        out = HarvestOutcome()
        out.error, out.kernel_died = harvest_failure(st)
        await session.kill()  # nothing sandboxed may run while we copy results out
        if out.error is None or has_results_json(res_fd):
            try:
                out.results_dir = collect_results(res_fd, workdir / f"results-{secrets.token_hex(8)}")
            except OSError as e:
                out.error = out.error or f"results could not be read: {type(e).__name__}"
        return out
    finally:
        os.close(res_fd)
