"""Shared test setup: tests read the offline dataset mirror and never download."""
import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "datasets"

if MIRROR.exists():
    os.environ.setdefault("COURSE_DATA_MIRROR", str(MIRROR))
os.environ.setdefault("COURSE_DATA_OFFLINE", "1")
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"dataset mirror not found at {MIRROR}")
# nbgrader shells out to alembic, which lives next to this interpreter.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def mirror_env(monkeypatch, tmp_path):
    """The dataset mirror, a fresh cache in tmp_path/cache, and no network at the socket level."""
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(MIRROR))
    monkeypatch.setenv("COURSE_DATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("a data test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    return tmp_path / "cache"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; runs on the self-hosted `gpu` runner")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
