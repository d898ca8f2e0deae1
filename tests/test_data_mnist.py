"""MNIST loader against the CI mirror: shapes, order, checksums, caching, offline errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import data
from data import cache, mnist, sources, store
from conftest import MIRROR, needs_mirror

pytestmark = needs_mirror


def count_decodes(monkeypatch):
    calls = []
    real = mnist.decode_mirror

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(mnist, "decode_mirror", counting)
    return calls


def test_shapes_dtypes_and_balance(mirror_env):
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert data.profile() == "mirror"
    assert x_train.shape == (5000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (5000,) and y_train.dtype == np.uint8
    assert np.bincount(y_train, minlength=10).tolist() == [500] * 10
    assert x_test.dtype == np.uint8 and y_test.dtype == np.uint8
    assert x_test.shape[1:] == (28, 28) and len(x_test) == len(y_test)
    x_held, y_held = data.load_heldout("mnist")
    assert len(x_test) + len(x_held) == 10_000
    assert set(np.unique(y_test)) == set(range(10))
    # The official test order starts 7 2 1 0 4; each is its class's first image, so public.
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert 0 < x_train.mean() < 255 and x_train.max() == 255


def test_train_order_is_shuffled_deterministically(mirror_env):
    (_, y_train), _ = data.load_mnist()
    # The mirror CSV is sorted by class; a Keras validation_split takes the last rows.
    assert np.unique(y_train[-500:]).size == 10
    assert not np.all(np.diff(y_train.astype(int)) >= 0)
    assert np.array_equal(y_train, store.build_parts(mnist.SPEC, "mirror")["public"]["y_train"])


def test_idx_matches_official_header(mirror_env):
    labels = mnist.read_idx(MIRROR / mnist.TEST_LABELS)
    images = mnist.read_idx(MIRROR / mnist.TEST_IMAGES)
    assert labels.shape == (10_000,) and images.shape == (10_000, 28, 28)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_registry_matches_mirror_readme_and_files(mirror_env):
    readme = (MIRROR / "README.md").read_text()
    published = dict((path, sha) for sha, path in re.findall(r"^([0-9a-f]{64})\s+(\S+)$", readme, re.M))
    assert published == sources.MIRROR
    for relpath, sha in sources.MIRROR.items():
        assert hashlib.sha256((MIRROR / relpath).read_bytes()).hexdigest() == sha
    for canonical in sources.CANONICAL.values():
        assert re.fullmatch(r"[0-9a-f]{64}", canonical.sha256)


def test_corrupt_mirror_file_is_rejected(mirror_env, monkeypatch, tmp_path):
    bad = tmp_path / "bad-mirror"
    shutil.copytree(MIRROR / "mnist", bad / "mnist")
    labels = bad / mnist.TEST_LABELS
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(bad))
    with pytest.raises(data.ChecksumError, match="t10k-labels"):
        data.load_mnist()


def test_missing_mirror_dir_is_an_error(mirror_env, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "nope"))
    with pytest.raises(data.DataUnavailableError, match="COURSE_DATA_MIRROR"):
        data.load_mnist()


def test_offline_without_mirror_says_what_to_do(mirror_env, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    monkeypatch.setenv("COURSE_DATA_OFFLINE", "1")
    import pooch

    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: pytest.fail("offline mode downloaded"))
    assert data.profile() == "full"
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_mnist()
    message = str(info.value)
    assert "COURSE_DATA_OFFLINE" in message
    assert sources.CANONICAL["mnist.npz"].url in message
    assert "COURSE_DATA_MIRROR" in message and "t10k-images-idx3-ubyte.gz" in message
    assert str(mirror_env / "downloads") in message


def test_second_load_does_not_decode(mirror_env, monkeypatch):
    calls = count_decodes(monkeypatch)
    first = data.load_mnist()
    assert len(calls) == 1
    second = data.load_mnist()
    data.load_heldout("mnist")
    assert len(calls) == 1
    assert np.array_equal(first[0][0], second[0][0]) and np.array_equal(first[1][1], second[1][1])
    monkeypatch.setattr(mnist, "decode_mirror", lambda: pytest.fail("decoded again"))
    data.load_mnist()
    entries = sorted(p.name for p in (mirror_env / "arrays").iterdir())
    assert len(entries) == 2 and entries[0].endswith("-heldout.npz") and entries[1].endswith("-public.npz")
    assert not [p for p in (mirror_env / "arrays").iterdir() if p.name.startswith(".")]  # no temp files left


def test_corrupt_cache_entry_is_rebuilt(mirror_env, monkeypatch):
    data.load_mnist()
    entry = cache.entry_path(mnist.SPEC.entry("mirror", "public"))
    entry.write_bytes(b"not a zip")
    calls = count_decodes(monkeypatch)
    (x_train, _), _ = data.load_mnist()
    assert len(calls) == 1 and x_train.shape == (5000, 28, 28)


def test_unwritable_cache_does_not_break_loading(mirror_env, monkeypatch, tmp_path):
    # A path below a regular file cannot be created, even by root.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_DATA_CACHE", str(blocker / "cache"))
    calls = count_decodes(monkeypatch)
    (x_train, _), _ = data.load_mnist()
    data.load_mnist()
    assert x_train.shape == (5000, 28, 28)
    assert len(calls) == 2  # nothing was cached, so it decoded twice, without crashing


def test_read_only_cache_dir(mirror_env, monkeypatch):
    # The grader binds the student cache read-only: writes fail with EROFS even for root.
    import errno

    data.load_mnist()  # populate, then make every write fail
    calls = count_decodes(monkeypatch)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(cache.tempfile, "mkstemp", read_only)
    (x_train, _), _ = data.load_mnist()  # cached: reads fine
    assert len(calls) == 0 and x_train.shape == (5000, 28, 28)
    monkeypatch.setenv("COURSE_DATA_CACHE", str(mirror_env.parent / "other-cache"))
    (x_train, _), _ = data.load_mnist()  # uncached and unwritable: decodes, does not crash
    assert len(calls) == 1 and x_train.shape == (5000, 28, 28)
    assert list((mirror_env.parent / "other-cache" / "arrays").glob("*")) == []


def _fake_npz(path: Path) -> str:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "y_train": np.arange(60, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "y_test": np.arange(40, dtype=np.uint8) % 10,
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def test_full_profile_uses_a_verified_download_offline(mirror_env, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    monkeypatch.setenv("COURSE_DATA_OFFLINE", "1")
    sha = _fake_npz(mirror_env / "downloads" / "mnist.npz")
    fake = sources.Canonical(url="https://example.invalid/mnist.npz", sha256=sha, size=1)
    monkeypatch.setitem(sources.CANONICAL, "mnist.npz", fake)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert data.profile() == "full"
    assert x_train.shape == (60, 28, 28) and len(x_test) == 20 and y_test.dtype == np.uint8
    assert (mirror_env / "arrays" / mnist.SPEC.entry("full", "public")).is_file()


def test_download_uses_pooch_with_checksum_and_progress(mirror_env, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    import pooch

    seen = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        seen.update(url=url, known_hash=known_hash, progressbar=progressbar)
        raise ValueError("SHA256 hash of downloaded file does not match")  # as pooch does

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    with pytest.raises(data.ChecksumError):
        data.load_mnist()
    assert seen["url"] == sources.CANONICAL["mnist.npz"].url
    assert seen["known_hash"] == "sha256:" + sources.CANONICAL["mnist.npz"].sha256
    assert seen["progressbar"] is True

    def unreachable(**kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", unreachable)
    with pytest.raises(data.DataUnavailableError, match="COURSE_DATA_MIRROR"):
        data.load_mnist()
