"""Collecting submissions from an LMS-style folder or zip: layout checked, archives treated as hostile."""
import os
import zipfile

import pytest

from autograder.collect import collect, submissions
from autograder.course import Course

NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.fixture
def course(tmp_path):
    return Course(workspace=tmp_path / "ws")


def test_folder_layout_is_collected(course, tmp_path):
    src = tmp_path / "download"
    (src / "alice" / "hw1").mkdir(parents=True)
    (src / "alice" / "hw1" / "conv_by_hand.ipynb").write_bytes(NB)
    (src / "alice" / "hw1" / "notes.ipynb").write_bytes(NB)          # not a question
    (src / "bob" / "hw2").mkdir(parents=True)
    (src / "bob" / "hw2" / "conv_by_hand.ipynb").write_bytes(NB)     # another homework of the course
    (src / "carol" / "hw9").mkdir(parents=True)
    (src / "carol" / "hw9" / "conv_by_hand.ipynb").write_bytes(NB)   # no such homework
    report = collect(course, "hw1", src)
    assert report.collected == [("alice", "hw1", "conv_by_hand")]
    assert len(report.skipped) == 2 and any("notes" in s for s in report.skipped)
    assert report.other_homeworks == ["bob/hw2/conv_by_hand.ipynb"]
    assert (course.submitted / "alice" / "hw1" / "conv_by_hand.ipynb").read_bytes() == NB
    assert (course.submitted / "alice" / "hw1" / "timestamp.txt").exists()
    assert [s for s, _ in submissions(course, "hw1")] == ["alice"]


def test_broken_notebooks_are_still_collected(course, tmp_path):
    src = tmp_path / "download" / "carol" / "hw1"
    src.mkdir(parents=True)
    (src / "gradcam.ipynb").write_bytes(b"\x00not json")
    assert collect(course, "hw1", tmp_path / "download").collected == [("carol", "hw1", "gradcam")]


def test_zip_with_top_folder_and_hostile_entries(course, tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/dave/hw1/mnist_cnn.ipynb", NB)
        zf.writestr("../evil/hw1/mnist_cnn.ipynb", NB)
        zf.writestr("/abs/hw1/mnist_cnn.ipynb", NB)
        zf.writestr("../../hw1/mnist_cnn.ipynb", NB)
        zf.writestr("bad id!/hw1/mnist_cnn.ipynb", NB)
        link = zipfile.ZipInfo("erin/hw1/gradcam.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    report = collect(course, "hw1", archive)
    assert report.collected == [("dave", "hw1", "mnist_cnn")]
    assert len(report.skipped) == 5
    assert not (tmp_path / "evil").exists()
    assert sorted(os.listdir(course.submitted)) == ["dave"]


def test_symlinked_files_in_a_folder_are_refused(course, tmp_path):
    src = tmp_path / "download" / "frank" / "hw1"
    src.mkdir(parents=True)
    (src / "gradcam.ipynb").symlink_to("/etc/passwd")
    report = collect(course, "hw1", tmp_path / "download")
    assert report.collected == [] and "symbolic" in report.skipped[0]


def test_unknown_source_is_a_clear_error(course, tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a folder nor a zip"):
        collect(course, "hw1", tmp_path / "nothing.zip")
