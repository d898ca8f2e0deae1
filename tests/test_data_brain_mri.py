"""Brain MRI yes/no folder: discovery, the public copy and the grader's held-out fifth, decoding of
messy files, and the not-available error."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest

import data
from data import brain_mri, splits
from conftest import MIRROR, needs_mirror

pytestmark = needs_mirror

SOURCE = MIRROR / "brain_tumor_mri"
# The mirror holds 98 "no" and 155 "yes" files, 87 and 141 distinct images (the rest are
# byte-identical copies under other names). Every fifth distinct image of each class is held out
# (17 and 28), and no copy of one of them is public.
PUBLIC_COUNTS = [80, 127]
HELDOUT_COUNTS = [17, 28]


def names(files) -> list[tuple[int, str]]:
    return [(label, path.name) for path, label in files]


def digest(path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def test_heldout_rule_every_fifth_distinct_image_of_each_class(mirror_env):
    everything = brain_mri.image_files(SOURCE)
    assert len(everything) == 253
    public, heldout = brain_mri.split_files(everything)
    seen, distinct = set(), []
    for path, label in everything:
        if digest(path) not in seen:
            seen.add(digest(path))
            distinct.append((path, label))
    assert [sum(1 for _, label in distinct if label == c) for c in (0, 1)] == [87, 141]
    for label in (0, 1):
        in_class = [f for f in names(distinct) if f[0] == label]
        assert [f for f in names(heldout) if f[0] == label] == in_class[4::5]
    held = {digest(path) for path, _ in heldout}
    assert len(held) == len(heldout) == sum(HELDOUT_COUNTS)
    assert held.isdisjoint(digest(path) for path, _ in public)  # copies of held-out images are not public
    assert names(public) == [f for f in names(everything) if f not in set(names(heldout))
                             and digest(SOURCE / brain_mri.CLASS_NAMES[f[0]] / f[1]) not in held]
    assert names(brain_mri.heldout_image_files()) == names(heldout)
    assert names(brain_mri.public_image_files()) == names(public)
    mask = splits.heldout_mask(np.array([0, 0, 1, 0, 0, 0, 1, 1, 1, 1]), every=5)
    assert np.flatnonzero(mask).tolist() == [5, 9]  # 5th "0" (index 5), 5th "1" (index 9)
    with pytest.raises(ValueError):
        splits.heldout_mask(np.zeros(3), every=1)


def test_directory_is_a_public_copy(mirror_env):
    root = data.brain_mri_directory()
    assert root == mirror_env / "brain_tumor_mri-public"
    assert brain_mri.source_directory().resolve() == SOURCE.resolve()
    assert sorted(p.name for p in root.iterdir()) == ["no", "yes"]
    files = brain_mri.image_files(root)
    assert [sum(1 for _, label in files if label == c) for c in (0, 1)] == PUBLIC_COUNTS
    assert names(files) == names(brain_mri.public_image_files())
    held = {digest(path) for path, _ in brain_mri.heldout_image_files()}
    assert len(held) == sum(HELDOUT_COUNTS) and held.isdisjoint(digest(path) for path, _ in files)
    # Files are byte-identical copies.
    for (copy, _), (original, _) in zip(files, brain_mri.public_image_files()):
        assert copy.read_bytes() == original.read_bytes()

    # A stale copy is repaired: a held-out file is removed, a changed file copied again.
    held_path, held_label = brain_mri.heldout_image_files()[0]
    stray = root / brain_mri.CLASS_NAMES[held_label] / held_path.name
    stray.write_bytes(held_path.read_bytes())
    damaged = files[0][0]
    damaged.write_bytes(b"truncated")
    assert data.brain_mri_directory() == root
    assert not stray.exists() and damaged.read_bytes() == brain_mri.public_image_files()[0][0].read_bytes()
    assert names(brain_mri.image_files(root)) == names(files)


def test_load_shapes_labels_and_class_names(mirror_env):
    x, y, class_names = data.load_brain_mri()
    assert class_names == ["no", "yes"]
    assert x.shape == (sum(PUBLIC_COUNTS), 128, 128, 3) and x.dtype == np.uint8
    assert y.dtype == np.uint8 and np.bincount(y).tolist() == PUBLIC_COUNTS
    x2, y2, _ = data.load_brain_mri(image_size=(64, 96))
    assert x2.shape == (sum(PUBLIC_COUNTS), 64, 96, 3) and np.array_equal(y, y2)
    # The same images, in the same order, as the public folder.
    x3, y3, _ = data.load_brain_mri(image_size=(64, 96), directory=data.brain_mri_directory())
    assert np.array_equal(x2, x3) and np.array_equal(y2, y3)


def test_load_heldout_brain_mri(mirror_env):
    x, y = data.load_heldout("brain_mri")
    assert x.shape == (sum(HELDOUT_COUNTS), 128, 128, 3) and x.dtype == np.uint8
    assert y.dtype == np.uint8 and np.bincount(y).tolist() == HELDOUT_COUNTS
    x2, y2 = data.load_heldout("brain_mri", image_size=(32, 48))
    assert x2.shape == (sum(HELDOUT_COUNTS), 32, 48, 3) and np.array_equal(y, y2)
    expected = [brain_mri.read_rgb(path, (32, 48)) for path, _ in brain_mri.heldout_image_files()]
    assert np.array_equal(x2, np.stack(expected))
    with pytest.raises(ValueError, match="image_size"):
        data.load_heldout("mnist", image_size=(28, 28))
    with pytest.raises(ValueError, match="brain_mri"):
        data.load_heldout("imagenet")


def test_keras_reads_every_public_file(mirror_env):
    keras = pytest.importorskip("keras")
    root = data.brain_mri_directory()
    ds = keras.utils.image_dataset_from_directory(root, image_size=(32, 32), batch_size=None, shuffle=False)
    assert ds.class_names == ["no", "yes"]
    assert len(ds.file_paths) == sum(PUBLIC_COUNTS)


def test_heldout_decoded_like_keras(mirror_env, tmp_path):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    for path, label in brain_mri.heldout_image_files():
        target = tmp_path / "held" / brain_mri.CLASS_NAMES[label] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    ds = keras.utils.image_dataset_from_directory(tmp_path / "held", image_size=(40, 56), batch_size=None, shuffle=False)
    by_name = {p.split("/")[-1]: np.asarray(img) for p, (img, _) in zip(ds.file_paths, ds)}
    x, y = data.load_heldout("brain_mri", image_size=(40, 56), decoder="keras")
    assert x.dtype == np.float32 and x.shape == (sum(HELDOUT_COUNTS), 40, 56, 3)
    assert np.array_equal(y, data.load_heldout("brain_mri", image_size=(8, 8))[1])
    for image, (path, _) in zip(x, brain_mri.heldout_image_files()):
        assert np.array_equal(image, by_name[path.name])
    with pytest.raises(ValueError, match="decoder"):
        data.load_heldout("brain_mri", decoder="pillow")
    with pytest.raises(ValueError, match="decoder"):
        data.load_heldout("mnist", decoder="keras")


def test_messy_files_are_all_decoded(mirror_env):
    files = brain_mri.image_files(SOURCE)
    suffixes = {p.suffix for p, _ in files}
    assert {".jpg", ".JPG", ".jpeg", ".png"} <= suffixes  # the mix this loader must handle
    assert any(" " in p.name for p, _ in files)
    kinds = {cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim for p, _ in files}
    assert kinds == {2, 3}  # grey and colour files
    x, y, _ = data.load_brain_mri(image_size=(32, 32), directory=SOURCE)
    assert len(x) == len(files)
    # A grey file decodes to three equal channels.
    grey_index = next(i for i, (p, _) in enumerate(files) if cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim == 2)
    img = x[grey_index]
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])
    # The public part keeps the mess.
    public = brain_mri.image_files(data.brain_mri_directory())
    assert {".jpg", ".JPG", ".jpeg"} <= {p.suffix for p, _ in public}


def test_rgba_png_becomes_rgb(tmp_path):
    rgba = np.zeros((50, 40, 4), np.uint8)
    rgba[..., 2] = 200  # red in OpenCV's BGRA order
    rgba[..., 3] = 255
    path = tmp_path / "x y.PNG"
    cv2.imwrite(str(path), rgba)
    img = brain_mri.read_rgb(path, (10, 20))
    assert img.shape == (10, 20, 3) and img[0, 0].tolist() == [200, 0, 0]


def test_kaggle_layout_in_cache_and_unreadable_files(mirror_env, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    root = mirror_env / "brain_tumor_mri" / "brain_tumor_dataset"  # as the Kaggle zip unpacks
    for name in ("yes", "no"):
        (root / name).mkdir(parents=True)
        for i in range(1, 6 if name == "yes" else 2):
            cv2.imwrite(str(root / name / f"{name} {i}.jpg"), np.full((30, 20), 10 * i + (name == "no") * 100, np.uint8))
    (root / "yes" / "broken.jpg").write_bytes(b"not an image")
    (root / "yes" / "notes.txt").write_text("ignored: not an image extension")
    assert brain_mri.source_directory() == root
    public = data.brain_mri_directory()
    assert public == mirror_env / "brain_tumor_mri-public"
    # yes: "broken", "yes 1" ... "yes 5" in natural order; the 5th ("yes 4") is held out.
    assert sorted(p.name for p in (public / "yes").iterdir()) == ["broken.jpg", "yes 1.jpg", "yes 2.jpg", "yes 3.jpg", "yes 5.jpg"]
    assert [p.name for p, _ in brain_mri.heldout_image_files()] == ["yes 4.jpg"]
    with pytest.warns(UserWarning, match="broken.jpg"):
        x, y, _ = data.load_brain_mri(image_size=(16, 16))
    assert x.shape == (5, 16, 16, 3) and y.tolist() == [0, 1, 1, 1, 1]
    x_held, y_held = data.load_heldout("brain_mri", image_size=(8, 8))
    assert x_held.shape == (1, 8, 8, 3) and y_held.tolist() == [1] and x_held[0, 0, 0, 0] == 40
    x3, _, _ = data.load_brain_mri(image_size=(8, 8), directory=SOURCE)
    assert x3.shape == (253, 8, 8, 3)


def test_student_cache_holds_only_public_files(mirror_env, monkeypatch):
    dest = mirror_env.parent / "student"
    # An older student cache held every file: the held-out ones must disappear.
    held_path, held_label = brain_mri.heldout_image_files()[0]
    stale = dest / "brain_tumor_mri" / brain_mri.CLASS_NAMES[held_label] / held_path.name
    stale.parent.mkdir(parents=True)
    stale.write_bytes(held_path.read_bytes())
    data.prepare_student_cache(dest, names=("brain_mri",))
    assert not stale.exists()
    assert json.loads((dest / "profile.json").read_text()) == {"profile": "mirror"}
    copied = names(brain_mri.image_files(dest / "brain_tumor_mri"))
    assert copied == names(brain_mri.public_image_files())

    # Inside the sandbox: the folder is used as it is (not split again), and nothing is held out.
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    monkeypatch.setenv("COURSE_DATA_CACHE", str(dest))
    monkeypatch.setenv("COURSE_DATA_OFFLINE", "1")
    assert data.brain_mri_directory() == dest / "brain_tumor_mri"
    x, y, _ = data.load_brain_mri(image_size=(16, 16))
    assert np.bincount(y).tolist() == PUBLIC_COUNTS
    with pytest.raises(data.DataUnavailableError, match="grader-only"):
        data.load_heldout("brain_mri")
    assert not (dest / "brain_tumor_mri-public").exists()


def test_missing_data_message(mirror_env, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    with pytest.raises(data.DataUnavailableError) as info:
        data.brain_mri_directory()
    message = str(info.value)
    assert "navoneel/brain-mri-images-for-brain-tumor-detection" in message
    assert "COURSE_DATA_MIRROR" in message and str(mirror_env / "brain_tumor_mri") in message
