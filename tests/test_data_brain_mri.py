"""Brain MRI yes/no folder: discovery, decoding of messy files, and the not-available error."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

import data
from data import brain_mri
from conftest import MIRROR, needs_mirror

pytestmark = needs_mirror


def test_directory_has_yes_and_no(mirror_env):
    root = data.brain_mri_directory()
    assert root.resolve() == (MIRROR / "brain_tumor_mri").resolve()
    assert (root / "yes").is_dir() and (root / "no").is_dir()


def test_load_shapes_labels_and_class_names(mirror_env):
    x, y, class_names = data.load_brain_mri()
    assert class_names == ["no", "yes"]
    assert x.shape == (253, 128, 128, 3) and x.dtype == np.uint8
    assert y.dtype == np.uint8 and np.bincount(y).tolist() == [98, 155]
    x2, y2, _ = data.load_brain_mri(image_size=(64, 96))
    assert x2.shape == (253, 64, 96, 3) and np.array_equal(y, y2)


def test_messy_files_are_all_decoded(mirror_env):
    files = brain_mri.image_files()
    suffixes = {p.suffix for p, _ in files}
    assert {".jpg", ".JPG", ".jpeg", ".png"} <= suffixes  # the mix this loader must handle
    assert any(" " in p.name for p, _ in files)
    kinds = {cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim for p, _ in files}
    assert kinds == {2, 3}  # grey and colour files
    x, y, _ = data.load_brain_mri(image_size=(32, 32))
    assert len(x) == len(files)
    # A grey file decodes to three equal channels.
    grey_index = next(i for i, (p, _) in enumerate(files) if cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim == 2)
    img = x[grey_index]
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


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
        cv2.imwrite(str(root / name / f"{name} 1.jpg"), np.full((30, 20), 128, np.uint8))
    (root / "yes" / "broken.jpg").write_bytes(b"not an image")
    (root / "yes" / "notes.txt").write_text("ignored: not an image extension")
    assert data.brain_mri_directory() == root
    with pytest.warns(UserWarning, match="broken.jpg"):
        x, y, _ = data.load_brain_mri(image_size=(16, 16))
    assert x.shape == (2, 16, 16, 3) and y.tolist() == [0, 1]
    x3, _, _ = data.load_brain_mri(image_size=(8, 8), directory=MIRROR / "brain_tumor_mri")
    assert x3.shape == (253, 8, 8, 3)


def test_missing_data_message(mirror_env, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    with pytest.raises(data.DataUnavailableError) as info:
        data.brain_mri_directory()
    message = str(info.value)
    assert "navoneel/brain-mri-images-for-brain-tumor-detection" in message
    assert "COURSE_DATA_MIRROR" in message and str(mirror_env / "brain_tumor_mri") in message
