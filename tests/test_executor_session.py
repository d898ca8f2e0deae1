"""The kernel session's parts that need no kernel: environment, /etc files, directories."""
import asyncio
import os
import stat

from autograder.executor import Limits
from autograder.executor.session import MAX_IPC_PATH, KernelSession, kernel_env, passwd_files


def test_the_kernel_environment_is_built_not_inherited(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    env = kernel_env(tmp_path, ["/opt/lib"], {"COURSE_DATA_CACHE": "/data", "LANG": "xx"})
    assert "GRADER_SECRET" not in env
    assert env["HOME"] == str(tmp_path) and env["IPYTHONDIR"] == str(tmp_path / ".ipython")
    assert env["PYTHONPATH"] == "/opt/lib" and env["COURSE_DATA_CACHE"] == "/data" and env["LANG"] == "xx"
    assert "PYTHONPATH" not in kernel_env(tmp_path, [], {})


def test_passwd_files_name_only_root_and_the_sandbox_user(tmp_path):
    files = passwd_files(tmp_path)
    assert set(files) == {"passwd", "group"}
    users = [line.split(":")[0] for line in files["passwd"].read_text().splitlines()]
    assert users == ["root", "student"] and ":65534:65534:" in files["passwd"].read_text()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files.values())


def test_dirs_and_cleanup(tmp_path):
    s = KernelSession(tmp_path / "w", Limits(), sandboxed=True)
    s._make_dirs()
    assert s.conn_dir.parent == s.scratch.parent == tmp_path / "w" and not s.tmp_scratch
    assert stat.S_IMODE(s.conn_dir.stat().st_mode) == 0o755
    assert stat.S_IMODE(s.scratch.stat().st_mode) == 0o700
    if os.geteuid() == 0:
        assert s.scratch.stat().st_uid == 65534
    s.cleanup(keep_scratch=True)
    assert not s.conn_dir.exists() and s.scratch.exists()
    s.cleanup()
    assert not s.scratch.exists()


def test_a_long_workdir_moves_scratch_to_a_short_path_that_is_never_kept(tmp_path):
    deep = tmp_path / ("d" * (MAX_IPC_PATH - len(str(tmp_path))))
    s = KernelSession(deep, Limits(), sandboxed=True)
    s._make_dirs()
    assert s.tmp_scratch and len(str(s.scratch / "k-10")) <= MAX_IPC_PATH
    assert s.conn_dir.parent == deep and list(deep.glob("scratch-*")) == []
    s.cleanup(keep_scratch=True)
    assert not s.scratch.exists() and not s.conn_dir.exists()


def test_a_session_that_never_started(tmp_path):
    s = KernelSession(tmp_path, Limits(), sandboxed=True)
    s.sample(force=True)
    asyncio.run(s.kill())
    asyncio.run(s.kill())
    s.cleanup()
    assert s.dead and not s.alive() and s.exit_code is None and s.log_tail(100) == ""
    assert s.over is None and s.peak_bytes == 0
