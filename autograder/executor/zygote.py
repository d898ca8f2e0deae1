"""Kernels forked from a warm sandbox: the frameworks are imported once per worker and question.

A Zygote is one bubblewrap sandbox, started with one question's settings, whose fork server
(kernel_side/zygote.py) has imported the modules that question's notebooks import. Each notebook
gets an ipykernel forked from it, in that sandbox, instead of a new sandbox whose kernel imports
TensorFlow again (seconds of CPU per notebook). The server is the sandbox's init (pid 1): the
student's code, under the same uid, can neither kill nor stop it.

Between two notebooks the sandbox is brought back to what it was before the first: every process
but the fork server is killed and seen gone, the scratch dir, /tmp and /dev/shm are emptied and
System V IPC objects removed (POSIX message queues cannot be made: RLIMIT_MSGQUEUE is 0). Only then
is the next kernel forked. A sandbox that cannot be brought back, whose fork server died, or whose
notebook went over a limit is killed whole, and the next notebook gets a new one.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import psutil
from jupyter_client.connect import write_connection_file

from ..kernel_side import zygote as kernel_zygote
from .bwrap import Bind, build_command, gpu_device_binds
from .kernel import CappedKernelClient, _is_bwrap, _running
from .session import KernelSession, KernelStartError, kernel_env, make_session_dirs, passwd_files
from .usage import UsageMonitor

SERVER_NAME = "fork_server.py"   # in the connection dir: what `ps` shows for the server and its kernels
FORK_WAIT_S = 10.0      # the server answers a fork at once; it may be slow only on a loaded machine
CLEAN_WAIT_S = 5.0      # to see every process of the last notebook gone
IPC_WAIT_S = 10.0


class ForkedKernelClient(CappedKernelClient):
    """A client that asks the sandbox whether its kernel lives (it has no kernel manager of its own)."""

    async def _async_is_alive(self) -> bool:
        return self.kernel_running()

    def kernel_running(self) -> bool:  # replaced by the session
        return True


class ForkedKernelManager:
    """What the executor asks of a kernel manager, for a kernel forked in a Zygote's sandbox."""

    def __init__(self, zygote: "Zygote", pid: int, sandbox_pid: int):
        self.zygote = zygote
        self.pid = pid                  # as the host sees it
        self.sandbox_pid = sandbox_pid  # as the fork server sees it

    def process_tree(self) -> list[psutil.Process]:
        """The whole sandbox: its memory limit counts the fork server's share, as it would count
        the imports of a kernel started on its own."""
        return self.zygote.processes()

    def exit_code(self) -> int | None:
        code = self.zygote.exits.get(self.sandbox_pid)
        if code is None and not self.zygote.server_alive() and not _running_pid(self.pid):
            return -signal.SIGKILL  # went down with its sandbox: nobody is left to say how
        return code

    def signal_kernel(self, sig: int = signal.SIGINT) -> bool:
        if self.zygote.exits.get(self.sandbox_pid) is not None:
            return False
        try:
            os.kill(self.pid, sig)
            return True
        except OSError:
            return False

    def kill_tree(self) -> None:
        self.zygote.kill_notebook_processes()


class ForkedKernelSession(KernelSession):
    """A KernelSession whose kernel is forked from a Zygote: start() forks it, kill() kills what the
    notebook started, cleanup() gives the sandbox back for the next notebook."""

    def __init__(self, zygote: "Zygote", limits):
        super().__init__(zygote.base, limits, sandboxed=True)
        self.zygote = zygote
        self.conn_dir, self.scratch, self.log_path = zygote.conn_dir, zygote.scratch, zygote.log_path
        self.connection_file = zygote.conn_dir / f"kernel-{secrets.token_hex(8)}.json"

    async def start(self) -> None:
        write_connection_file(str(self.connection_file), transport="ipc", ip=str(self.scratch / "k"),
                              key=secrets.token_hex(32).encode())
        os.chmod(self.connection_file, 0o644)  # the kernel runs as the sandbox uid
        self.log_start = self.log_path.stat().st_size
        pid, sandbox_pid = await self.zygote.fork(self.connection_file)
        self.km = ForkedKernelManager(self.zygote, pid, sandbox_pid)
        self.usage = UsageMonitor(self.km.process_tree, self.scratch, self.limits.memory_mb,
                                  self.limits.max_disk_mb)
        self.kc = ForkedKernelClient()
        self.kc.kernel_running = self.alive
        self.kc.load_connection_file(str(self.connection_file))
        self.kc.start_channels(hb=False)
        try:
            await self.kc.wait_for_ready(timeout=self.limits.startup_timeout_s)
        except (RuntimeError, TimeoutError) as e:
            await self.kill()
            raise KernelStartError(f"forked kernel did not start: {e}; log: {self.log_tail(2000)}") from None

    async def kill(self) -> None:
        self.dead = True
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
        if self.km is not None:
            code = self.km.exit_code()
            self.km.kill_tree()
            if self.exit_code is None:
                self.exit_code = -signal.SIGKILL if code is None else code

    def cleanup(self, keep_scratch: bool = False) -> None:
        if not self.zygote.usable:
            return
        self.connection_file.unlink(missing_ok=True)
        for request in self.conn_dir.glob("request-*"):
            shutil.rmtree(request, ignore_errors=True)
        self.zygote.give_back(reusable=self.over is None and not keep_scratch)


