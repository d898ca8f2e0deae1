"""Deterministic orderings and the grader's held-out split.

Nothing here uses a random number generator: the rules depend only on labels and indices, so
they give the same answer on every machine and every NumPy version.

Held-out rule (``heldout_mask``): within each class, take the test images of that class in the
order the loader returns the test set; the 2nd, 4th, 6th, ... of them (odd positions, counting
from 0) are held out. That is half of each class (rounded down), stratified by construction.
The brain MRI folder, which has no test set of its own, uses the same rule with ``every=5`` on
its distinct images (the 5th, 10th, 15th, ... of each class in natural file order; copies of an
image go with it; see ``data.brain_mri.split_files``).
"""

from __future__ import annotations

import hashlib

import numpy as np


def heldout_mask(y: np.ndarray, every: int = 2) -> np.ndarray:
    """Boolean mask of the held-out examples: the every-th, 2*every-th, ... of each class.

    ``every=2`` (the default) is the test-set rule of the module docstring.
    """
    if int(every) < 2:
        raise ValueError(f"every must be at least 2, got {every!r}")
    y = np.asarray(y)
    mask = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        mask[np.flatnonzero(y == label)[every - 1::every]] = True
    return mask


def split_test(x_test: np.ndarray, y_test: np.ndarray):
    """(public x, public y), (held-out x, held-out y); both keep the original order."""
    mask = heldout_mask(y_test)
    return (x_test[~mask], y_test[~mask]), (x_test[mask], y_test[mask])


def stable_permutation(n: int, salt: str) -> np.ndarray:
    """A fixed pseudo-random order of range(n): sort indices by sha256(f"{salt}:{i}").

    Used to shuffle mirror files that are stored sorted by class, so Keras'
    ``validation_split`` (which takes the last rows) does not get a single class.
    """
    digests = b"".join(hashlib.sha256(f"{salt}:{i}".encode()).digest()[:8] for i in range(n))
    keys = np.frombuffer(digests, dtype=">u8")
    return np.argsort(keys, kind="stable")
