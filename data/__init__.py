"""Offline-first data loaders for the course.

Arrays are NumPy (uint8 images, uint8 labels). Where data comes from:

* ``COURSE_DATA_MIRROR`` set: a local mirror laid out like the CI mirror; no network at all.
* otherwise: canonical downloads (pooch, sha256-verified) into the cache
  (``COURSE_DATA_CACHE``, default: the platform's user cache dir); ``COURSE_DATA_OFFLINE=1``
  forbids downloading.

Decoded arrays are cached, so only the first load of a dataset is slow. See book/data.md.
Importing this package does not import TensorFlow, PyTorch, OpenCV or pandas.
"""

from __future__ import annotations

from .brain_mri import brain_mri_directory, load_brain_mri
from .cifar10 import CIFAR10_CLASSES, load_cifar10
from .config import cache_dir, mirror_dir
from .errors import ChecksumError, DataUnavailableError
from .frameworks import to_tf_dataset, to_torch_loader
from .gas_series import generate_gas_series, load_gas_series
from .mnist import load_mnist
from .photos import PHOTOS, load_photo
from .store import profile
from .student import load_heldout, prepare_student_cache

__all__ = [
    "CIFAR10_CLASSES",
    "PHOTOS",
    "ChecksumError",
    "DataUnavailableError",
    "brain_mri_directory",
    "cache_dir",
    "generate_gas_series",
    "load_brain_mri",
    "load_cifar10",
    "load_gas_series",
    "load_heldout",
    "load_mnist",
    "load_photo",
    "mirror_dir",
    "prepare_student_cache",
    "profile",
    "to_tf_dataset",
    "to_torch_loader",
]
