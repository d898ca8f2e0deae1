"""The package imports light; TensorFlow / PyTorch wrappers batch and shuffle reproducibly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = (
        "import sys, data; heavy = [m for m in ('tensorflow', 'torch', 'keras', 'cv2', 'pandas') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def small_arrays():
    x = np.arange(10 * 4 * 4 * 1, dtype=np.uint8).reshape(10, 4, 4, 1)
    y = np.arange(10, dtype=np.uint8)
    return x, y


def test_torch_loader():
    pytest.importorskip("torch")
    x, y = small_arrays()
    batches = list(data.to_torch_loader(x, y, batch_size=4, shuffle=False))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    xb, yb = batches[0]
    assert tuple(xb.shape) == (4, 4, 4, 1) and str(yb.dtype) == "torch.int64"
    assert np.array_equal(xb.numpy(), x[:4])

    def order(seed):
        return np.concatenate([b[1].numpy() for b in data.to_torch_loader(x, y, 3, True, seed)]).tolist()

    assert sorted(order(1)) == list(range(10))
    assert order(1) == order(1) and order(1) != list(range(10))


def test_tf_dataset():
    pytest.importorskip("tensorflow")
    x, y = small_arrays()
    batches = list(data.to_tf_dataset(x, y, batch_size=4, shuffle=False).as_numpy_iterator())
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 4, 4, 1) and batches[0][0].dtype == np.uint8
    assert np.array_equal(batches[0][0], x[:4])

    def order(seed):
        ds = data.to_tf_dataset(x, y, batch_size=3, shuffle=True, seed=seed)
        return np.concatenate([b[1] for b in ds.as_numpy_iterator()]).tolist()

    assert sorted(order(2)) == list(range(10))
    assert order(2) == order(2) and order(2) != list(range(10))
