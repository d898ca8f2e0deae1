"""One sandboxed ipykernel: its directories, start, liveness, resource sampling, kill, cleanup.

Contract: `KernelSession(...)` creates nothing; `start()` makes a private connection dir (ours,
read-only inside the sandbox) and a scratch dir (the student's cwd and HOME, owned by the
sandbox uid), starts ipykernel under bubblewrap (or, unsandboxed, under prlimit only) and waits
until it answers, else kills it and raises KernelStartError. `sample()` measures the sandbox as a
whole and, past its memory or disk limit, reports the limit to `on_over` and SIGKILLs every
process in it. `kill()` is idempotent and leaves no process of the sandbox running.
`cleanup()` removes both dirs (the scratch dir stays with keep_scratch, unless it had to be
moved to a short path outside workdir).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..cores import thread_env
from .bwrap import SANDBOX_GID, SANDBOX_UID, Bind, build_command, unsandboxed_command
from .kernel import CappedKernelClient, SandboxedKernelManager
from .usage import UsageMonitor

MAX_IPC_PATH = 100  # unix socket paths are limited to 107 bytes


class KernelStartError(RuntimeError):
    """The kernel did not come up (an installation problem, not the student's)."""


def kernel_env(scratch: Path, pythonpath: Sequence[str], extra: Mapping[str, str],
               threads: int | None = None) -> dict[str, str]:
    """The kernel's whole environment (nothing is inherited from the grader's)."""
    venv_bin = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch), "TMPDIR": "/tmp", "USER": "student", "LOGNAME": "student",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
        "IPYTHONDIR": str(scratch / ".ipython"), "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    if pythonpath:
        env["PYTHONPATH"] = ":".join(pythonpath)
    env.update(thread_env(threads))
    env.update(extra)
    return env


def passwd_files(conn_dir: Path, uid: int = SANDBOX_UID) -> dict[str, Path]:
    """Synthetic /etc/passwd and /etc/group naming the sandbox uid (the host's are not shown)."""
    (conn_dir / "passwd").write_text(
        f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"student:x:{uid}:{SANDBOX_GID}:student:/nonexistent:/usr/sbin/nologin\n")
    (conn_dir / "group").write_text(f"root:x:0:\nstudent:x:{SANDBOX_GID}:\n")
    for n in ("passwd", "group"):
        os.chmod(conn_dir / n, 0o644)
    return {"passwd": conn_dir / "passwd", "group": conn_dir / "group"}


def make_session_dirs(workdir: Path, uid: int) -> tuple[Path, Path, bool]:
    """(connection dir, scratch dir, whether scratch had to move to a short path under /tmp): the
    connection dir is ours and read-only in the sandbox; scratch is the student's cwd and HOME,
    owned by the sandbox uid."""
    workdir.mkdir(parents=True, exist_ok=True)
    conn_dir = Path(tempfile.mkdtemp(prefix="conn-", dir=workdir))
    os.chmod(conn_dir, 0o755)
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=workdir))
    moved = False
    if len(str(scratch / "k-10")) > MAX_IPC_PATH:
        # ipc socket paths would be too long: use a short private dir instead.
        os.rmdir(scratch)
        scratch = Path(tempfile.mkdtemp(prefix="ag-"))
        moved = True
    os.chmod(scratch, 0o700)
    if os.geteuid() == 0:
        os.chown(scratch, uid, SANDBOX_GID)
    return conn_dir, scratch, moved


