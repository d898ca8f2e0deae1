"""A warm check process: imports pytest and NumPy once, then forks one child per notebook's checks,
so a notebook does not pay those imports again. The frameworks (OpenCV, Keras/TensorFlow, PyTorch)
are imported by the server once a child has needed them, so a batch pays each import once and a
batch that needs none pays nothing for them.

Each child starts from the freshly imported state and exits when its checks are done, so nothing of
one student's checks reaches the next. The frameworks are imported here but never run: TensorFlow's
thread pools and CUDA are not safe to fork once used, and each child initialises what it uses.

Protocol, one JSON line each way per request:
    in   {"args": [pytest arguments], "timeout": seconds}
    out  {"exit": pytest's exit code, or null when the child was killed on its timeout, "log": text}
The server ends when its input closes (the grader went away).
"""
from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tempfile
import time

LOG_TAIL = 20_000


# torch.export.load's deserialiser is a module of its own, 1.5 s to import (sympy among others).
HEAVY = ("cv2", "keras", "tensorflow", "torch", "torch._export.serde.serialize", "sklearn")


def _preload(modules=("numpy", "pytest", "autograder.checker.plugin")) -> None:
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            pass
    # Keep the imported objects out of the children's garbage collections (pytest collects twice
    # per session): with the frameworks loaded, a full collection takes a quarter of a second.
    gc.collect()
    gc.freeze()


def _run_child(args: list[str], log_fd: int, needs_fd: int) -> None:
    """In the forked child: pytest on `args`, its output into the log, the frameworks it imported
    into `needs_fd`; never returns."""
    code = 70
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the protocol stream is the server's alone
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        sys.stderr = os.fdopen(2, "w", closefd=False)
        import pytest

        code = int(pytest.main(args))
    except BaseException as err:  # a crash of pytest itself: the grader reports lost checks
        print(f"check child failed: {type(err).__name__}: {err}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(needs_fd, " ".join(m for m in HEAVY if m in sys.modules).encode())
        os._exit(code)


def run_request(args: list[str], timeout: float) -> dict:
    with tempfile.TemporaryFile() as log, tempfile.TemporaryFile() as needs:
        pid = os.fork()
        if pid == 0:
            _run_child(args, log.fileno(), needs.fileno())
        deadline = time.monotonic() + timeout
        status = None
        while status is None:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            else:
                time.sleep(0.02)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")[-LOG_TAIL:]
        needs.seek(0)
        wanted = [m for m in needs.read().decode().split() if m in HEAVY and m not in sys.modules]
    if wanted:  # the next children start with them
        _preload(wanted)
    return {"exit": status, "log": text}


def main() -> None:
    _preload()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the protocol stream
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        out.write(json.dumps(run_request(request["args"], float(request["timeout"]))) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
