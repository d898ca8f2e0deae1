"""Environment variables and paths.

Everything is read at call time, not import time, so tests (and notebooks) can change the
environment after ``import data``.

COURSE_DATA_MIRROR   path to a local mirror laid out like the CI mirror (mnist/, cifar10/,
                     brain_tumor_mri/). When set, loaders read only from it: no network.
COURSE_DATA_CACHE    cache directory (downloads and decoded arrays). Default: the platform's
                     user cache dir, via ``pooch.os_cache("convcourse")``.
COURSE_DATA_OFFLINE  "1" (or true/yes/on) forbids any network access.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataUnavailableError

ENV_MIRROR = "COURSE_DATA_MIRROR"
ENV_CACHE = "COURSE_DATA_CACHE"
ENV_OFFLINE = "COURSE_DATA_OFFLINE"

APP_NAME = "convcourse"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def mirror_dir() -> Path | None:
    """The mirror directory, or None when COURSE_DATA_MIRROR is unset or empty."""
    value = os.environ.get(ENV_MIRROR, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        # A typo here would otherwise silently fall through to a download.
        raise DataUnavailableError(
            f"{ENV_MIRROR}={value!r} is not a directory. Point it at a folder laid out like "
            "the course mirror (mnist/, cifar10/, brain_tumor_mri/) or unset it."
        )
    return path


def cache_dir() -> Path:
    """Cache directory for downloads and decoded arrays (not created here)."""
    value = os.environ.get(ENV_CACHE, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    import pooch  # deferred: only needed for the platform default

    return Path(pooch.os_cache(APP_NAME))


def offline() -> bool:
    """True when COURSE_DATA_OFFLINE forbids the network."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}