def _running_pid(pid: int) -> bool:
    try:
        return _running(psutil.Process(pid))
    except psutil.Error:
        return False


def _sandbox_pid(pid: int) -> int | None:
    """A host process's pid in its innermost pid namespace."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None


def empty_folder(folder: Path, keep: frozenset[str] = frozenset()) -> bool:
    """Remove everything in folder but the entries named in keep; whether that is all that is left."""
    try:
        for entry in os.scandir(folder):
            if entry.name in keep:
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        return {entry.name for entry in os.scandir(folder)} <= keep
    except OSError:
        return False


class Zygote:
    """One sandbox holding a fork server, for notebooks with one set of sandbox settings."""

    def __init__(self, settings, limits, preload: tuple[str, ...]):
        if limits.gpu and gpu_device_binds():
            # A forked kernel must initialise CUDA itself. PyTorch defers CUDA to its first use;
            # TensorFlow does not promise to, so it is not imported ahead where the sandbox has a GPU.
            preload = tuple(m for m in preload if m != "tensorflow")
        self.settings, self.limits, self.preload = settings, limits, preload
        self.base = Path(tempfile.mkdtemp(prefix="zygote-"))
        self.conn_dir: Path | None = None
        self.scratch: Path | None = None
        self.log_path: Path | None = None
        self.moved_scratch = False
        self.process: asyncio.subprocess.Process | None = None   # the outer bwrap
        self.server_pid: int | None = None
        self.exits: dict[int, int] = {}       # sandbox pid -> return code, as the server reports them
        self._forked: asyncio.Queue[int] = asyncio.Queue()
        self._fork_lock = asyncio.Lock()
        self._reader: asyncio.Task | None = None
        self.usable = True                    # false once retired
        self.tmp_skeleton: frozenset[str] = frozenset()
        self.gone: asyncio.Future | None = None   # set by retire()
        self.on_clean: Callable[[], None] | None = None   # called each time it is clean again

    async def start(self) -> None:
        limits, settings = self.limits, self.settings
        self.conn_dir, self.scratch, self.moved_scratch = make_session_dirs(self.base, limits.sandbox_uid)
        env = kernel_env(self.scratch, settings.pythonpath, dict(settings.env), limits.threads)
        command = build_command(
            [sys.executable, str(self._server_script()), *self.preload], scratch=self.scratch, limits=limits,
            ro_binds=list(settings.binds) + [Bind(self.conn_dir, self.conn_dir)], env=env,
            etc_files=passwd_files(self.conn_dir, limits.sandbox_uid), as_pid_1=True)
        self.log_path = self.conn_dir / "kernel.log"
        with open(self.log_path, "ab") as log:  # appended to by every kernel, each reads its own part
            self.process = await asyncio.create_subprocess_exec(
                *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=self.scratch, env=env)
        try:
            ready = await asyncio.wait_for(self.process.stdout.readline(), limits.startup_timeout_s)
        except asyncio.TimeoutError:
            ready = b""
        self.server_pid = next((p.pid for p in self.processes() if not _is_bwrap(p)), None)
        if ready != b"ready\n" or self.server_pid is None:
            log_tail = self.log_path.read_bytes()[-2000:].decode("utf-8", "replace")
            self.retire()
            raise KernelStartError(f"the fork server did not start; log: {log_tail}")
        # What bubblewrap made in /tmp (root-owned parents of binds that lie under /tmp on the host):
        # kept when /tmp is emptied, and the sandbox user can neither change nor remove them.
        self.tmp_skeleton = frozenset(os.listdir(self._inside("tmp")))
        self._reader = asyncio.ensure_future(self._read_replies())

    def _server_script(self) -> Path:
        """A copy of the server's source that the sandbox can read and not change."""
        script = self.conn_dir / SERVER_NAME
        shutil.copyfile(kernel_zygote.__file__, script)
        os.chmod(script, 0o644)
        return script

    async def _read_replies(self) -> None:
        while True:
            line = await self.process.stdout.readline()
            if not line:
                return
            word, *numbers = line.decode("ascii", "replace").split()
            if word == "forked" and len(numbers) == 1:
                self._forked.put_nowait(int(numbers[0]))
            elif word == "exit" and len(numbers) == 2:
                self.exits[int(numbers[0])] = int(numbers[1])

    async def fork(self, connection_file: Path) -> tuple[int, int]:
        """(host pid, sandbox pid) of a kernel forked for connection_file."""
        async with self._fork_lock:  # one request at a time: each answer is for the one asked
            if not self.server_alive():
                raise KernelStartError("the fork server is gone")
            self.process.stdin.write(f"fork {connection_file}\n".encode())
            await self.process.stdin.drain()
            try:
                sandbox_pid = await asyncio.wait_for(self._forked.get(), FORK_WAIT_S)
            except asyncio.TimeoutError:
                self.retire()  # its answer may still come, and would be taken for the next one's
                raise KernelStartError("the fork server did not answer") from None
        for child in psutil.Process(self.server_pid).children():
            if _sandbox_pid(child.pid) == sandbox_pid:
                return child.pid, sandbox_pid
        raise KernelStartError("the forked kernel is not running")

    async def _wait_gone(self) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), CLEAN_WAIT_S)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
        try:  # the rest of its output, so that the pipe is closed with the loop still running
            await asyncio.wait_for(self._reader, CLEAN_WAIT_S)
        except (asyncio.TimeoutError, TypeError):  # TypeError: it never started
            pass

    async def new_session(self, limits) -> ForkedKernelSession:
        session = ForkedKernelSession(self, limits)
        try:
            await session.start()
        except BaseException:  # cancelled, or the kernel did not come up: this sandbox is done
            self.retire()
            await session.kill()
            session.cleanup()
            raise
        return session

    # -- state ------------------------------------------------------------------------------------
    def processes(self) -> list[psutil.Process]:
        """Every process of the sandbox, the outer bwrap first."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root] + root.children(recursive=True)
        except psutil.Error:
            return []

    def server_alive(self) -> bool:
        return self.usable and self.server_pid is not None and _running_pid(self.server_pid)

    def _inside(self, path: str) -> Path:
        """A path of the sandbox's own file system, as root sees it from outside."""
        return Path(f"/proc/{self.server_pid}/root") / path

    def _notebook_processes(self) -> list[psutil.Process]:
        return [p for p in self.processes() if p.pid != self.server_pid and not _is_bwrap(p) and _running(p)]

    # -- between notebooks -------------------------------------------------------------------------
    def kill_notebook_processes(self) -> bool:
        """SIGKILL every process but the server (a fork bomb's copies too); whether all are gone."""
        deadline = time.monotonic() + CLEAN_WAIT_S
        while time.monotonic() < deadline:
            left = self._notebook_processes()
            if not left:
                return True
            for p in left:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            time.sleep(0.005)
        return False

    def _remove_ipc_objects(self) -> bool:
        try:
            done = subprocess.run(["nsenter", "--target", str(self.server_pid), "--ipc", "ipcrm", "--all"],
                                  capture_output=True, timeout=IPC_WAIT_S)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def give_back(self, reusable: bool) -> None:
        """After a notebook: make the sandbox as it was before it, else retire it."""
        if not (self.usable and reusable and self.server_alive() and self.kill_notebook_processes()):
            self.retire()
            return
        clean = (empty_folder(self.scratch) and empty_folder(self._inside("tmp"), self.tmp_skeleton)
                 and empty_folder(self._inside("dev/shm")) and self._remove_ipc_objects())
        if not clean or not self.server_alive():
            self.retire()
            return
        os.chmod(self.scratch, 0o700)  # the student owned it and may have opened it up
        self.exits.clear()
        if self.on_clean is not None:
            self.on_clean()

    def retire(self) -> None:
        """Kill the whole sandbox and remove its folders (idempotent). The outer bwrap ends by itself
        once its init, the server, is gone; `gone` is done when it has been reaped."""
        if not self.usable and self.gone is not None:
            return
        self.usable = False
        for p in self.processes()[1:]:
            try:
                p.kill()
            except psutil.Error:
                pass
        if self.process is not None:
            self.process.stdin.close()
            self.gone = asyncio.ensure_future(self._wait_gone())
        if self.moved_scratch and self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        shutil.rmtree(self.base, ignore_errors=True)
