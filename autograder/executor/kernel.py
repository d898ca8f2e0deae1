"""Kernel manager/client for a kernel running inside the sandbox.

The manager (trusted, outside) wraps the ipykernel command line in the
sandbox command; the client caps incoming zmq messages so a flood of output
cannot exhaust the grader's memory.
"""
from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from typing import Callable

import psutil
import zmq
from zmq.utils.monitor import recv_monitor_message
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

# One zmq message larger than this drops the connection (zmq reconnects and the
# message is lost); with RCVHWM this bounds what zmq buffers on our side.
MAX_MSG_BYTES = 8 * 1024 * 1024
RCV_HWM = 32


KILL_WAIT_S = 5.0


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # gone
        return False


def _is_bwrap(p: psutil.Process) -> bool:
    try:
        return os.path.basename(p.exe()) == "bwrap"
    except psutil.Error:
        return False


class CappedKernelClient(AsyncKernelClient):
    def _create_connected_socket(self, channel, identity=None):
        url = self._make_url(channel)
        sock = self.context.socket(zmq.SUB if channel == "iopub" else zmq.DEALER)
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
        sock.setsockopt(zmq.RCVHWM, RCV_HWM)
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        if channel == "iopub":
            # Watch for dropped connections: that is how zmq reports an
            # oversized message (it is discarded, then zmq reconnects).
            addr = f"inproc://autograder-monitor-{secrets.token_hex(8)}"
            try:
                sock.monitor(addr, zmq.EVENT_DISCONNECTED)
                self._monitor = zmq.Context.shadow(self.context.underlying).socket(zmq.PAIR)
                self._monitor.connect(addr)
            except zmq.ZMQError:
                sock.close(linger=0)
                raise
        sock.connect(url)
        return sock

    def iopub_drops(self) -> int:
        """Number of iopub disconnects since the last call (non-blocking)."""
        mon = getattr(self, "_monitor", None)
        n = 0
        while mon is not None and mon.poll(0):
            try:
                recv_monitor_message(mon, zmq.NOBLOCK)
            except zmq.ZMQError:
                break
            n += 1
        return n

    def _close_monitor(self) -> None:
        # The monitor socket must go first or context.destroy() blocks forever.
        mon = getattr(self, "_monitor", None)
        if mon is not None:
            try:
                self._iopub_channel.socket.disable_monitor()
            except Exception:
                pass
            mon.close(linger=0)
            self._monitor = None

    def reconnect_iopub(self) -> None:
        """Fresh SUB socket: libzmq does not reliably reconnect after dropping
        an oversized message, so further output would be lost."""
        self._close_monitor()
        if self._iopub_channel is not None:
            self._iopub_channel.close()
            self._iopub_channel = None
        self.iopub_channel  # noqa: B018 (property creates and connects the socket)

    def stop_channels(self):
        self._close_monitor()
        super().stop_channels()


class SandboxedKernelManager(AsyncKernelManager):
    """AsyncKernelManager whose kernel command is wrapped by `wrap`.

    Set `wrap` (argv -> argv) before start_kernel. The connection file is made
    world-readable because the kernel runs as another uid (65534); its key only
    authenticates messages between us and that same untrusted kernel.
    """

    wrap: Callable[[list[str]], list[str]] | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        os.chmod(self.connection_file, 0o644)
        argv = [
            sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file,
            "--HistoryManager.enabled=False",
        ]
        return self.wrap(argv) if self.wrap else argv

    @property
    def outer_pid(self) -> int | None:
        p = getattr(self.provisioner, "process", None)
        return p.pid if p is not None else None

    def exit_code(self) -> int | None:
        p = getattr(self.provisioner, "process", None)
        return None if p is None else p.poll()

    def process_tree(self) -> list[psutil.Process]:
        pid = self.outer_pid
        if pid is None:
            return []
        try:
            root = psutil.Process(pid)
            return [root] + root.children(recursive=True)
        except psutil.Error:
            return []

    def kernel_pid(self) -> int | None:
        """Host pid of the ipykernel process: the python directly under bwrap
        (or the launched process itself when unsandboxed)."""
        tree = self.process_tree()
        bw = {p.pid for p in tree if _is_bwrap(p)}
        for p in tree:
            try:
                cmd = p.cmdline()
                if cmd[1:3] == ["-m", "ipykernel_launcher"] and (p.ppid() in bw or p.pid == self.outer_pid):
                    return p.pid
            except psutil.Error:
                continue
        return None

    def signal_kernel(self, sig: int = signal.SIGINT) -> bool:
        pid = self.kernel_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
            return True
        except OSError:
            return False

    def kill_tree(self) -> None:
        """SIGKILL the sandbox and everything under it (we are root or the same uid)."""
        procs = self.process_tree()
        for p in procs:
            try:
                p.kill()
            except psutil.Error:
                pass
        # A killed process is done once it is a zombie: psutil.wait_procs would poll (with growing
        # sleeps) until some other parent reaps the sandbox's inner processes, about a second.
        process = getattr(self.provisioner, "process", None)
        deadline = time.monotonic() + KILL_WAIT_S
        while procs and time.monotonic() < deadline:
            if process is not None:
                process.poll()  # reap our own child, the outer bwrap
            procs = [p for p in procs if _running(p)]
            if procs:
                time.sleep(0.005)
