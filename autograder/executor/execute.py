"""Run a notebook cell by cell in a sandboxed kernel, then harvest results.

The executor is trusted and lives outside the sandbox; everything that comes
back from the kernel (outputs, tracebacks, results) is untrusted data and is
size-capped before it is stored.
"""
from __future__ import annotations

import asyncio
import copy
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import nbformat

from ..kernel_side import harvest as harvest_mod
from .bwrap import (
    PYLIB_DIR, SANDBOX_GID, SANDBOX_UID, Bind, SandboxUnavailable, build_command,
    check_bind_source, sandbox_available, unsandboxed_command,
)
from ..protocol.harvest_request import HarvestRequest
from .kernel import CappedKernelClient, SandboxedKernelManager
from ..protocol.harvest_results import RESULTS_JSON, HarvestResults, collect_results, read_results
from .usage import UsageMonitor

MAX_IPC_PATH = 100  # unix socket paths are limited to 107 bytes


@dataclass(frozen=True)
class Limits:
    cell_timeout_s: float = 120.0
    notebook_timeout_s: float = 900.0      # wall budget for all cells together
    harvest_timeout_s: float = 120.0       # model export can be slow
    startup_timeout_s: float = 60.0
    interrupt_grace_s: float = 5.0         # after SIGINT, wait this long before killing
    memory_mb: int = 4096                  # RLIMIT_DATA per process
    address_space_mb: int | None = None    # optional RLIMIT_AS (off: breaks big imports)
    max_processes: int = 256               # RLIMIT_NPROC for uid 65534 (threads count)
    max_file_mb: int = 256                 # RLIMIT_FSIZE
    max_open_files: int = 1024             # RLIMIT_NOFILE
    tmp_mb: int = 256                      # size of the private /tmp tmpfs
    max_disk_mb: int = 2048                # all files in the scratch dir (host disk) together
    max_output_bytes: int = 10_000_000     # captured outputs per notebook (figures are large)
    max_cell_output_bytes: int = 2_000_000  # captured outputs per cell
    max_traceback_bytes: int = 8_000
    gpu: bool = True                       # expose NVIDIA devices when the machine has them


@dataclass
class CellFailure:
    index: int                      # index in nb.cells
    grade_id: str | None            # nbgrader grade_id when present
    kind: Literal["error", "timeout", "kernel_died"]
    message: str


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    status: Literal["ok", "timeout", "crashed", "error"]
    cell_failures: list[CellFailure] = field(default_factory=list)
    results_dir: Path | None = None
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    limit_hit: Literal["wall time", "memory", "processes", "output", "disk"] | None = None
    harvest_error: str | None = None
    skipped_cells: list[int] = field(default_factory=list)
    sandboxed: bool = True
    kernel_exit_code: int | None = None

    def harvest_results(self) -> HarvestResults:
        return read_results(self.results_dir, self.harvest_error)


class KernelStartError(RuntimeError):
    """The kernel did not come up (an installation problem, not the student's)."""


def _grade_id(cell) -> str | None:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid if isinstance(gid, str) else None


def _clip(s: Any, n: int) -> str:
    s = s if isinstance(s, str) else str(s)
    return s if len(s) <= n else s[:n] + "…[truncated]"


