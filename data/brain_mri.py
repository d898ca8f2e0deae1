"""Brain MRI "yes"/"no" image folder (tumour / no tumour), for directory-based loading questions.

The public "Brain MRI Images for Brain Tumor Detection" set (Kaggle,
navoneel/brain-mri-images-for-brain-tumor-detection) has no direct download URL (Kaggle needs a
login), so it is found either in the mirror (COURSE_DATA_MIRROR/brain_tumor_mri) or where you
unzipped it: <cache>/brain_tumor_mri (the cache is COURSE_DATA_CACHE or the platform default).
The files are messy on purpose: mixed extensions (.jpg .JPG .jpeg .png), spaces in names,
different sizes, grey, colour and RGBA images.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from . import config, sources
from .errors import DataUnavailableError

CLASS_NAMES = ("no", "yes")  # alphabetical, as keras.utils.image_dataset_from_directory orders them
DIRNAME = "brain_tumor_mri"
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp"}


def _has_classes(path: Path) -> bool:
    return all((path / c).is_dir() for c in CLASS_NAMES)


def brain_mri_directory() -> Path:
    """Folder containing ``yes/`` and ``no/`` sub-folders of images."""
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
    """(path, label) for every image, classes in CLASS_NAMES order, files in natural order."""
    root = directory if directory is not None else brain_mri_directory()
    out = []
    for label, name in enumerate(CLASS_NAMES):
        files = [p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        out += [(p, label) for p in sorted(files, key=_natural_key)]
    return out


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


def load_brain_mri(image_size: tuple[int, int] = (128, 128), directory=None):
    """``(x, y, class_names)``: x uint8 (N, H, W, 3) RGB, y uint8 with no=0, yes=1.

    Every image is resized to ``image_size`` = (height, width) without keeping the aspect
    ratio, like ``image_dataset_from_directory``; grey and RGBA files become RGB. Unreadable
    files are skipped with a warning. ``directory`` defaults to ``brain_mri_directory()``.
    """
    images, labels, skipped = [], [], []
    for path, label in image_files(Path(directory) if directory is not None else None):
        img = read_rgb(path, tuple(image_size))
        if img is None:
            skipped.append(path.name)
            continue
        images.append(img)
        labels.append(label)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {skipped}", stacklevel=2)
    x = np.stack(images) if images else np.empty((0, *image_size, 3), np.uint8)
    return x, np.asarray(labels, dtype=np.uint8), list(CLASS_NAMES)
