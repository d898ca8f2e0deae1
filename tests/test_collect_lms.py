"""Collecting from what LMSs really export: Canvas, Moodle, Gradescope and loose folders, as a zip and
as an unpacked folder; with a roster and without; duplicates, renamed files, wrong files. Each test
says exactly what is collected and what is skipped, and why."""
import json
import os
import struct
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder import collect as collect_module
from autograder.collect import TIMESTAMP_FORMAT, collect
from autograder.course import Course
from autograder.errors import UsageError
from autograder.lms_layouts import (Identity, RosterError, detect_layout, load_roster, match_question,
                                    parse_roster, read_gradescope_metadata, slug)

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
HW1 = ["conv_by_hand", "opencv_filters", "mnist_cnn", "gradcam"]


def nb(tag: str) -> bytes:
    """A notebook whose bytes say which file it was."""
    return json.dumps({"cells": [], "metadata": {"tag": tag}, "nbformat": 4, "nbformat_minor": 5}).encode()


def tag_of(path: Path) -> str:
    return json.loads(path.read_bytes())["metadata"]["tag"]


def build(tmp_path: Path, kind: str, files: dict) -> Path:
    """A download as a zip or as a folder: {path: content | (content, time)}."""
    def spec(value):
        return value if isinstance(value, tuple) else (value, T0)

    tmp_path.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        path = tmp_path / "download.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, value in files.items():
                content, when = spec(value)
                zf.writestr(zipfile.ZipInfo(name, date_time=when.astimezone().timetuple()[:6]), content)
        return path
    root = tmp_path / "download"
    for name, value in files.items():
        content, when = spec(value)
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (when.timestamp(), when.timestamp()))
    return root


def stamp(course: Course, student: str, homework: str = "hw1") -> str:
    return (course.submitted / student / homework / "timestamp.txt").read_text()


def reasons(report) -> dict[str, str]:
    """path -> reason, for the skipped files."""
    return dict(line.split(": ", 1) for line in report.skipped)


@pytest.fixture
def course(tmp_path):
    return Course(workspace=tmp_path / "ws")


@pytest.fixture(params=["zip", "folder"])
def kind(request):
    return request.param


# --- Canvas -----------------------------------------------------------------------------------

CANVAS = {
    "smithcarol_12345_67890_conv_by_hand.ipynb": (nb("carol first"), T0),
    "smithcarol_12345_67999_conv_by_hand-1.ipynb": (nb("carol resubmitted"), T0 - timedelta(hours=1)),
    "smithcarol_12345_67890_report.pdf": b"%PDF-1.4",
    "jonesbob_LATE_222_70001_gradcam.ipynb": (nb("bob late"), T0 + timedelta(days=1)),
    "jonesbob_222_70002_notes.ipynb": nb("bob notes"),
    "dupontandre_333_70003_pooling.ipynb": nb("andre pooling"),
    "dupontandre_333_70004_Conv_By_Hand (1).ipynb": nb("andre conv"),
}


def test_canvas_download(course, tmp_path, kind):
    report = collect(course, "hw1", build(tmp_path, kind, CANVAS))
    assert report.layout == "canvas"
    assert report.collected == [("dupontandre", "hw1", "conv_by_hand"), ("jonesbob", "hw1", "gradcam"),
                                ("smithcarol", "hw1", "conv_by_hand")]
    # The larger attachment id is the resubmission, whatever the file times say.
    assert tag_of(course.submitted / "smithcarol" / "hw1" / "conv_by_hand.ipynb") == "carol resubmitted"
    assert report.sources["smithcarol", "conv_by_hand"] == "smithcarol_12345_67999_conv_by_hand-1.ipynb"
    assert reasons(report) == {
        "smithcarol_12345_67890_conv_by_hand.ipynb":
            "an older copy of smithcarol's conv_by_hand; collected smithcarol_12345_67999_conv_by_hand-1.ipynb",
        "smithcarol_12345_67890_report.pdf": "not a notebook (.pdf); only <question>.ipynb files are collected",
        "jonesbob_222_70002_notes.ipynb":
            "hw1 has no question 'notes.ipynb' (its questions: conv_by_hand, opencv_filters, mnist_cnn, gradcam)",
        "dupontandre_333_70003_pooling.ipynb": "a notebook of hw2, not of hw1",
    }
    assert len(report.collected) + len(report.skipped) == len(CANVAS)  # every file accounted for
    assert report.late == {"jonesbob": "gradcam marked LATE by Canvas"}
    # The download's times, not the collection time, go to nbgrader.
    assert stamp(course, "jonesbob") == (T0 + timedelta(days=1)).strftime(TIMESTAMP_FORMAT)
    assert report.timestamps["smithcarol"] == T0 - timedelta(hours=1)
    assert report.other_homeworks == [] and report.ignored == []


