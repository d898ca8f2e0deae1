"""CIFAR-10: uint8 images (N, 32, 32, 3) RGB, uint8 labels (N,) in ``CIFAR10_CLASSES`` order.

full profile: the official python pickles (50,000 train, 10,000 test) in their original order.
mirror profile: the CI mirror's JPEG re-encoding of all 60,000 images (lossy, so pixels differ
slightly from the originals). Its files are sorted by class; the loader returns them in a fixed
shuffled order (``splits.stable_permutation``) so the order looks like the original's.

The test set returned by ``load_cifar10`` excludes the grader's held-out half.
"""

from __future__ import annotations

import os
import pickle
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import sources, store
from .splits import stable_permutation

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
MIRROR_TAR = "cifar10/cifar10-jpeg.tar.gz"


def _decode_jpegs(blobs: list[bytes]) -> np.ndarray:
    import cv2  # deferred: keeps `import data` light

    out = np.empty((len(blobs), 32, 32, 3), dtype=np.uint8)

    def work(start: int) -> None:
        for i in range(start, min(start + 2000, len(blobs))):
            img = cv2.imdecode(np.frombuffer(blobs[i], np.uint8), cv2.IMREAD_COLOR)
            if img is None or img.shape != (32, 32, 3):
                raise ValueError(f"CIFAR-10 mirror: image {i} is not a 32x32 colour JPEG")
            out[i] = img[:, :, ::-1]  # OpenCV decodes to BGR

    # cv2.imdecode releases the GIL, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(work, range(0, len(blobs), 2000)))
    return out


def decode_mirror() -> store.Raw:
    from tqdm.auto import tqdm

    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    files: dict[str, list[tuple[int, int, bytes]]] = {"train": [], "test": []}
    path = sources.mirror_file(MIRROR_TAR)
    with tarfile.open(path, "r:gz") as tar:
        # Members look like train/<class>/<n>.jpg.
        for member in tqdm(tar, desc="CIFAR-10 mirror", unit=" files", disable=None):
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or not parts[2].endswith(".jpg"):
                continue
            split, cls, fname = parts
            files[split].append((index[cls], int(fname[:-4]), tar.extractfile(member).read()))
    result = []
    for split in ("train", "test"):
        items = sorted(files[split], key=lambda t: t[:2])  # by class, then file number
        order = stable_permutation(len(items), f"cifar10-{split}")
        x = _decode_jpegs([items[i][2] for i in order])
        y = np.array([items[i][0] for i in order], dtype=np.uint8)
        result += [x, y]
    return tuple(result)


def decode_full(path: Path) -> store.Raw:
    def batch(tar: tarfile.TarFile, name: str):
        with tar.extractfile(f"cifar-10-batches-py/{name}") as fh:
            # Pickle is safe enough here: the archive's sha256 was verified by pooch.
            d = pickle.load(fh, encoding="bytes")
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x), np.asarray(d[b"labels"], dtype=np.uint8)

    with tarfile.open(path, "r:gz") as tar:
        train = [batch(tar, f"data_batch_{i}") for i in range(1, 6)]
        x_test, y_test = batch(tar, "test_batch")
    x_train = np.concatenate([b[0] for b in train])
    y_train = np.concatenate([b[1] for b in train])
    return x_train, y_train, x_test, y_test


def _build(profile: str) -> store.Raw:
    if profile == "mirror":
        return decode_mirror()
    path = sources.fetch_canonical("cifar-10-python.tar.gz", "CIFAR-10", MIRROR_TAR)
    return decode_full(path)


SPEC = store.DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    canonical_file="cifar-10-python.tar.gz",
    mirror_files=(MIRROR_TAR,),
    build=_build,
)


def load_cifar10():
    """``(x_train, y_train), (x_test, y_test)``; uint8 (N, 32, 32, 3) RGB, uint8 labels 0-9.

    Labels index ``CIFAR10_CLASSES`` (airplane ... truck). The test part is the public half of
    the test set; the grader's held-out half is removed.
    """
    a = store.load_part(SPEC, "public")
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])
