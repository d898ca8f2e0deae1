"""Where the raw files come from, and their sha256 checksums.

Two kinds of source:

* canonical: the public URLs, downloaded with pooch (checksum-verified, progress bar) into
  ``<cache>/downloads``;
* mirror: a local folder (COURSE_DATA_MIRROR) laid out like the CI mirror; files are verified
  against the sha256 published in the mirror's README before they are decoded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import config
from .errors import ChecksumError, DataUnavailableError


@dataclass(frozen=True)
class Canonical:
    url: str
    sha256: str
    size: int  # bytes, for messages only


# Both hashes are the values keras.datasets pins for the same files (keras.utils.get_file
# file_hash); sizes match the published byte counts. CIFAR-10's md5 from the Toronto page
# is c58f30108f718f92721af3b95e74349a (torchvision pins it); we pin the sha256.
CANONICAL: dict[str, Canonical] = {
    "mnist.npz": Canonical(
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        size=11_490_434,
    ),
    "cifar-10-python.tar.gz": Canonical(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        size=170_498_071,
    ),
}

# From the README of the CI mirror (/work/shared/datasets/README.md).
MIRROR: dict[str, str] = {
    "mnist/mnist_5k_train.csv.gz": "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    "mnist/t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "mnist/t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    "cifar10/cifar10-jpeg.tar.gz": "d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965",
}

BRAIN_MRI_KAGGLE = "https://www.kaggle.com/datasets/navoneel/brain-mri-images-for-brain-tumor-detection"


def source_digest(files: list[str], table: dict[str, str]) -> str:
    """Short stable id of a set of source files (used in cache keys)."""
    joined = "\n".join(f"{name}:{table[name]}" for name in sorted(files))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def canonical_digest(fname: str) -> str:
    return CANONICAL[fname].sha256[:16]


def mirror_file(relpath: str) -> Path:
    """Path of a mirror file after checking it exists and matches its sha256."""
    import pooch

    root = config.mirror_dir()
    if root is None:
        raise DataUnavailableError(f"{config.ENV_MIRROR} is not set; cannot read {relpath}.")
    path = root / relpath
    if not path.is_file():
        raise DataUnavailableError(
            f"The mirror at {root} has no {relpath}. Point {config.ENV_MIRROR} at a folder laid "
            f"out like the course mirror, which contains: {', '.join(sorted(MIRROR))}."
        )
    actual = pooch.file_hash(str(path), alg="sha256")
    if actual != MIRROR[relpath]:
        raise ChecksumError(
            f"{path} has sha256 {actual}, expected {MIRROR[relpath]}. The mirror file is "
            "corrupt or a different version; replace it with the published one."
        )
    return path


def fetch_canonical(fname: str, what: str, mirror_hint: str) -> Path:
    """Download (or reuse) a canonical file with pooch; never touches the network offline.

    ``what`` names the dataset and ``mirror_hint`` lists the mirror files that would replace
    the download, both for the error message.
    """
    import pooch

    src = CANONICAL[fname]
    downloads = config.cache_dir() / "downloads"
    local = downloads / fname
    # Reuse a previous download without asking pooch (which might want to write).
    if local.is_file() and pooch.file_hash(str(local)) == src.sha256:
        return local
    how = (
        f"{what} is not available. Either\n"
        f"  * download {src.url} ({src.size / 1e6:.0f} MB, sha256 {src.sha256}) "
        f"into {downloads}/ (or run `python -m data fetch` on a machine with internet "
        f"and copy the cache; {config.ENV_CACHE} moves it), or\n"
        f"  * set {config.ENV_MIRROR} to a local mirror containing {mirror_hint}."
    )
    if config.offline():
        raise DataUnavailableError(f"{config.ENV_OFFLINE} is set, so nothing is downloaded. {how}")
    try:
        path = pooch.retrieve(
            url=src.url,
            known_hash=f"sha256:{src.sha256}",
            fname=fname,
            path=downloads,
            progressbar=True,
        )
    except ValueError as exc:  # pooch reports a hash mismatch as ValueError
        raise ChecksumError(f"Download of {src.url} failed verification: {exc}") from exc
    except Exception as exc:  # network, DNS, permissions: all mean "not available"
        raise DataUnavailableError(f"Downloading {src.url} failed ({exc!r}). {how}") from exc
    return Path(path)