def test_canvas_with_a_roster(course, tmp_path, kind):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,email,lms_id\n"
                      "c.smith,Carol Smith,carol@uni.edu,12345\n"
                      "b.jones,\"Jones, Bob\",bob@uni.edu,\n")   # matched by name: Canvas writes 'jonesbob'
    report = collect(course, "hw1", build(tmp_path, kind, CANVAS), roster=roster)
    assert report.collected == [("b.jones", "hw1", "gradcam"), ("c.smith", "hw1", "conv_by_hand")]
    assert reasons(report)["dupontandre_333_70004_Conv_By_Hand (1).ipynb"] == \
        "no roster row matches Canvas student 'dupontandre' (id 333)"
    assert report.late == {"b.jones": "gradcam marked LATE by Canvas"}
    assert sorted(os.listdir(course.submitted)) == ["b.jones", "c.smith"]


def test_canvas_inside_a_top_folder_with_litter(course, tmp_path, kind):
    files = {f"submissions/{name}": value for name, value in CANVAS.items()}
    files["__MACOSX/submissions/._smithcarol_12345_67890_conv_by_hand.ipynb"] = b"\x00\x05"
    files["submissions/.DS_Store"] = b"\x00"
    report = collect(course, "hw1", build(tmp_path, kind, files))
    assert report.layout == "canvas" and len(report.collected) == 3
    assert report.ignored == ["__MACOSX/: macOS archive metadata", "submissions/.DS_Store: hidden or system file"]


# --- Moodle -----------------------------------------------------------------------------------

MOODLE = {
    "Carol Smith_4242_assignsubmission_file_/conv_by_hand.ipynb": (nb("carol old"), T0),
    "Carol Smith_4242_assignsubmission_file_/conv_by_hand (1).ipynb": (nb("carol new"), T0 + timedelta(minutes=5)),
    "Carol Smith_4242_assignsubmission_file_/gradcam.py": b"print()",
    "Jos\u00e9 Garc\u00eda_4243_assignsubmission_file/mnist_cnn.ipynb": nb("jose"),   # no trailing underscore
    "Ann Lee_4244_assignsubmission_file_Copy of gradcam.ipynb": nb("ann"),            # the flat variant
    "Ann Lee_4244_assignsubmission_onlinetext_onlinetext.html": b"<p>done</p>",
}


def test_moodle_download(course, tmp_path, kind):
    report = collect(course, "hw1", build(tmp_path, kind, MOODLE))
    assert report.layout == "moodle"
    assert report.collected == [("ann_lee", "hw1", "gradcam"), ("carol_smith", "hw1", "conv_by_hand"),
                                ("jose_garcia", "hw1", "mnist_cnn")]
    assert tag_of(course.submitted / "carol_smith" / "hw1" / "conv_by_hand.ipynb") == "carol new"
    assert reasons(report) == {
        "Carol Smith_4242_assignsubmission_file_/conv_by_hand.ipynb":
            "an older copy of carol_smith's conv_by_hand; collected "
            "Carol Smith_4242_assignsubmission_file_/conv_by_hand (1).ipynb",
        "Carol Smith_4242_assignsubmission_file_/gradcam.py":
            "not a notebook (.py); only <question>.ipynb files are collected",
        "Ann Lee_4244_assignsubmission_onlinetext_onlinetext.html":
            "not a notebook (.html); only <question>.ipynb files are collected",
    }
    assert report.timestamps["carol_smith"] == T0 + timedelta(minutes=5)
    assert report.late == {}