class KernelSession:
    def __init__(self, workdir: Path, limits, *, sandboxed: bool, ro_binds: Sequence[Bind] = (),
                 env: Mapping[str, str] = {}, pythonpath: Sequence[str] = (),
                 on_over: Callable[[str], None] = lambda limit: None):
        self.workdir = workdir
        self.limits = limits
        self.sandboxed = sandboxed
        self.ro_binds = list(ro_binds)
        self.extra_env = dict(env)
        self.pythonpath = list(pythonpath)
        self.on_over = on_over
        self.conn_dir: Path | None = None
        self.scratch: Path | None = None
        self.tmp_scratch = False   # scratch lives under /tmp, not workdir
        self.km: SandboxedKernelManager | None = None
        self.kc: CappedKernelClient | None = None
        self.usage: UsageMonitor | None = None
        self.log_path: Path | None = None  # the kernel's stdout/stderr
        self.log_start = 0         # where this kernel's part of the log begins
        self.dead = False          # died or killed
        self.exit_code: int | None = None

    # -- start ------------------------------------------------------------------------------------
    def _make_dirs(self) -> None:
        self.conn_dir, self.scratch, self.tmp_scratch = make_session_dirs(self.workdir, self.limits.sandbox_uid)

    async def start(self) -> None:
        self._make_dirs()
        conn_dir, scratch, limits = self.conn_dir, self.scratch, self.limits
        km = SandboxedKernelManager(transport="ipc", ip=str(scratch / "k"))
        km.connection_file = str(conn_dir / "kernel.json")
        km.client_factory = CappedKernelClient
        env = kernel_env(scratch, self.pythonpath, self.extra_env, limits.threads)
        if self.sandboxed:
            etc = passwd_files(conn_dir, limits.sandbox_uid)
            km.wrap = lambda argv: build_command(
                argv, scratch=scratch, limits=limits,
                ro_binds=self.ro_binds + [Bind(conn_dir, conn_dir)], env=env, etc_files=etc)
        else:
            km.wrap = lambda argv: unsandboxed_command(argv, limits)
        self.km = km
        self.usage = UsageMonitor(km.process_tree, scratch, limits.memory_mb, limits.max_disk_mb)
        self.log_path = conn_dir / "kernel.log"
        log = open(self.log_path, "wb")
        try:
            await km.start_kernel(cwd=str(scratch), env=env, stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL)
        finally:
            log.close()
        self.kc = km.client()
        self.kc.start_channels()
        try:
            await self.kc.wait_for_ready(timeout=limits.startup_timeout_s)
        except (RuntimeError, TimeoutError) as e:
            await self.kill()
            raise KernelStartError(f"kernel did not start: {e}; log: {self.log_tail(2000)}") from None

    # -- state ------------------------------------------------------------------------------------
    def alive(self) -> bool:
        """Whether the kernel runs; records its exit code once it has gone."""
        if self.dead:
            return False
        code = self.km.exit_code()
        if code is not None:
            self.exit_code = code
            return False
        return True

    def log_tail(self, n: int) -> str:
        """The last n bytes of what the kernel wrote to stdout/stderr."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(self.log_start, os.path.getsize(self.log_path) - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def over(self) -> str | None:
        """The sandbox limit it went over ("memory" or "disk"), if any."""
        return self.usage.over if self.usage is not None else None

    @property
    def peak_bytes(self) -> int:
        """Peak memory as the limit counts it (the whole sandbox)."""
        return self.usage.peak_bytes if self.usage is not None else 0

    @property
    def peak_process_bytes(self) -> int:
        """Peak resident size of its largest process."""
        return self.usage.peak_process_bytes if self.usage is not None else 0

    def sample(self, force: bool = False) -> None:
        """Measure usage (throttled unless forced); past a limit, kill everything in the sandbox."""
        if self.dead or self.usage is None:
            return
        hit = self.usage.sample(force)
        if hit:
            self.on_over(hit)
            self.km.kill_tree()

    # -- end --------------------------------------------------------------------------------------
    async def kill(self) -> None:
        """Stop the channels and SIGKILL the whole sandbox (safe to call again)."""
        self.dead = True
        if self.km is None:
            return
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
        self.km.kill_tree()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        if self.exit_code is None:
            self.exit_code = self.km.exit_code()

    def cleanup(self, keep_scratch: bool = False) -> None:
        dirs = [self.conn_dir]
        if not keep_scratch or self.tmp_scratch:
            dirs.append(self.scratch)
        for d in dirs:
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
