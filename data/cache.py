"""Decoded-array cache: one uncompressed .npz per (dataset, profile, source checksum, part).

Writes are atomic (temp file in the same directory, then os.replace) so concurrent loaders
(pytest-xdist, several kernels) never see half-written files. An unwritable cache directory
is not an error: loading still works, it just decodes again next time.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import config

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the decoded layout changes, so stale entries are ignored
SUBDIR = "arrays"


def entry_name(dataset: str, profile: str, digest: str, part: str) -> str:
    return f"{dataset}-{profile}-{digest}-v{FORMAT_VERSION}-{part}.npz"


def entry_path(name: str, root: Path | None = None) -> Path:
    return (root if root is not None else config.cache_dir()) / SUBDIR / name


def read(name: str, root: Path | None = None) -> dict[str, np.ndarray] | None:
    """Arrays of a cache entry, or None if absent or unreadable (then it is rebuilt)."""
    path = entry_path(name, root)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable cache entry %s: %s", path, exc)
        return None


def write(name: str, arrays: dict[str, np.ndarray], root: Path | None = None) -> Path | None:
    """Atomically store arrays; returns the path, or None when the cache is not writable."""
    path = entry_path(name, root)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        # mkstemp makes 0600 files; the sandboxed kernel runs as another user and must read them.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return path
    except OSError as exc:  # read-only or full disk: keep going without a cache
        log.info("not caching %s: %s", path, exc)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return None
