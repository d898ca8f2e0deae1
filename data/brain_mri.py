"""Brain MRI "yes"/"no" image folder (tumour / no tumour), for directory-based loading questions.

The public "Brain MRI Images for Brain Tumor Detection" set (Kaggle,
navoneel/brain-mri-images-for-brain-tumor-detection) has no direct download URL (Kaggle needs a
login), so it is found either in the mirror (COURSE_DATA_MIRROR/brain_tumor_mri) or where you
unzipped it: <cache>/brain_tumor_mri (the cache is COURSE_DATA_CACHE or the platform default).
The files are messy on purpose: mixed extensions (.jpg .JPG .jpeg .png), spaces in names,
different sizes, grey, colour and RGBA images.

Held-out part (grader only): within each class, in the natural file order of ``image_files``,
every fifth distinct image (the 5th, 10th, 15th, ...) is held out, with every byte-identical copy
of it (the folder has some); see ``split_files``.
``brain_mri_directory()`` and ``load_brain_mri()`` give only the other, public files: from the
complete folder they build a public copy in ``<cache>/brain_tumor_mri-public``; a student cache
(``prepare_student_cache``) holds nothing but the public files already. ``load_heldout("brain_mri")``
decodes the held-out files for the grader.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import config, sources, splits
from .errors import DataUnavailableError

CLASS_NAMES = ("no", "yes")  # alphabetical, as keras.utils.image_dataset_from_directory orders them
DIRNAME = "brain_tumor_mri"
PUBLIC_DIRNAME = DIRNAME + "-public"  # the public copy built in the cache from a complete folder
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp"}
HELDOUT_EVERY = 5  # the 5th, 10th, 15th, ... distinct image of each class is held out for the grader
HELDOUT_IMAGE_SIZE = (128, 128)


def _has_classes(path: Path) -> bool:
    return all((path / c).is_dir() for c in CLASS_NAMES)


def in_student_cache() -> bool:
    """True inside a student cache (no mirror, a pinned cache): its folder holds only public files."""
    from . import store  # deferred: store is not needed to find the folder

    return config.mirror_dir() is None and store.pinned_profile(config.cache_dir()) is not None


def source_directory() -> Path:
    """The folder as found: the mirror's or the unzipped Kaggle one, held-out files included.

    Inside a student cache this is the cache's own folder, which holds only the public files.
    Students and notebooks use ``brain_mri_directory()`` instead.
    """
    candidates = []
    mirror = config.mirror_dir()
    if mirror is not None:
        candidates.append(mirror / DIRNAME)
    cached = config.cache_dir() / DIRNAME
    # The Kaggle zip nests a copy under brain_tumor_dataset/; accept either layout.
    candidates += [cached, cached / "brain_tumor_dataset"]
    for path in candidates:
        if _has_classes(path):
            return path
    raise DataUnavailableError(
        "The brain MRI images are not available (there is no direct download: Kaggle needs a "
        f"login). Download {sources.BRAIN_MRI_KAGGLE} and unzip it so that {cached}/yes and "
        f"{cached}/no exist ({config.ENV_CACHE} moves {cached.parent}), or set "
        f"{config.ENV_MIRROR} to a mirror that contains {DIRNAME}/yes and {DIRNAME}/no."
    )


def _natural_key(path: Path):
    # "Y2" before "Y10", like a person would sort them.
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def image_files(directory: Path | None = None) -> list[tuple[Path, int]]:
    """(path, label) for every image, classes in CLASS_NAMES order, files in natural order.

    ``directory`` defaults to ``brain_mri_directory()`` (the public files).
    """
    root = directory if directory is not None else brain_mri_directory()
    out = []
    for label, name in enumerate(CLASS_NAMES):
        files = [p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        out += [(p, label) for p in sorted(files, key=_natural_key)]
    return out


def split_files(files: list[tuple[Path, int]]):
    """(public, held out) of a complete folder's ``image_files``; both keep the order.

    The folder holds byte-identical copies of some images under other names, so the rule works on
    distinct images: a file whose bytes equal those of an earlier file (in ``image_files`` order) is
    a copy of it. Within each class, every fifth distinct image (the 5th, 10th, 15th, ...) is held
    out (``splits.heldout_mask(labels, every=HELDOUT_EVERY)``), its first file in the held-out list
    and every copy of it out of the public one: no held-out image is ever visible to students.
    """
    digests = [hashlib.sha256(path.read_bytes()).digest() for path, _ in files]
    first: dict[bytes, int] = {}
    for i, digest in enumerate(digests):
        first.setdefault(digest, i)
    distinct = sorted(first.values())
    mask = splits.heldout_mask(np.array([files[i][1] for i in distinct], dtype=np.int64), every=HELDOUT_EVERY)
    held = [distinct[k] for k in np.flatnonzero(mask)]
    held_digests = {digests[i] for i in held}
    public = [f for f, digest in zip(files, digests) if digest not in held_digests]
    return public, [files[i] for i in held]


def public_image_files() -> list[tuple[Path, int]]:
    """(path, label) of the student-visible files, in the source folder, in ``image_files`` order."""
    files = image_files(source_directory())
    return files if in_student_cache() else split_files(files)[0]


def heldout_image_files() -> list[tuple[Path, int]]:
    """Grader-only: (path, label) of the held-out files, in ``image_files`` order."""
    if in_student_cache():
        raise DataUnavailableError("The brain MRI held-out files are grader-only and never part of a student cache.")
    return split_files(image_files(source_directory()))[1]


def sync_public_copy(files: list[tuple[Path, int]], root: Path) -> Path:
    """Make ``root/no`` and ``root/yes`` hold exactly ``files`` (plain copies) and return ``root``.

    Files already there with the same size and time are kept; any other image there (a held-out
    file of an older copy, say) is removed. Copies are written to a temporary name and renamed,
    so that concurrent callers never see half a file.
    """
    wanted = {(CLASS_NAMES[label], path.name): path for path, label in files}
    for name in CLASS_NAMES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for existing in folder.iterdir():
            # Names starting with "." are another caller's temporary files.
            if existing.name.startswith(".") or (name, existing.name) in wanted or not existing.is_file():
                continue
            try:
                existing.unlink()
            except FileNotFoundError:
                pass
    for (name, fname), src in wanted.items():
        target = root / name / fname
        stat = src.stat()
        try:
            current = target.stat()
            if current.st_size == stat.st_size and current.st_mtime_ns == stat.st_mtime_ns:
                continue
        except FileNotFoundError:
            pass
        fd, tmp = tempfile.mkstemp(prefix=f".{fname}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            # Plain file copies: permissions of a read-only mirror must not make root unwritable.
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o644)
            os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return root


def brain_mri_directory() -> Path:
    """Folder containing ``yes/`` and ``no/`` sub-folders of the public images (no held-out file).

    Read it with ``keras.utils.image_dataset_from_directory`` or any image-folder loader. From a
    complete folder (mirror or Kaggle download) this is a copy of its public files in
    ``<cache>/brain_tumor_mri-public`` (in the system's temporary folder if the cache is not
    writable); in a student cache, the cache's own folder.
    """
    source = source_directory()
    if in_student_cache():
        return source
    public = split_files(image_files(source))[0]
    roots = [config.cache_dir() / PUBLIC_DIRNAME]
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    roots.append(Path(tempfile.gettempdir()) / f"convcourse-{user}" / PUBLIC_DIRNAME)
    for root in roots:
        try:
            return sync_public_copy(public, root)
        except OSError as exc:
            error = exc
    raise DataUnavailableError(f"could not write the public copy of the brain MRI images to {roots[0]} ({error})")


def read_rgb(path: Path, image_size: tuple[int, int]) -> np.ndarray | None:
    """Decode any grey/colour/RGBA file to uint8 RGB of ``image_size`` (height, width)."""
    import cv2

    # imdecode(np.fromfile) instead of imread: robust to unusual characters in file names.
    img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)  # always 3 channels
    if img is None:
        return None
    height, width = image_size
    shrinking = img.shape[0] > height or img.shape[1] > width
    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _decode(files: list[tuple[Path, int]], image_size) -> tuple[np.ndarray, np.ndarray]:
    images, labels, skipped = [], [], []
    for path, label in files:
        img = read_rgb(path, tuple(image_size))
        if img is None:
            skipped.append(path.name)
            continue
        images.append(img)
        labels.append(label)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {skipped}", stacklevel=3)
    x = np.stack(images) if images else np.empty((0, *image_size, 3), np.uint8)
    return x, np.asarray(labels, dtype=np.uint8)


def load_brain_mri(image_size: tuple[int, int] = (128, 128), directory=None):
    """``(x, y, class_names)``: x uint8 (N, H, W, 3) RGB, y uint8 with no=0, yes=1.

    Every image is resized to ``image_size`` = (height, width) without keeping the aspect
    ratio, like ``image_dataset_from_directory``; grey and RGBA files become RGB. Unreadable
    files are skipped with a warning. Without ``directory``: the public files, those of
    ``brain_mri_directory()``, in the same order; with it, every image of that folder.
    """
    files = public_image_files() if directory is None else image_files(Path(directory))
    x, y = _decode(files, image_size)
    return x, y, list(CLASS_NAMES)


def _decode_like_keras(files: list[tuple[Path, int]], image_size) -> tuple[np.ndarray, np.ndarray]:
    """As ``keras.utils.image_dataset_from_directory`` reads files: TensorFlow's decoder, 3 channels,
    bilinear resize without antialiasing; float32 values in [0, 255], not rounded."""
    import tensorflow as tf

    images = []
    for path, _ in files:
        img = tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
        images.append(tf.image.resize(img, tuple(image_size), method="bilinear").numpy())
    x = np.stack(images).astype(np.float32) if images else np.empty((0, *image_size, 3), np.float32)
    return x, np.asarray([label for _, label in files], dtype=np.uint8)


DECODERS = ("opencv", "keras")


def load_heldout(image_size: tuple[int, int] = HELDOUT_IMAGE_SIZE, decoder: str = "opencv") -> tuple[np.ndarray, np.ndarray]:
    """Grader-only ``(x, y)`` of the held-out files, y uint8 with no = 0, yes = 1.

    ``decoder="opencv"``: uint8 RGB decoded as ``load_brain_mri`` decodes (area interpolation when
    shrinking). ``decoder="keras"``: float32 in [0, 255] exactly as
    ``keras.utils.image_dataset_from_directory`` yields them (imports TensorFlow). The two differ by
    a few grey levels per pixel, enough to move a model trained on one by an image or two.
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, not {decoder!r}")
    files = heldout_image_files()
    return _decode(files, image_size) if decoder == "opencv" else _decode_like_keras(files, image_size)