def test_moodle_namesakes_are_not_merged_without_a_roster(course, tmp_path, kind):
    files = {"Carol Smith_1_assignsubmission_file_/conv_by_hand.ipynb": nb("first carol"),
             "Carol Smith_2_assignsubmission_file_/conv_by_hand.ipynb": nb("second carol")}
    report = collect(course, "hw1", build(tmp_path, kind, files))
    assert report.collected == []
    assert reasons(report) == dict.fromkeys(files, "Moodle student 'Carol Smith' (id 1) and Moodle student "
                                            "'Carol Smith' (id 2) would both be student 'carol_smith'; "
                                            "a roster (--roster) tells them apart")

    roster = parse_roster("student_id,name,lms_id\ncsmith1,Carol Smith,1\ncsmith2,Carol Smith,2\n")
    report = collect(course, "hw1", build(tmp_path / "again", kind, files), roster=roster)
    assert report.collected == [("csmith1", "hw1", "conv_by_hand"), ("csmith2", "hw1", "conv_by_hand")]
    assert tag_of(course.submitted / "csmith2" / "hw1" / "conv_by_hand.ipynb") == "second carol"


def test_a_roster_name_shared_by_two_students_is_not_guessed(course, tmp_path):
    roster = parse_roster("student_id,name\ncsmith1,Carol Smith\ncsmith2,Carol Smith\n")
    src = build(tmp_path, "folder", {"Carol Smith_7_assignsubmission_file_/gradcam.ipynb": nb("c")})
    report = collect(course, "hw1", src, roster=roster)
    assert report.collected == []
    assert "several students (csmith1, csmith2)" in report.skipped[0]


def test_a_roster_row_that_fits_two_people_of_the_download_is_not_guessed(course, tmp_path):
    roster = parse_roster("student_id,name\ncsmith,Carol Smith\n")
    files = {"Carol Smith_1_assignsubmission_file_/gradcam.ipynb": nb("one"),
             "Carol Smith_2_assignsubmission_file_/gradcam.ipynb": nb("two")}
    report = collect(course, "hw1", build(tmp_path, "zip", files), roster=roster)
    assert report.collected == []
    assert all(r.endswith("would both be student 'csmith'; check the roster") for r in reasons(report).values())
    assert len(report.skipped) == 2


