"""Shared test setup: tests read the offline dataset mirror and never download."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "datasets"

if MIRROR.exists():
    os.environ.setdefault("COURSE_DATA_MIRROR", str(MIRROR))
os.environ.setdefault("COURSE_DATA_OFFLINE", "1")
# nbgrader shells out to alembic, which lives next to this interpreter.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


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
