"""Fork server run INSIDE the sandbox (a copy of this file, in a folder of the grader's that the
sandbox can only read): it imports the slow modules once, then forks one ipykernel per notebook,
so that a notebook does not pay TensorFlow's or PyTorch's import.

Protocol, one line each way: the grader writes `fork <connection file>` on stdin and reads
`forked <pid>` on stdout; when a kernel exits this writes `exit <pid> <returncode>`. End of stdin
ends the server. Nothing of a notebook reaches the next through this process: it only imports
modules (their thread pools start when a child first uses them) and forks; it is not dumpable, so a
student's process (same uid) can neither ptrace it nor read its memory or descriptors through /proc.
It runs as the sandbox's pid 1, so it also reaps the processes a kernel leaves orphaned, and signals
sent to it from inside the sandbox are dropped (it installs no handler: SIGINT is set back to the
default for that), so a student's kill(-1) or kill(1, SIGKILL) cannot take it down.

Self-contained: the autograder package is not visible in the sandbox.
"""
import ctypes
import importlib.util
import os
import select
import signal
import sys
import traceback

PR_SET_DUMPABLE = 4
REAP_EVERY_S = 0.05


def _set_dumpable(flag):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, flag, 0, 0, 0)
    except Exception:
        pass


def _preload(modules):
    for name in modules:
        try:
            __import__(name)
        except Exception:  # a missing package is the student's to meet in their own cell
            pass


def _reseed():
    """Every child starts with this process's generator states: draw fresh seeds, as a new process would."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:
            pass


def _run_kernel(connection_file):
    # No session of its own: in this server's process group, whose id means nothing inside the pid
    # namespace, the kernel cannot killpg itself, just as when bubblewrap starts it.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # the kernel's stdout joins its log, as for a kernel started on its own
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts any process
    _set_dumpable(1)
    _reseed()
    launcher = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [launcher.origin if launcher else "ipykernel_launcher", "-f", connection_file,
                "--HistoryManager.enabled=False"]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _fork_kernel(connection_file, out):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _run_kernel(connection_file)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    out.write(f"forked {pid}\n")
    out.flush()


def _reap(out):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        out.write(f"exit {pid} {code}\n")
        out.flush()


def main(modules):
    # The grader's folder this script lies in is not searched for imports, nor, as for
    # ipykernel_launcher, the working directory (the student's).
    if sys.path and sys.path[0] in ("", os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        del sys.path[0]
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _preload(modules)
    # The kernel's own modules, too, are imported once (the debugger's take a kernel 0.15 s).
    for name in ("ipykernel.debugger", "ipykernel.ipkernel", "ipykernel.kernelapp", "ipykernel.zmqshell"):
        __import__(name)
    _set_dumpable(0)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], REAP_EVERY_S)
        _reap(out)
        if not readable:
            continue
        chunk = os.read(0, 4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            command, _, argument = line.decode().partition(" ")
            if command == "fork":
                _fork_kernel(argument, out)


if __name__ == "__main__":
    main(sys.argv[1:])
