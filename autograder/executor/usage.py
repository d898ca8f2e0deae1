"""What a sandbox uses, measured from outside: memory of all its processes, disk of its scratch dir.

Kernel rlimits bound one process (RLIMIT_DATA) or one file (RLIMIT_FSIZE); a notebook that forks,
or writes many files, would multiply them. The executor samples the sandbox as a whole here and
kills it past the notebook's limits.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable, Iterable

import psutil

SAMPLE_EVERY_S = 0.5


def anon_bytes(pid: int, status: dict[str, str]) -> int:
    """Anonymous memory of a process, copy-on-write pages shared after fork() split between the
    sharers (Pss_Anon); RssAnon, which counts them in every sharer, where the kernel lacks it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss_Anon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(status.get("RssAnon", "0 kB").split()[0]) * 1024


def tree_bytes(root: Path, max_entries: int = 200_000) -> int | None:
    """Disk space of the files under root (links not followed); None past max_entries entries."""
    total, stack, seen = 0, [str(root)], 0
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > max_entries:
                        return None
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total


class UsageMonitor:
    """Peak memory of a sandbox, and which of its limits (memory, disk) it went over.

    peak_bytes is the largest total the memory limit was compared with (anonymous memory, pages
    shared after fork counted once), so the reported peak and the limit speak of the same thing;
    peak_process_bytes is the largest resident size of any one process, which RLIMIT_DATA bounds.
    """

    def __init__(self, processes: Callable[[], Iterable[psutil.Process]], scratch: Path,
                 memory_mb: int, disk_mb: int):
        self.processes = processes
        self.scratch = scratch
        # headroom for stacks and bwrap itself, which RLIMIT_DATA does not count either
        self.memory_cap = (memory_mb + 64) * 2**20
        self.disk_cap = disk_mb * 2**20
        self.free_at_start = shutil.disk_usage(scratch).free
        self.peak_bytes = 0
        self.peak_process_bytes = 0
        self.over: str | None = None   # "memory" or "disk"
        self._last = 0.0

    def sample(self, force: bool = False) -> str | None:
        """Measure (at most every SAMPLE_EVERY_S unless forced); the limit newly exceeded, if any."""
        now = time.monotonic()
        if self.over or (not force and now - self._last < SAMPLE_EVERY_S):
            return None
        self._last = now
        hwm = anon = 0
        for p in self.processes():
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
                hwm = max(hwm, int(status["VmHWM"].split()[0]) * 1024)
                anon += anon_bytes(p.pid, status)
            except (psutil.Error, OSError, ValueError, KeyError):
                continue
        self.peak_bytes = max(self.peak_bytes, anon)
        self.peak_process_bytes = max(self.peak_process_bytes, hwm)
        if anon > self.memory_cap:
            self.over = "memory"
        # The free-space drop is cheap to read; the scratch dir itself is walked only past it
        # (other writers share the disk).
        elif self.free_at_start - shutil.disk_usage(self.scratch).free > self.disk_cap:
            used = tree_bytes(self.scratch)
            if used is None or used > self.disk_cap:
                self.over = "disk"
        return self.over