def test_a_bad_roster_stops_before_anything_is_written(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\n1,x\n")
    with pytest.raises(RosterError, match="no student_id column"):
        collect(course, "hw1", build(tmp_path, "zip", CANVAS), roster=roster)
    assert not course.workspace.exists()


# --- Gradescope -------------------------------------------------------------------------------

METADATA = """\
---
:submission_111:
  :submitters:
  - :name: Carol Smith
    :sid: '1001'
    :email: carol@uni.edu
  :created_at: 2024-03-01 23:59:58.123456000 -08:00
  :score: 10.0
:submission_222:
  :submitters:
  - :name: Bob Jones
    :sid: '1002'
    :email: bob@uni.edu
  - :name: Dana Wu
    :sid:
    :email: dana.wu@uni.edu
  :created_at: 2024-03-03 10:00:00.000000000 -08:00
submission_333:
  :submitters:
  - :name: Eve Adams
    :email: eve@uni.edu
  :created_at: !ruby/object:ActiveSupport::TimeWithZone 2024-03-01 08:00:00 Z
"""


def gradescope_files():
    top = "assignment_99_export/"
    return {
        top + "submission_metadata.yml": METADATA.encode(),
        top + "submission_111/conv_by_hand.ipynb": nb("carol"),
        top + "submission_111/conv_by_hand.pdf": b"%PDF",
        top + "submission_222/work/gradcam.ipynb": nb("group"),
        top + "submission_333/CONV_BY_HAND(2).ipynb": nb("eve"),
        top + "submission_444/conv_by_hand.ipynb": nb("nobody"),
        top + "gradcam.ipynb": nb("stray"),   # not the top folder's: it is no student
    }


def test_gradescope_export(course, tmp_path, kind):
    due = datetime(2024, 3, 2, 12, 0, tzinfo=timezone.utc)
    report = collect(course, "hw1", build(tmp_path, kind, gradescope_files()), due=due)
    assert report.layout == "gradescope"
    # sid, else the email's local part; a group submission goes to each of its members.
    assert report.collected == [("1001", "hw1", "conv_by_hand"), ("1002", "hw1", "gradcam"),
                                ("dana.wu", "hw1", "gradcam"), ("eve", "hw1", "conv_by_hand")]
    assert tag_of(course.submitted / "dana.wu" / "hw1" / "gradcam.ipynb") == "group"
    assert reasons(report) == {
        "assignment_99_export/submission_111/conv_by_hand.pdf":
            "not a notebook (.pdf); only <question>.ipynb files are collected",
        "assignment_99_export/submission_444/conv_by_hand.ipynb":
            "submission_444 is not in submission_metadata.yml, so whose it is is unknown",
        "assignment_99_export/gradcam.ipynb":
            "not named submission_<id>/ as Gradescope exports, nor in a <student>/<hw>/ folder",
    }
    assert report.ignored == ["assignment_99_export/submission_metadata.yml: Gradescope's list of submitters (read)"]
    # :created_at: is the submission time nbgrader sees; after `due`, the student is late.
    assert stamp(course, "1001") == "2024-03-02 07:59:58.123456 UTC"
    assert stamp(course, "eve") == "2024-03-01 08:00:00.000000 UTC"
    assert sorted(report.late) == ["1002", "dana.wu"]
    assert "after the due date 2024-03-02 12:00 UTC" in report.late["1002"]


def test_gradescope_with_a_roster(course, tmp_path):
    roster = tmp_path / "roster.csv"
    # Excel's way: a BOM and semicolons. sid in lms_id, or an email.
    roster.write_text("\ufeffStudent_ID;Name;Email;LMS_ID\ncsmith;Carol Smith;;1001\nbjones;;;1002\n"
                      "dwu;;Dana.Wu@uni.edu;\n", encoding="utf-8")
    report = collect(course, "hw1", build(tmp_path, "zip", gradescope_files()), roster=roster)
    assert report.collected == [("bjones", "hw1", "gradcam"), ("csmith", "hw1", "conv_by_hand"),
                                ("dwu", "hw1", "gradcam")]
    assert reasons(report)["assignment_99_export/submission_333/CONV_BY_HAND(2).ipynb"] == \
        "no roster row matches Gradescope student 'Eve Adams' (eve@uni.edu)"


def test_gradescope_without_its_metadata(course, tmp_path, kind):
    files = {k: v for k, v in gradescope_files().items() if not k.endswith(".yml")}
    report = collect(course, "hw1", build(tmp_path, kind, files))
    assert report.layout == "gradescope" and report.collected == []
    assert reasons(report)["assignment_99_export/submission_111/conv_by_hand.ipynb"] == \
        "no submission_metadata.yml in the export says whose submission_111 is"


def test_gradescope_metadata_that_is_not_yaml_is_a_note(course, tmp_path):
    files = gradescope_files()
    files["assignment_99_export/submission_metadata.yml"] = b":submission_1: [unclosed"
    report = collect(course, "hw1", build(tmp_path, "zip", files))
    assert report.collected == [] and "could not be read: not valid YAML" in report.notes[0]


def test_reading_gradescope_metadata():
    meta = read_gradescope_metadata(METADATA)
    assert meta["submission_222"]["submitters"][1] == {"name": "Dana Wu", "sid": "", "email": "dana.wu@uni.edu"}
    assert meta["submission_111"]["created_at"] == datetime(2024, 3, 2, 7, 59, 58, 123456, tzinfo=timezone.utc)
    assert meta["submission_333"]["created_at"] == datetime(2024, 3, 1, 8, tzinfo=timezone.utc)


# --- Folders ----------------------------------------------------------------------------------

def test_loose_folders(course, tmp_path, kind):
    files = {
        "Download/hw1/alice/hw1/conv_by_hand.ipynb": nb("alice deep"),       # under top folders
        "Carol Smith/gradcam.ipynb": nb("carol"),                            # no homework folder, a space
        "Ren\u00e9e/conv_by_hand (1).ipynb": (nb("renee 1"), T0),           # browser duplicates, same time:
        "Ren\u00e9e/conv_by_hand(2).ipynb": (nb("renee 2"), T0),            #   the larger number wins
        "Ren\u00e9e/Copy of conv_by_hand.ipynb": (nb("renee copy"), T0),
        "dave/CONV_BY_HAND.ipynb": (nb("dave new"), T0 + timedelta(hours=2)),  # newer file wins over a
        "dave/conv_by_hand (3).ipynb": (nb("dave old"), T0),                    #   larger number
        "dave/pooling.ipynb": nb("dave hw2"),                                # another homework's question
        "dave/notes.ipynb": nb("dave notes"),
        "conv_by_hand.ipynb": nb("whose?"),
        "README.md": b"# the export",
    }
    report = collect(course, "hw1", build(tmp_path, kind, files))
    assert report.layout == "folders"
    assert report.collected == [("alice", "hw1", "conv_by_hand"), ("carol_smith", "hw1", "gradcam"),
                                ("dave", "hw1", "conv_by_hand"), ("renee", "hw1", "conv_by_hand")]
    assert tag_of(course.submitted / "renee" / "hw1" / "conv_by_hand.ipynb") == "renee 2"
    assert tag_of(course.submitted / "dave" / "hw1" / "conv_by_hand.ipynb") == "dave new"
    skipped = reasons(report)
    assert skipped.pop("Ren\u00e9e/conv_by_hand (1).ipynb").startswith("an older copy of renee's conv_by_hand")
    assert skipped.pop("Ren\u00e9e/Copy of conv_by_hand.ipynb").startswith("an older copy of renee's")
    assert skipped.pop("dave/conv_by_hand (3).ipynb") == \
        "an older copy of dave's conv_by_hand; collected dave/CONV_BY_HAND.ipynb"
    assert skipped == {
        "dave/notes.ipynb": "hw1 has no question 'notes.ipynb' (its questions: conv_by_hand, opencv_filters, "
                            "mnist_cnn, gradcam)",
        "conv_by_hand.ipynb": "not inside a student's folder (<student>/<hw>/<question>.ipynb or "
                              "<student>/<question>.ipynb)",
    }
    assert report.other_homeworks == ["dave/pooling.ipynb"] and report.homeworks_left == ["hw2"]
    assert report.ignored == ["README.md: the download's README"]


def test_loose_folders_with_a_roster(course, tmp_path, kind):
    files = {"Carol Smith/gradcam.ipynb": nb("carol"), "bob@uni.edu/hw1/gradcam.ipynb": nb("bob"),
             "s123/hw1/gradcam.ipynb": nb("s123"), "mallory/hw1/gradcam.ipynb": nb("mallory")}
    roster = parse_roster("student_id,name,email,lms_id\ncsmith,Carol Smith,,\nbjones,,bob@uni.edu,\n"
                          "s123,,,\n")
    report = collect(course, "hw1", build(tmp_path, kind, files), roster=roster)
    assert report.collected == [("bjones", "hw1", "gradcam"), ("csmith", "hw1", "gradcam"),
                                ("s123", "hw1", "gradcam")]
    # A roster is the list of students: anyone else is not guessed.
    assert report.skipped == ["mallory/hw1/gradcam.ipynb: no roster row matches folder 'mallory'"]


def test_a_misnamed_homework_folder_is_not_a_student(course, tmp_path):
    files = {"alice/hw1/gradcam.ipynb": nb("a"), "carol/hw9/gradcam.ipynb": nb("c")}
    report = collect(course, "hw1", build(tmp_path, "folder", files))
    assert report.collected == [("alice", "hw1", "gradcam")]
    assert report.skipped == ["carol/hw9/gradcam.ipynb: not inside a homework folder as the rest of the "
                              "download is ('hw9' is not a homework of the course)"]


def test_folder_names_that_make_no_student_id(course, tmp_path):
    files = {"bad id!/hw1/gradcam.ipynb": nb("x"), "Zo\u00eb Kim/hw1/gradcam.ipynb": nb("zoe")}
    report = collect(course, "hw1", build(tmp_path, "zip", files))
    assert report.collected == [("zoe_kim", "hw1", "gradcam")]
    assert report.skipped == ["bad id!/hw1/gradcam.ipynb: folder 'bad id!' gives no valid student id"]


def test_the_bundled_examples_are_taken_whole(course):
    report = collect(course, "hw1", REPO / "examples" / "submissions")
    assert report.skipped == [] and report.layout == "folders"
    assert "hw1" not in report.homeworks_left and report.ignored == ["README.md: the download's README"]
    assert {q for _, _, q in report.collected} == set(HW1)


# --- Everything else --------------------------------------------------------------------------

def test_nothing_collected_is_plain_to_see(course, tmp_path, kind):
    files = {"smithcarol_12345_67890_hw1.pdf": b"%PDF", "jonesbob_222_70002_answers.docx": b"PK"}
    report = collect(course, "hw1", build(tmp_path, kind, files))
    assert report.collected == [] and report.students == [] and len(report.skipped) == 2
    assert report.layout == "canvas"


def test_hostile_entries_in_an_lms_zip(course, tmp_path):
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("smithcarol_12345_67890_conv_by_hand.ipynb", nb("ok"))
        zf.writestr("../smithcarol_12345_67891_gradcam.ipynb", nb("up"))
        zf.writestr("..\\..\\jonesbob_222_1_gradcam.ipynb", nb("windows up"))
        zf.writestr("C:/jonesbob_222_2_gradcam.ipynb", nb("drive"))
        zf.writestr("alice\x1b[31m/hw1/gradcam.ipynb", nb("escape"))
        link = zipfile.ZipInfo("jonesbob_222_3_mnist_cnn.ipynb")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    report = collect(course, "hw1", archive)
    assert report.collected == [("smithcarol", "hw1", "conv_by_hand")]
    assert reasons(report) == {
        "../smithcarol_12345_67891_gradcam.ipynb": "unsafe path in archive",
        "..\\..\\jonesbob_222_1_gradcam.ipynb": "unsafe path in archive",
        "C:/jonesbob_222_2_gradcam.ipynb": "unsafe path in archive",
        "jonesbob_222_3_mnist_cnn.ipynb": "symbolic links are not collected",
        "alice\\x1b[31m/hw1/gradcam.ipynb": "folder 'alice\\x1b[31m' gives no valid student id",  # printable
    }
    assert sorted(os.listdir(course.submitted)) == ["smithcarol"]


def test_a_too_large_newest_copy_leaves_the_older_one(course, tmp_path, monkeypatch):
    monkeypatch.setattr(collect_module, "MAX_NOTEBOOK_BYTES", 200)
    files = {"smithcarol_12345_1_gradcam.ipynb": nb("small"),
             "smithcarol_12345_2_gradcam.ipynb": nb("big" + "x" * 300)}
    report = collect(course, "hw1", build(tmp_path, "zip", files))
    assert report.collected == [("smithcarol", "hw1", "gradcam")]
    assert tag_of(course.submitted / "smithcarol" / "hw1" / "gradcam.ipynb") == "small"
    assert reasons(report) == {"smithcarol_12345_2_gradcam.ipynb": "larger than 200 bytes"}


def test_a_zip_member_whose_header_lies_about_its_size(course, tmp_path):
    archive = tmp_path / "lie.zip"
    content = nb("x" * 1000)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice/hw1/gradcam.ipynb", content)
    data = bytearray(archive.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = struct.pack("<I", 10)  # claims 10 bytes
    archive.write_bytes(bytes(data))
    report = collect(course, "hw1", archive)
    assert report.collected == []
    assert report.skipped[0].startswith("alice/hw1/gradcam.ipynb: cannot be read")


def test_a_zip_time_in_utc_is_the_submission_time(course, tmp_path):
    archive = tmp_path / "utc.zip"
    moment = datetime(2024, 5, 6, 7, 8, 10, tzinfo=timezone.utc)
    info = zipfile.ZipInfo("alice/hw1/gradcam.ipynb", date_time=(2001, 1, 1, 0, 0, 0))
    info.extra = struct.pack("<HHBi", 0x5455, 5, 1, int(moment.timestamp()))  # the extended-timestamp field
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, nb("a"))
    collect(course, "hw1", archive)
    assert stamp(course, "alice") == "2024-05-06 07:08:10.000000 UTC"


def test_a_zip_without_times_gets_the_collection_time(course, tmp_path):
    archive = tmp_path / "old.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("alice/hw1/gradcam.ipynb"), nb("a"))  # 1980-01-01: no time at all
    before = datetime.now(timezone.utc)
    report = collect(course, "hw1", archive)
    assert report.timestamps["alice"] >= before and "no time" in report.notes[0]


def test_a_symlinked_student_folder_is_refused(course, tmp_path):
    (tmp_path / "elsewhere" / "hw1").mkdir(parents=True)
    (tmp_path / "elsewhere" / "hw1" / "gradcam.ipynb").write_bytes(nb("x"))
    (tmp_path / "download").mkdir()
    (tmp_path / "download" / "mallory").symlink_to(tmp_path / "elsewhere")
    report = collect(course, "hw1", tmp_path / "download")
    assert report.collected == [] and report.skipped == ["mallory/: symbolic links are not collected"]


def test_a_roster_is_for_downloads_only(course):
    with pytest.raises(ValueError, match="roster"):
        collect(course, "hw1", None, roster=parse_roster("student_id\nalice\n"))


# --- The pieces -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("conv_by_hand.ipynb", ("conv_by_hand", 0)),
    ("Conv_By_Hand.IPYNB", ("conv_by_hand", 0)),
    ("conv_by_hand (1).ipynb", ("conv_by_hand", 1)),
    ("conv_by_hand(2).ipynb", ("conv_by_hand", 2)),
    ("conv_by_hand-1.ipynb", ("conv_by_hand", 1)),
    ("conv_by_hand 2.ipynb", ("conv_by_hand", 2)),
    ("conv_by_hand - Copy (3).ipynb", ("conv_by_hand", 3)),
    ("conv_by_hand-Copy1.ipynb", ("conv_by_hand", 1)),
    ("Copy of conv_by_hand.ipynb", ("conv_by_hand", 1)),
    ("Copy of conv_by_hand (4).ipynb", ("conv_by_hand", 4)),
    ("conv by hand.ipynb", ("conv_by_hand", 0)),
    ("conv_by_hand.py", None),
    ("notes.ipynb", None),
    ("conv_by_hand_extra.ipynb", None),
])
def test_matching_a_question_by_file_name(name, expected):
    assert match_question(name, HW1) == expected


