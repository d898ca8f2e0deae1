"""Which cores each grading worker uses.

Left alone, every framework in every worker sizes its thread pools by the whole machine: two workers
on two cores then run four busy threads and fight over caches, and a second worker adds almost
nothing (measured: 1.03x the throughput of one). Each worker instead gets its own share of the cores
this process may use; its sandboxes and its check process inherit that affinity, and the kernel is
told the share's size, since not every library reads the affinity mask.
"""
from __future__ import annotations

import os

# Variables the numerical libraries read for their thread-pool sizes (OpenMP: PyTorch on the CPU;
# OpenBLAS/MKL: NumPy). TensorFlow sizes its pools from the affinity mask itself; forcing its
# inter-op pool to the share's size can starve a Keras input pipeline.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cores() -> list[int]:
    """The cores this process may run on (a Slurm allocation or taskset narrows them)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def worker_cores(slot: int, jobs: int, cores: list[int]) -> list[int]:
    """Slot's share: contiguous and disjoint while there are at least as many cores as workers,
    one core per worker in turn beyond that."""
    if jobs >= len(cores):
        return [cores[slot % len(cores)]]
    per_worker = len(cores) // jobs
    return cores[slot * per_worker:(slot + 1) * per_worker]


def pin_worker(slot: int, jobs: int) -> int:
    """Restrict this worker process (and what it starts) to its share; returns the share's size."""
    share = worker_cores(slot, jobs, usable_cores())
    try:
        os.sched_setaffinity(0, share)
    except (AttributeError, OSError):
        pass
    return len(share)


def thread_env(threads: int | None) -> dict[str, str]:
    return {name: str(threads) for name in THREAD_VARIABLES} if threads else {}
