"""Held-out access for the grader, and the read-only data cache handed to student sandboxes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import brain_mri, cache, cifar10, config, mnist, store

SPECS = {"mnist": mnist.SPEC, "cifar10": cifar10.SPEC}
STUDENT_NAMES = (*SPECS, "brain_mri")


HELDOUT_NAMES = (*SPECS, "brain_mri")


def load_heldout(name: str, image_size: tuple[int, int] | None = None,
                 decoder: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grader-only ``(x, y)``: the part of the data that the student-visible loaders leave out.

    ``"mnist"``, ``"cifar10"``: the half of the test set that ``load_<name>()`` leaves out
    (``image_size`` and ``decoder`` must stay None). ``"brain_mri"``: every fifth distinct image of
    each class of the MRI folder (``data.brain_mri.split_files``) at ``image_size`` (default
    128 x 128): uint8 (N, H, W, 3) RGB decoded like ``load_brain_mri``, or with
    ``decoder="keras"`` float32 in [0, 255] as ``keras.utils.image_dataset_from_directory`` yields
    them; y uint8 with no = 0, yes = 1. Deterministic (see ``data.splits``), stratified per class,
    disjoint from everything the public loaders return. Never written to a student cache.
    """
    if name == "brain_mri":
        return brain_mri.load_heldout(brain_mri.HELDOUT_IMAGE_SIZE if image_size is None else tuple(image_size),
                                      decoder or "opencv")
    if name not in SPECS:
        raise ValueError(f"no held-out split for {name!r}; choose one of {HELDOUT_NAMES}")
    if image_size is not None or decoder is not None:
        raise ValueError(f"{name} images have one size and one decoder; image_size and decoder are only for 'brain_mri'")
    arrays = store.load_part(SPECS[name], "heldout")
    return arrays["x"], arrays["y"]


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _copy_public_images(dst: Path) -> None:
    """dst/no and dst/yes: exactly the public MRI files (held-out ones of an older copy removed)."""
    brain_mri.sync_public_copy(brain_mri.public_image_files(), dst)
    if brain_mri.in_student_cache():
        return  # copied from a student cache: public files only
    held = {(brain_mri.CLASS_NAMES[label], path.name) for path, label in brain_mri.heldout_image_files()}
    there = {(p.parent.name, p.name) for p in dst.rglob("*") if p.is_file()}
    if held & there:
        raise RuntimeError(f"{dst} contains held-out MRI files {sorted(held & there)}; use an empty folder")


def prepare_student_cache(dest, names=("mnist",)) -> Path:
    """Write the student-visible data for ``names`` into ``dest`` and return ``dest``.

    With ``COURSE_DATA_CACHE=dest``, ``COURSE_DATA_OFFLINE=1`` and no mirror, ``load_mnist()``
    etc. then work from ``dest`` alone. Only the public arrays are copied (train + public test);
    the held-out split is never written. ``names`` may contain "mnist", "cifar10", "brain_mri"
    (photos and the gas series ship inside the package). The data come from wherever the
    loaders read now (mirror or canonical), and ``dest/profile.json`` records that profile so
    ``profile()`` reports it inside the sandbox. For "brain_mri" only the public files are
    copied (``dest/brain_tumor_mri``), never the held-out fifth.
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
            _copy_public_images(dest / brain_mri.DIRNAME)
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
