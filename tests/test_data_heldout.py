"""The grader's held-out split and the student cache (MNIST; CIFAR-10 disjointness is in test_data_cifar10)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import data
from data import mnist, splits, store
from conftest import MIRROR, needs_mirror

pytestmark = needs_mirror


@pytest.fixture
def env(mirror_env):
    return mirror_env.parent


def digests(x: np.ndarray) -> set[bytes]:
    return {hashlib.sha1(img.tobytes()).digest() for img in x}


def test_heldout_mask_rule():
    y = np.array([0, 1, 0, 0, 1, 2, 0, 1, 1])
    mask = splits.heldout_mask(y)
    # class 0 at 0,2,3,6 -> hold 2,6; class 1 at 1,4,7,8 -> hold 4,8; class 2 at 5 -> none
    assert np.flatnonzero(mask).tolist() == [2, 4, 6, 8]


def test_stable_permutation_is_fixed():
    perm = splits.stable_permutation(10, "demo")
    assert sorted(perm.tolist()) == list(range(10))
    assert perm.tolist() == splits.stable_permutation(10, "demo").tolist()
    assert perm.tolist() != splits.stable_permutation(10, "other").tolist()


def test_mnist_heldout_is_disjoint_stratified_and_deterministic(env, monkeypatch):
    (x_train, _), (x_test, y_test) = data.load_mnist()
    x_held, y_held = data.load_heldout("mnist")
    assert x_held.dtype == np.uint8 and x_held.shape[1:] == (28, 28) and y_held.dtype == np.uint8
    full_counts = np.bincount(mnist.read_idx(MIRROR / mnist.TEST_LABELS), minlength=10)
    assert np.bincount(y_held, minlength=10).tolist() == (full_counts // 2).tolist()
    assert np.bincount(y_test, minlength=10).tolist() == (full_counts - full_counts // 2).tolist()
    held = digests(x_held)
    assert len(held) > 4900  # (a handful of MNIST test digits are exact duplicates)
    assert held.isdisjoint(digests(x_test)) and held.isdisjoint(digests(x_train))
    # A fresh cache decodes again and must pick exactly the same images.
    monkeypatch.setenv("COURSE_DATA_CACHE", str(env / "another-cache"))
    x_again, y_again = data.load_heldout("mnist")
    assert np.array_equal(x_again, x_held) and np.array_equal(y_again, y_held)


def test_unknown_heldout_name():
    with pytest.raises(ValueError, match="mnist"):
        data.load_heldout("imagenet")


def test_prepare_student_cache_serves_offline_without_heldout(env, monkeypatch):
    dest = env / "student"
    expected = data.load_mnist()
    x_held, _ = data.load_heldout("mnist")
    assert data.prepare_student_cache(dest, names=("mnist", "brain_mri")) == dest.resolve()
    assert json.loads((dest / "profile.json").read_text()) == {"profile": "mirror"}

    # Inside the sandbox: only the student cache, offline, no mirror.
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    monkeypatch.setenv("COURSE_DATA_CACHE", str(dest))
    monkeypatch.setenv("COURSE_DATA_OFFLINE", "1")
    monkeypatch.setattr(mnist, "decode_mirror", lambda: pytest.fail("student cache decoded"))
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert np.array_equal(x_train, expected[0][0]) and np.array_equal(y_test, expected[1][1])
    assert data.profile() == "mirror"
    assert sorted(p.name for p in (dest / "brain_tumor_mri").iterdir()) == ["no", "yes"]
    assert data.brain_mri_directory() == dest / "brain_tumor_mri"
    with pytest.raises(data.DataUnavailableError, match="grader-only"):
        data.load_heldout("mnist")
    with pytest.raises(data.DataUnavailableError, match="student cache"):
        data.load_cifar10()

    # No held-out image anywhere in dest, whatever the file name.
    held = digests(x_held)
    files = list(dest.rglob("*.npz"))
    assert files and not any("heldout" in p.name for p in dest.rglob("*"))
    for path in files:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                arr = npz[key]
                if arr.ndim == 3 and arr.shape[1:] == (28, 28):
                    assert held.isdisjoint(digests(arr)), f"{path.name}:{key} leaks held-out images"


def test_prepare_student_cache_refuses_bad_targets(env):
    with pytest.raises(ValueError, match="unknown"):
        data.prepare_student_cache(env / "s", names=("mnist", "imagenet"))
    with pytest.raises(ValueError, match="working cache"):
        data.prepare_student_cache(data.cache_dir(), names=("mnist",))
    (env / "s2").mkdir()
    (env / "s2" / store.PIN_FILE).write_text('{"profile": "full"}')
    with pytest.raises(ValueError, match="already holds"):
        data.prepare_student_cache(env / "s2", names=("mnist",))


def test_cli_student_cache(env, capsys):
    from data.__main__ import main

    assert main(["student-cache", str(env / "cli"), "--names", "mnist"]) == 0
    assert (env / "cli" / "profile.json").is_file()
    assert main(["info"]) == 0
    assert "profile : mirror" in capsys.readouterr().out


def test_cli_fetch(env, monkeypatch, capsys):
    from data.__main__ import main

    assert main(["fetch", "mnist", "brain_mri"]) == 0
    names = sorted(p.name for p in (env / "cache" / "arrays").iterdir())
    assert [n.split("-")[-1] for n in names] == ["heldout.npz", "public.npz"]
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    monkeypatch.setenv("COURSE_DATA_OFFLINE", "1")
    assert main(["fetch", "mnist"]) == 1  # full profile, offline, nothing downloaded
    assert "mnist.npz" in capsys.readouterr().err
