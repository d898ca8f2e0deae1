"""CIFAR-10 loader against the CI mirror (decoded once per session, then read from the cache)."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest

import data
from data import cifar10
from conftest import MIRROR, needs_mirror

pytestmark = needs_mirror


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Decode the 60k JPEGs once (~4-7 s) into a session-wide cache shared by this module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA_MIRROR", str(MIRROR))
        mp.setenv("COURSE_DATA_CACHE", str(tmp_path_factory.getbasetemp() / "cifar-cache"))
        mp.delenv("COURSE_DATA_OFFLINE", raising=False)
        yield data.load_cifar10(), data.load_heldout("cifar10")


def test_shapes_dtypes_balance(loaded):
    ((x_train, y_train), (x_test, y_test)), (x_held, y_held) = loaded
    assert x_train.shape == (50_000, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (50_000,) and y_train.dtype == np.uint8
    assert x_test.shape == (5_000, 32, 32, 3) and y_test.dtype == np.uint8
    assert x_held.shape == (5_000, 32, 32, 3) and y_held.dtype == np.uint8
    assert np.bincount(y_train, minlength=10).tolist() == [5000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [500] * 10
    assert np.bincount(y_held, minlength=10).tolist() == [500] * 10
    assert np.unique(y_train[-5000:]).size == 10  # not sorted by class


def test_class_order_and_rgb(loaded):
    assert data.CIFAR10_CLASSES == (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    )  # fmt: skip
    ((x_train, y_train), _), _ = loaded
    # Skies and seas are blue: in RGB order, airplanes and ships have more blue than red.
    for name in ("airplane", "ship"):
        images = x_train[y_train == data.CIFAR10_CLASSES.index(name)].astype(np.float64)
        assert images[..., 2].mean() > images[..., 0].mean() + 5, name
    # Frogs are green-brown: less blue than red.
    frogs = x_train[y_train == data.CIFAR10_CLASSES.index("frog")].astype(np.float64)
    assert frogs[..., 2].mean() < frogs[..., 0].mean()


def test_heldout_is_disjoint(loaded):
    ((x_train, _), (x_test, y_test)), (x_held, y_held) = loaded

    def digests(x):
        return {hashlib.sha1(img.tobytes()).digest() for img in x}

    held = digests(x_held)
    assert held.isdisjoint(digests(x_test))
    assert held.isdisjoint(digests(x_train))


def test_second_load_reads_the_cache(loaded, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(MIRROR))
    monkeypatch.setenv("COURSE_DATA_CACHE", str(tmp_path_factory.getbasetemp() / "cifar-cache"))
    monkeypatch.setattr(cifar10, "decode_mirror", lambda: pytest.fail("decoded again"))
    (x_train, _), (_, y_test) = data.load_cifar10()
    assert np.array_equal(x_train[:100], loaded[0][0][0][:100])
    assert np.array_equal(y_test, loaded[0][1][1])


def test_decode_full_converts_pickles_to_nhwc(tmp_path):
    """The canonical archive's layout (CHW rows in python pickles) becomes NHWC RGB."""
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            rows = np.zeros((4, 3072), dtype=np.uint8)
            rows[:, :1024], rows[:, 1024:2048], rows[:, 2048:] = 10, 20, 30  # R, G, B planes
            blob = pickle.dumps({b"data": rows, b"labels": [0, 1, 2, 9]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    x_train, y_train, x_test, y_test = cifar10.decode_full(path)
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert x_train[0, 5, 7].tolist() == [10, 20, 30]
    assert y_test.tolist() == [0, 1, 2, 9] and y_train.dtype == np.uint8
