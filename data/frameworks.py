"""Wrap NumPy arrays for TensorFlow or PyTorch. Both frameworks are imported only when called."""

from __future__ import annotations

import numpy as np


def to_tf_dataset(x, y, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """A batched, prefetched ``tf.data.Dataset`` of (x, y); dtypes are kept as given.

    With ``shuffle`` the order changes every epoch but is reproducible for a given ``seed``.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y)))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def to_torch_loader(x, y, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """A ``torch.utils.data.DataLoader`` of (x, y) tensors.

    x keeps its dtype and layout (NHWC for images; use ``x.permute(0, 3, 1, 2).float() / 255``
    for a conv net). Integer labels become int64, which torch's classification losses require.
    With ``shuffle`` the order is reproducible for a given ``seed``.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer):
        y = y.astype(np.int64)
    data = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
