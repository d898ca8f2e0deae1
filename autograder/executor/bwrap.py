"""Command line of the bubblewrap sandbox that the student kernel runs in.

Isolation comes from bubblewrap (mount/pid/net/ipc/uts namespaces) plus a
non-root uid (65534, or one below it per parallel worker: Limits.sandbox_uid) and rlimits. As root we skip the user namespace and drop
privileges with setpriv inside, so the kernel is a real unprivileged user on
the host (file ownership and RLIMIT_NPROC then mean something).
"""
from __future__ import annotations

import glob
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

SANDBOX_UID = 65534
SANDBOX_GID = 65534

# Where python packages passed by the caller are mounted inside the sandbox.
PYLIB_DIR = "/opt/autograder-pylib"

INSTALL_HINT = (
    "bubblewrap (bwrap) is required to run student notebooks in a sandbox: "
    "install it with `apt-get install bubblewrap` (Debian/Ubuntu) or "
    "`dnf install bubblewrap` (Fedora/RHEL). An instructor may opt out for "
    "trusted code only (unsandboxed_ok=True)."
)

# Repository paths that must never be visible to student code.
_REPO_ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_DIRS = tuple(
    _REPO_ROOT / d for d in ("autograder", "solutions", "tests", "workspace")
)

# Small /etc subset: the dynamic loader, locale/time and name-service config.
# Not /etc wholesale: it may hold secrets (ssh host keys, shadow, tokens).
_ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
    "alternatives", "mime.types", "hosts", "fonts", "ssl/openssl.cnf",
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or unusable and unsandboxed execution was not allowed."""


@dataclass(frozen=True)
class Bind:
    src: Path
    dest: Path


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def sandbox_available() -> tuple[bool, str]:
    """(usable, message). The message tells how to install bubblewrap when missing."""
    exe = bwrap_path()
    if exe is None:
        return False, INSTALL_HINT
    if os.geteuid() == 0 and (shutil.which("setpriv") is None):
        return False, "setpriv (util-linux) is required to drop privileges inside bwrap"
    if shutil.which("prlimit") is None:
        return False, "prlimit (util-linux) is required to set resource limits"
    return True, f"bubblewrap found at {exe}"


def check_bind_source(src: Path) -> None:
    """Refuse binds that would expose the grader, solutions or the repo itself."""
    src = Path(os.path.realpath(src))
    for bad in FORBIDDEN_DIRS:
        if src == bad or bad.is_relative_to(src) or src.is_relative_to(bad):
            raise ValueError(f"refusing to expose {src} inside the sandbox (grader/solution files)")
    if src == _REPO_ROOT:
        raise ValueError(f"refusing to expose the repository root {src} inside the sandbox")


def prlimit_args(limits) -> list[str]:
    """prlimit prefix. Memory uses RLIMIT_DATA (brk + private writable mappings):
    it caps what numpy/torch/TF really allocate, while RLIMIT_AS would also
    count the large PROT_NONE reservations some allocators make (optional)."""
    mb = 1024 * 1024
    args = [
        shutil.which("prlimit") or "prlimit",
        f"--data={limits.memory_mb * mb}",
        f"--nproc={limits.max_processes}",
        f"--fsize={limits.max_file_mb * mb}",
        f"--nofile={limits.max_open_files}",
        "--core=0",
        # No POSIX message queues: they would outlive the notebook in a sandbox that is reused.
        "--msgqueue=0",
    ]
    if limits.address_space_mb:
        args.append(f"--as={limits.address_space_mb * mb}")
    return args + ["--"]


def _ancestors(path: Path) -> list[Path]:
    """Ancestors of path, root-most first, without / itself."""
    return list(reversed([p for p in path.parents if p != Path("/")]))


def _python_dirs() -> list[Path]:
    dirs = []
    for p in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))):
        p = Path(os.path.realpath(p))
        if str(p).startswith(("/usr/", "/bin", "/lib")) or p == Path("/usr"):
            continue  # already visible through /usr
        if p.name == "bin":
            p = p.parent
        if not any(p.is_relative_to(d) for d in dirs):
            dirs = [d for d in dirs if not d.is_relative_to(p)] + [p]
    return dirs


def build_command(
    argv: Sequence[str],
    *,
    scratch: Path,
    limits,
    ro_binds: Sequence[Bind] = (),
    env: Mapping[str, str] = {},
    etc_files: Mapping[str, Path] = {},
    as_pid_1: bool = False,
) -> list[str]:
    """Wrap argv (the kernel command) in bwrap + setpriv + prlimit.

    scratch is bound read-write at the same absolute path so that ipc socket
    and connection-file paths are identical inside and outside.
    etc_files maps /etc names to host files (e.g. a synthetic passwd).
    as_pid_1: argv runs as the sandbox's init, which its other processes cannot kill or stop
    (and when it ends, they all do).
    """
    exe = bwrap_path()
    if exe is None:
        raise SandboxUnavailable(INSTALL_HINT)
    root = os.geteuid() == 0
    cmd = [exe]
    if not root:
        cmd += ["--unshare-user", "--uid", str(limits.sandbox_uid), "--gid", str(SANDBOX_GID)]
    cmd += [
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--die-with-parent", "--new-session",
        "--hostname", "sandbox", "--clearenv", "--unsetenv", "JPY_PARENT_PID",
    ]
    if as_pid_1:
        cmd.append("--as-pid-1")
    for k, v in env.items():
        cmd += ["--setenv", k, v]

    made: set[Path] = set()

    def mkdirs(dest: Path) -> None:
        # bwrap creates missing parents 0700 (root-only); make them traversable.
        for p in _ancestors(dest):
            if p not in made and p not in (Path("/usr"), Path("/tmp")):
                cmd.extend(["--perms", "0755", "--dir", str(p)])
                made.add(p)

    # Fresh /proc, /dev and /tmp first: binds below may lie under /tmp (a venv, the scratch folder)
    # and must be mounted over the tmpfs, not hidden by it.
    cmd += [
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
        "--perms", "1777", "--size", str(64 * 1024 * 1024), "--tmpfs", "/dev/shm",
    ]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            cmd += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            cmd += ["--ro-bind", str(host), str(host)]
    cmd += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_FILES:
        if name in etc_files:
            continue
        host = Path("/etc") / name
        if host.exists():
            mkdirs(host)
            cmd += ["--ro-bind", str(host), str(host)]
    for name, src in etc_files.items():
        cmd += ["--ro-bind", str(src), f"/etc/{name}"]
    for d in _python_dirs():
        mkdirs(d)
        cmd += ["--ro-bind", str(d), str(d)]
    if limits.gpu:
        cmd += gpu_device_binds()
    for b in ro_binds:
        check_bind_source(b.src)
        mkdirs(b.dest)
        cmd += ["--ro-bind", str(b.src), str(b.dest)]
    mkdirs(scratch)
    cmd += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch), "--"]
    if root:
        cmd += [
            shutil.which("setpriv") or "setpriv",
            "--reuid", str(limits.sandbox_uid), "--regid", str(SANDBOX_GID), "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]
    return cmd + prlimit_args(limits) + list(argv)


def gpu_device_binds() -> list[str]:
    """NVIDIA device nodes, so CUDA works in the sandbox on a GPU runner (none elsewhere). The
    driver's user-space libraries are already visible through /usr."""
    binds = []
    for node in sorted(glob.glob("/dev/nvidia*")):
        if os.path.exists(node) and not os.path.isdir(node):
            binds += ["--dev-bind", node, node]
    if os.path.isdir("/dev/nvidia-caps"):
        binds += ["--dev-bind", "/dev/nvidia-caps", "/dev/nvidia-caps"]
    return binds


def unsandboxed_command(argv: Sequence[str], limits) -> list[str]:
    """Plain subprocess with the same limits where possible (trusted code only)."""
    # No uid drop here: the python installation may live under a 0700 home
    # (e.g. /root/.pyenv), so RLIMIT_NPROC is not enforced when run as root.
    cmd: list[str] = []
    if shutil.which("prlimit"):
        cmd += prlimit_args(limits)
    return cmd + list(argv)
