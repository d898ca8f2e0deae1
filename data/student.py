"""Held-out access for the grader, and the read-only data cache handed to student sandboxes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import brain_mri, cache, cifar10, config, mnist, store

SPECS = {"mnist": mnist.SPEC, "cifar10": cifar10.SPEC}
STUDENT_NAMES = (*SPECS, "brain_mri")


def load_heldout(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Grader-only ``(x, y)``: the half of the test set that ``load_<name>()`` leaves out.

    Deterministic (see ``data.splits``), stratified per class, disjoint from everything the
    public loader returns. Never written to a student cache.
    """
    if name not in SPECS:
        raise ValueError(f"no held-out split for {name!r}; choose one of {tuple(SPECS)}")
    arrays = store.load_part(SPECS[name], "heldout")
    return arrays["x"], arrays["y"]


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _copy_images(src: Path, dst: Path) -> None:
    # Plain file copies: permissions of a read-only mirror must not make dest unwritable.
    for path, label in brain_mri.image_files(src):
        target = dst / brain_mri.CLASS_NAMES[label] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == path.stat().st_size:
            continue
        shutil.copyfile(path, target)
        os.chmod(target, 0o644)


def prepare_student_cache(dest, names=("mnist",)) -> Path:
    """Write the student-visible data for ``names`` into ``dest`` and return ``dest``.

    With ``COURSE_DATA_CACHE=dest``, ``COURSE_DATA_OFFLINE=1`` and no mirror, ``load_mnist()``
    etc. then work from ``dest`` alone. Only the public arrays are copied (train + public test);
    the held-out split is never written. ``names`` may contain "mnist", "cifar10", "brain_mri"
    (photos and the gas series ship inside the package). The data come from wherever the
    loaders read now (mirror or canonical), and ``dest/profile.json`` records that profile so
    ``profile()`` reports it inside the sandbox.
    """
    dest = Path(dest).expanduser().resolve()
    unknown = set(names) - set(STUDENT_NAMES)
    if unknown:
        raise ValueError(f"unknown dataset(s) {sorted(unknown)}; choose from {STUDENT_NAMES}")
    if dest == config.cache_dir():
        # The working cache holds held-out arrays; a student cache must be a separate folder.
        raise ValueError(f"dest must not be the working cache directory {dest}")
    prof = store.profile()
    dest.mkdir(parents=True, exist_ok=True)
    old = store.pinned_profile(dest)
    if old is not None and old != prof:
        raise ValueError(f"{dest} already holds {old!r} data; use an empty folder for {prof!r} data")
    for name in names:
        if name == "brain_mri":
            _copy_images(brain_mri.brain_mri_directory(), dest / brain_mri.DIRNAME)
            continue
        spec = SPECS[name]
        entry = spec.entry(prof, "public")
        if cache.entry_path(entry, dest).is_file():  # entries are named by content: already there
            continue
        arrays = store.load_part(spec, "public")
        if cache.write(entry, arrays, root=dest) is None:
            raise OSError(f"could not write the student cache in {dest}")
    _write_text_atomic(dest / store.PIN_FILE, json.dumps({"profile": prof}) + "\n")
    leaked = sorted(p.name for p in dest.rglob("*-heldout.npz"))
    if leaked:
        raise RuntimeError(f"{dest} contains held-out arrays {leaked}; use an empty folder")
    return dest
