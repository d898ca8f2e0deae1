"""The executor's outside view of a sandbox's memory and disk (no kernel needed)."""
import os

import psutil

from autograder.executor.usage import UsageMonitor, tree_bytes


def test_tree_bytes_counts_allocated_space_and_not_links(tmp_path):
    (tmp_path / "a").write_bytes(os.urandom(1 << 20))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(os.urandom(1 << 20))
    (tmp_path / "sparse").open("wb").truncate(1 << 30)  # a hole takes no disk
    (tmp_path / "link").symlink_to("/usr")
    used = tree_bytes(tmp_path)
    assert 2 << 20 <= used < 3 << 20


def test_tree_bytes_gives_up_on_too_many_entries(tmp_path):
    for i in range(50):
        (tmp_path / f"f{i}").touch()
    assert tree_bytes(tmp_path, max_entries=10) is None
    assert tree_bytes(tmp_path, max_entries=100) == 0


def test_monitor_reports_memory_over_the_limit_for_the_processes_it_watches(tmp_path):
    me = psutil.Process()
    ballast = bytearray(os.urandom(64 << 20))  # dirty pages: counted as anonymous memory
    assert UsageMonitor(lambda: [me], tmp_path, memory_mb=16 << 10, disk_mb=100).sample(force=True) is None
    low = UsageMonitor(lambda: [me], tmp_path, memory_mb=1, disk_mb=100)
    assert low.sample(force=True) == "memory" and low.peak_bytes >= len(ballast)
    assert low.sample(force=True) is None, "a limit is reported once"


def test_monitor_reports_disk_filled_in_the_scratch_dir(tmp_path):
    monitor = UsageMonitor(lambda: [], tmp_path, memory_mb=1024, disk_mb=1)
    assert monitor.sample(force=True) is None
    (tmp_path / "fill").write_bytes(os.urandom(16 << 20))
    os.sync()
    assert monitor.sample(force=True) == "disk"


def test_peak_counts_pages_shared_after_fork_once_as_the_limit_does(tmp_path):
    ballast = bytearray(os.urandom(128 << 20))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child keeps the parent's pages, untouched, until told to go
        os.close(write)
        os.read(read, 1)
        os._exit(0)
    os.close(read)
    try:
        tree = [psutil.Process(), psutil.Process(pid)]
        resident = sum(p.memory_info().rss for p in tree)
        monitor = UsageMonitor(lambda: tree, tmp_path, memory_mb=int(resident / 2**20 * 0.9), disk_mb=100)
        assert monitor.sample(force=True) is None, "shared pages must not be counted twice against the limit"
        assert len(ballast) <= monitor.peak_bytes < resident - len(ballast) // 2
        assert monitor.peak_process_bytes >= len(ballast)
    finally:
        os.write(write, b"x")
        os.waitpid(pid, 0)
