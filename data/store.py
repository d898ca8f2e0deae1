"""Profile selection and the decode-once, split, cache flow shared by MNIST and CIFAR-10."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import cache, config, sources, splits
from .errors import DataUnavailableError

PIN_FILE = "profile.json"  # written by prepare_student_cache; remembers the data's profile

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # "mnist"
    title: str  # "MNIST", for messages
    canonical_file: str  # key of sources.CANONICAL
    mirror_files: tuple[str, ...]  # keys of sources.MIRROR
    build: Callable[[str], Raw]  # profile -> raw arrays in the loader's documented order

    def digest(self, profile: str) -> str:
        if profile == "mirror":
            return sources.source_digest(list(self.mirror_files), sources.MIRROR)
        return sources.canonical_digest(self.canonical_file)

    def entry(self, profile: str, part: str) -> str:
        return cache.entry_name(self.name, profile, self.digest(profile), part)


def pinned_profile(root: Path) -> str | None:
    try:
        value = json.loads((root / PIN_FILE).read_text())["profile"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if value in ("full", "mirror") else None


def profile() -> str:
    """"mirror" when reading the CI mirror (or a student cache built from it), else "full"."""
    if config.mirror_dir() is not None:
        return "mirror"
    return pinned_profile(config.cache_dir()) or "full"


def build_parts(spec: DatasetSpec, prof: str) -> dict[str, dict[str, np.ndarray]]:
    """Decode once and split into the student-visible and the held-out part."""
    x_train, y_train, x_test, y_test = spec.build(prof)
    (x_pub, y_pub), (x_held, y_held) = splits.split_test(x_test, y_test)
    return {
        "public": {"x_train": x_train, "y_train": y_train, "x_test": x_pub, "y_test": y_pub},
        "heldout": {"x": x_held, "y": y_held},
    }


def load_part(spec: DatasetSpec, part: str) -> dict[str, np.ndarray]:
    """Arrays of ``part`` ("public" or "heldout"), from the cache or decoded and cached."""
    prof = profile()
    cached = cache.read(spec.entry(prof, part))
    if cached is not None:
        return cached
    student_cache = config.mirror_dir() is None and pinned_profile(config.cache_dir()) is not None
    if student_cache and part == "heldout":
        raise DataUnavailableError(
            f"The {spec.title} held-out split is grader-only and never part of a student cache."
        )
    if prof == "mirror" and config.mirror_dir() is None:
        # A student cache built from the mirror: nothing else to fall back on.
        raise DataUnavailableError(
            f"{spec.title} is not in the student cache {config.cache_dir()}. The instructor "
            f"should run prepare_student_cache(dest, names=(..., {spec.name!r})) with "
            f"{config.ENV_MIRROR} set, or set {config.ENV_MIRROR} to the course mirror."
        )
    parts = build_parts(spec, prof)
    for name, arrays in parts.items():
        cache.write(spec.entry(prof, name), arrays)
    return parts[part]