def _has_results_json(dir_fd: int) -> bool:
    try:
        return stat.S_ISREG(os.stat(RESULTS_JSON, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _passwd_files(conn_dir: Path) -> dict[str, Path]:
    home = "/nonexistent"
    (conn_dir / "passwd").write_text(
        f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"student:x:{SANDBOX_UID}:{SANDBOX_GID}:student:{home}:/usr/sbin/nologin\n")
    (conn_dir / "group").write_text(f"root:x:0:\nstudent:x:{SANDBOX_GID}:\n")
    for n in ("passwd", "group"):
        os.chmod(conn_dir / n, 0o644)
    return {"passwd": conn_dir / "passwd", "group": conn_dir / "group"}


class _Run:
    """State of one notebook execution."""

    def __init__(self, nb, workdir: Path, limits: Limits, harvest: HarvestRequest | None,
                 sandboxed: bool, ro_binds: Sequence[Bind], env: Mapping[str, str],
                 pythonpath: Sequence[str], keep_scratch: bool):
        self.nb = copy.deepcopy(nb)
        self.workdir = workdir
        self.limits = limits
        self.harvest = harvest
        self.sandboxed = sandboxed
        self.ro_binds = list(ro_binds)
        self.extra_env = dict(env)
        self.pythonpath = list(pythonpath)
        self.keep_scratch = keep_scratch
        self.failures: list[CellFailure] = []
        self.skipped: list[int] = []
        self.limit_hit: str | None = None
        self.out_total = 0
        self.dead = False          # kernel gone (died or killed)
        self.crashed = False       # died on its own (not killed by us)
        self.timed_out = False
        self.errored = False
        self.harvest_error: str | None = None
        self.results_dir: Path | None = None
        self.exit_code: int | None = None
        self._iopub_dirty = False
        self.usage: UsageMonitor | None = None

    # -- setup ----------------------------------------------------------------
    def _dirs(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conn_dir = Path(tempfile.mkdtemp(prefix="conn-", dir=self.workdir))
        os.chmod(self.conn_dir, 0o755)
        self.scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=self.workdir))
        self.tmp_scratch = False
        if len(str(self.scratch / "k-10")) > MAX_IPC_PATH:
            # ipc socket paths would be too long: use a short private dir instead.
            os.rmdir(self.scratch)
            self.scratch = Path(tempfile.mkdtemp(prefix="ag-"))
            self.tmp_scratch = True
        os.chmod(self.scratch, 0o700)
        if os.geteuid() == 0:
            os.chown(self.scratch, SANDBOX_UID, SANDBOX_GID)

    def _env(self) -> dict[str, str]:
        venv_bin = os.path.dirname(sys.executable)
        env = {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.scratch), "TMPDIR": "/tmp", "USER": "student", "LOGNAME": "student",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
            "IPYTHONDIR": str(self.scratch / ".ipython"), "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        if self.pythonpath:
            env["PYTHONPATH"] = ":".join(self.pythonpath)
        env.update(self.extra_env)
        return env

    async def _start(self) -> None:
        self._dirs()
        km = SandboxedKernelManager(transport="ipc", ip=str(self.scratch / "k"))
        km.connection_file = str(self.conn_dir / "kernel.json")
        km.client_factory = CappedKernelClient
        env = self._env()
        if self.sandboxed:
            etc = _passwd_files(self.conn_dir)
            km.wrap = lambda argv: build_command(
                argv, scratch=self.scratch, limits=self.limits,
                ro_binds=self.ro_binds + [Bind(self.conn_dir, self.conn_dir)],
                env=env, etc_files=etc)
        else:
            km.wrap = lambda argv: unsandboxed_command(argv, self.limits)
        self.km = km
        self.usage = UsageMonitor(km.process_tree, self.scratch, self.limits.memory_mb, self.limits.max_disk_mb)
        self.log_path = self.conn_dir / "kernel.log"
        log = open(self.log_path, "wb")
        try:
            await km.start_kernel(cwd=str(self.scratch), env=env, stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL)
        finally:
            log.close()
        kc = km.client()
        kc.start_channels()
        self.kc = kc
        try:
            await kc.wait_for_ready(timeout=self.limits.startup_timeout_s)
        except (RuntimeError, TimeoutError) as e:
            await self._kill()
            raise KernelStartError(f"kernel did not start: {e}; log: {self._log_tail(2000)}") from None

    def _log_tail(self, n: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- monitoring -------------------------------------------------------------
    def _sample(self, force: bool = False) -> None:
        if self.dead or self.usage is None:
            return
        hit = self.usage.sample(force)
        if hit:
            self.limit_hit = hit
            self.km.kill_tree()

    @property
    def over_memory(self) -> bool:
        """The sandbox's processes together went over memory_mb."""
        return self.usage is not None and self.usage.over == "memory"

    @property
    def over_disk(self) -> bool:
        """The scratch dir went over max_disk_mb."""
        return self.usage is not None and self.usage.over == "disk"

    @property
    def peak_bytes(self) -> int:
        return self.usage.peak_bytes if self.usage else 0

    def _alive(self) -> bool:
        if self.dead:
            return False
        code = self.km.exit_code()
        if code is not None:
            self.exit_code = code
            return False
        return True

    async def _kill(self) -> None:
        self.dead = True
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

    # -- one execution request -----------------------------------------------------
    def _add_output(self, outputs: list, out: dict, size: int, cell_bytes: list[int], cap_cell: int) -> None:
        lim = self.limits
        room = min(cap_cell - cell_bytes[0], lim.max_output_bytes - self.out_total)
        if size > room:
            if out.get("output_type") == "stream" and room > 0:
                out = dict(out, text=out["text"][:room])
                size = room
            else:
                size = -1
            if not any(o.get("metadata", {}).get("autograder_truncated") for o in outputs):
                self.limit_hit = self.limit_hit or "output"
                if size > 0:
                    self.out_total += size
                    self._append(outputs, out)
                outputs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text="\n[autograder: output limit reached; further output was dropped]\n"))
                outputs[-1]["metadata"] = {"autograder_truncated": True}
            cell_bytes[0] = cap_cell
            return
        cell_bytes[0] += size
        self.out_total += size
        self._append(outputs, out)

    def _note_dropped(self, outputs: list) -> None:
        """An oversized output message was discarded by zmq."""
        self.limit_hit = self.limit_hit or "output"
        if not any(o.get("metadata", {}).get("autograder_truncated") for o in outputs):
            outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text="\n[autograder: output limit reached; further output was dropped]\n"))
            outputs[-1]["metadata"] = {"autograder_truncated": True}

    @staticmethod
    def _append(outputs: list, out: dict) -> None:
        if (out["output_type"] == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                and outputs[-1].get("name") == out["name"] and "metadata" not in outputs[-1]):
            outputs[-1]["text"] += out["text"]
        else:
            outputs.append(nbformat.v4.new_output(**out))

    def _handle_iopub(self, msg: dict, outputs: list, cell_bytes: list[int], cap_cell: int, st: dict) -> None:
        mtype = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        c = msg.get("content") or {}
        if mtype == "status":
            if c.get("execution_state") == "idle":
                st["idle"] = True
        elif mtype == "stream":
            name = c.get("name") if c.get("name") in ("stdout", "stderr") else "stdout"
            text = c.get("text")
            if isinstance(text, str):
                self._add_output(outputs, {"output_type": "stream", "name": name, "text": text},
                                 len(text), cell_bytes, cap_cell)
        elif mtype in ("display_data", "execute_result", "update_display_data"):
            data = c.get("data")
            if not isinstance(data, dict):
                return
            data = {str(k)[:200]: v for k, v in data.items() if isinstance(v, (str, dict, list))}
            size = sum(len(str(k)) + len(v if isinstance(v, str) else str(v)) for k, v in data.items())
            if mtype == "execute_result":
                count = c.get("execution_count")
                out = {"output_type": "execute_result", "data": data,
                       "execution_count": count if isinstance(count, int) else None}
            else:
                out = {"output_type": "display_data", "data": data}
            self._add_output(outputs, out, size, cell_bytes, cap_cell)
        elif mtype == "error":
            tb = c.get("traceback")
            tb = [t for t in tb if isinstance(t, str)] if isinstance(tb, list) else []
            text = "\n".join(tb)
            cap = self.limits.max_traceback_bytes
            if len(text) > cap:
                text = "…[traceback truncated]\n" + text[-cap:]
            out = {"output_type": "error", "ename": _clip(c.get("ename", "Error"), 200),
                   "evalue": _clip(c.get("evalue", ""), 1000), "traceback": text.split("\n")}
            st["error"] = (out["ename"], out["evalue"])
            self._add_output(outputs, out, len(text) + len(out["evalue"]), cell_bytes, cap_cell)
        elif mtype == "clear_output":
            outputs.clear()

    async def _execute(self, code: str, timeout: float, outputs: list, cap_cell: int,
                       store_history: bool = True) -> dict:
        """Run code; returns a state dict: reply, error, idle, timed_out, died."""
        st: dict[str, Any] = {"idle": False, "reply": None, "error": None,
                              "timed_out": False, "died": False}
        cell_bytes = [0]
        if self._iopub_dirty:
            await self._resync_iopub()
        msg_id = self.kc.execute(code, store_history=store_history, allow_stdin=False,
                                 stop_on_error=False)
        deadline = time.monotonic() + timeout
        reply_at = None
        interrupted_at = None
        while True:
            now = time.monotonic()
            if st["reply"] is not None and (st["idle"] or now - reply_at > 2.0):
                break
            if not self._alive():
                st["died"] = True
                break
            if interrupted_at is None and now >= deadline:
                st["timed_out"] = True
                interrupted_at = now
                if not self.km.signal_kernel(signal.SIGINT):
                    await self._kill()
                    break
            if interrupted_at is not None and now - interrupted_at > self.limits.interrupt_grace_s:
                await self._kill()
                break
            self._sample()
            got = False
            for _ in range(200):  # drain iopub, but come back to check the clock
                try:
                    msg = await self.kc.get_iopub_msg(timeout=0.05 if not got else 0)
                except Exception:  # queue.Empty / TimeoutError / malformed message
                    break
                got = True
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    try:
                        self._handle_iopub(msg, outputs, cell_bytes, cap_cell, st)
                    except Exception:
                        pass
            if self.kc.iopub_drops() and self._alive():
                self._note_dropped(outputs)
                self.kc.reconnect_iopub()
                self._iopub_dirty = True
            if st["reply"] is None:
                try:
                    r = await self.kc.get_shell_msg(timeout=0 if got else 0.05)
                except Exception:
                    r = None
                if r is not None and r.get("parent_header", {}).get("msg_id") == msg_id:
                    st["reply"] = r.get("content") or {}
                    reply_at = time.monotonic()
        self._sample(force=not self.dead)
        return st

    async def _resync_iopub(self) -> None:
        """After zmq dropped the iopub connection, wait until it is back (as
        jupyter_client's wait_for_ready does) so the next cell's output is not lost."""
        end = time.monotonic() + 5
        while time.monotonic() < end and self._alive():
            mid = self.kc.kernel_info()
            t = time.monotonic() + 0.5
            while time.monotonic() < t:
                try:
                    msg = await self.kc.get_iopub_msg(timeout=0.1)
                except Exception:
                    continue
                if msg.get("parent_header", {}).get("msg_id") == mid:
                    self._iopub_dirty = False
                    await self._drain_shell()
                    return

    async def _drain_shell(self) -> None:
        while True:
            try:
                await self.kc.get_shell_msg(timeout=0.2)
            except Exception:
                return

    # -- whole notebook -----------------------------------------------------------
    def _fail(self, i: int, cell, kind: str, message: str) -> None:
        self.failures.append(CellFailure(i, _grade_id(cell) if cell is not None else None, kind, message))

    def _memory_death(self, outputs) -> bool:
        if self.over_disk:
            return False
        if self.over_memory:
            return True
        if any(o.get("output_type") == "error" and "MemoryError" in str(o.get("ename")) for o in outputs):
            return True
        code = self.exit_code
        by_signal = code is not None and (code < 0 or code > 128)
        near = self.peak_bytes >= 0.8 * self.limits.memory_mb * 1024 * 1024
        tail = self._log_tail(4000)
        return (by_signal and near) or "MemoryError" in tail or "bad_alloc" in tail

    async def run_cells(self) -> None:
        t_end = time.monotonic() + self.limits.notebook_timeout_s
        cells = self.nb.cells
        for i, cell in enumerate(cells):
            if cell.get("cell_type") != "code":
                continue
            cell["outputs"] = []
            cell["execution_count"] = None
            if self.dead:
                self.skipped.append(i)
                continue
            if not cell.get("source", "").strip():
                continue
            remaining = t_end - time.monotonic()
            if remaining <= 0:
                self.skipped.append(i)
                continue
            budget_bound = remaining < self.limits.cell_timeout_s
            st = await self._execute(cell.source, min(self.limits.cell_timeout_s, remaining),
                                     cell["outputs"], self.limits.max_cell_output_bytes)
            reply = st["reply"] or {}
            if isinstance(reply.get("execution_count"), int):
                cell["execution_count"] = reply["execution_count"]
            if st["died"]:
                self.crashed = True
                mem = self._memory_death(cell["outputs"])
                if mem:
                    self.limit_hit = "memory"
                later = sum(1 for c in cells[i + 1:] if c.get("cell_type") == "code")
                why = " (memory limit exceeded)" if mem else " (disk limit exceeded)" if self.over_disk else ""
                self._fail(i, cell, "kernel_died", "the kernel died while running this cell" + why
                           + (f"; {later} later cell(s) were not run" if later else ""))
                await self._kill()
                continue
            if st["timed_out"]:
                self.timed_out = True
                self.limit_hit = self.limit_hit or "wall time"
                what = ("the notebook's total time limit" if budget_bound
                        else f"the cell time limit ({self.limits.cell_timeout_s:g} s)")
                self._fail(i, cell, "timeout", f"cell exceeded {what}"
                           + ("; the kernel was stopped and later cells were not run" if self.dead
                              else " and was interrupted"))
                if budget_bound and not self.dead:
                    t_end = time.monotonic()  # budget spent: skip the rest
                continue
            if st["error"] is not None or reply.get("status") == "error":
                ename, evalue = st["error"] or (_clip(reply.get("ename", "Error"), 200),
                                                _clip(reply.get("evalue", ""), 1000))
                self.errored = True
                if ename == "MemoryError" or any(
                        m in evalue for m in ("can't allocate memory", "Cannot allocate memory",
                                              "std::bad_alloc", "OOM")):
                    self.limit_hit = self.limit_hit or "memory"
                elif ename == "BlockingIOError" and "temporarily unavailable" in evalue:
                    self.limit_hit = self.limit_hit or "processes"
                self._fail(i, cell, "error", _clip(f"{ename}: {evalue}", 1000))

    async def run_harvest(self) -> None:
        if self.harvest is None:
            return
        if self.dead or not self._alive():
            self.harvest_error = "the notebook's kernel was not running, so nothing could be collected"
            return
        token = secrets.token_hex(16)
        # The scratch dir belongs to the student, and a process left running there can rename
        # anything in it or swap it for a symlink to a host path, which we (root) would follow.
        # So the request goes into conn_dir (ours, read-only in the sandbox) and the results dir
        # is used only through a descriptor opened without following links.
        hdir = self.conn_dir / f"request-{token}"
        hdir.mkdir(mode=0o755)
        self.harvest.write(hdir)
        for f in hdir.iterdir():
            os.chmod(f, 0o644)
        res = self.scratch / f"results-{token}"
        res.mkdir(mode=0o700)
        try:
            res_fd = os.open(res, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            self.harvest_error = "the results directory was tampered with"
            return
        try:
            if os.geteuid() == 0 and self.sandboxed:
                os.fchown(res_fd, SANDBOX_UID, SANDBOX_GID)
            outputs: list = []
            st = await self._execute(harvest_mod.kernel_code(hdir, res), self.limits.harvest_timeout_s,
                                     outputs, 64_000, store_history=False)
            if st["died"]:
                self.crashed = True
                self.harvest_error = "the kernel died while collecting results"
            elif st["timed_out"]:
                self.harvest_error = "collecting results timed out"
            elif st["error"] is not None:
                self.harvest_error = _clip("collecting results failed: " + ": ".join(st["error"]), 1000)
            await self._kill()  # nothing sandboxed may run while we copy results out
            if self.harvest_error is None or _has_results_json(res_fd):
                try:
                    self.results_dir = collect_results(
                        res_fd, self.workdir / f"results-{secrets.token_hex(8)}")
                except OSError as e:
                    self.harvest_error = self.harvest_error or f"results could not be read: {type(e).__name__}"
        finally:
            os.close(res_fd)

    def cleanup(self) -> None:
        for d in (self.conn_dir,) + (() if self.keep_scratch and not self.tmp_scratch else (self.scratch,)):
            shutil.rmtree(d, ignore_errors=True)

    def result(self, wall: float) -> ExecutionResult:
        status = ("crashed" if self.crashed else "timeout" if self.timed_out
                  else "error" if self.errored else "ok")
        return ExecutionResult(
            notebook=self.nb, status=status, cell_failures=self.failures,
            results_dir=self.results_dir, wall_s=wall, peak_rss_mb=self.peak_bytes / 2**20,
            limit_hit=self.limit_hit, harvest_error=self.harvest_error,
            skipped_cells=self.skipped, sandboxed=self.sandboxed, kernel_exit_code=self.exit_code)


async def _run(r: _Run) -> ExecutionResult:
    t0 = time.monotonic()
    try:
        await r._start()
        await r.run_cells()
        await r.run_harvest()
    finally:
        if hasattr(r, "km"):
            if not r.dead:
                r._sample(force=True)
            await r._kill()
        if hasattr(r, "conn_dir"):
            r.cleanup()
    return r.result(time.monotonic() - t0)


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
) -> ExecutionResult:
    """Execute nb in a sandboxed kernel and harvest what `harvest` asks for.

    ro_binds: extra read-only binds (path, or (host_path, sandbox_path)), e.g.
    the student data cache. python_packages: package dirs (e.g. repo/data)
    mounted read-only under PYLIB_DIR, which is put on PYTHONPATH.
    env: extra environment variables for the kernel (e.g. COURSE_DATA_CACHE).
    Raises SandboxUnavailable if bubblewrap is missing and not unsandboxed_ok.
    """
    workdir = Path(workdir).resolve()
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
    r = _Run(nb, workdir, limits, harvest, ok, binds, env or {}, pythonpath, keep_scratch)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_run(r))
    # Called from inside an event loop (e.g. a notebook): run in a helper thread.
    box: dict = {}

    def target():
        try:
            box["r"] = asyncio.run(_run(r))
        except BaseException as e:  # re-raised in the caller's thread
            box["e"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["r"]