@pytest.mark.parametrize("paths, layout", [
    ([("smithcarol_1_2_gradcam.ipynb",), ("jonesbob_LATE_3_4_gradcam.ipynb",)], "canvas"),
    ([("Carol Smith_1_assignsubmission_file_", "gradcam.ipynb")], "moodle"),
    ([("export", "submission_1", "gradcam.ipynb")], "gradescope"),
    ([("alice", "hw1", "gradcam.ipynb")], "folders"),
    ([("alice", "hw1", "lab_1_2_conv.ipynb"), ("bob", "hw1", "gradcam.ipynb"), ("c", "hw1", "x.ipynb")], "folders"),
])
def test_detecting_the_layout(paths, layout):
    assert detect_layout(paths) == layout


def test_student_ids_from_names():
    assert slug("Se\u00e1n O'Brien") == "sean_obrien"
    assert Identity("gradescope", name="Dana Wu", email="dana.wu@uni.edu").default_id() == "dana.wu"
    assert Identity("folders", name="Alice").default_id() == "Alice"  # a valid id is kept as it is
    assert Identity("folders", name="Carol  Smith").default_id() == "carol_smith"


def test_roster_errors(tmp_path):
    with pytest.raises(RosterError, match="no student_id column"):
        parse_roster("name,email\nCarol,c@x\n")
    with pytest.raises(RosterError, match="line 3: 'bad id' is not a valid student id"):
        parse_roster("student_id,name\nok,Ok\nbad id,Bad\n")
    with pytest.raises(RosterError, match="cannot read the roster"):
        load_roster(tmp_path / "missing.csv")
    assert issubclass(RosterError, UsageError)  # the CLI's one-line error, exit status 2
