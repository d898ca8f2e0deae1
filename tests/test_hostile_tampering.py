"""Hostile submissions, graded end to end: forging results and fooling the checks.

The kernel is untrusted: it can forge the files the grader harvests, replace the harvest itself or
patch NumPy, builtins and IPython. The hidden checks run in another (trusted) process on data only,
so a student earns what the data earns and nothing more. The baseline is `zeros`, an honest
student whose functions return zeros of the right shape: 2/10 (output sizes only).
Forged model files (.pt2 / .keras) are covered at the loader level at the end of this file, and
end to end in test_hostile_models.py.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from autograder.checker.models import ModelLoadError, load_model
from autograder.executor import HarvestError, read_results, sandbox_available
from grading_support import answer_notebook, grade, points, submit, temp_course

OK, WHY = sandbox_available()
needs_bwrap = pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")

Q = "conv_by_hand"
LIMITS = dict(cell_timeout_s=15, notebook_timeout_s=60, harvest_timeout_s=30)
CHECKS = ("test_output_shapes", "test_cross_correlation_values", "test_convolution_values",
          "test_non_square_and_even_kernels")
SHAPES_ONLY = {"test_output_shapes": 2, "test_cross_correlation_values": 0, "test_convolution_values": 0,
               "test_non_square_and_even_kernels": 0}
NOTHING = dict.fromkeys(CHECKS, 0)

HELPERS = '''
import numpy as np

def _out_shape(image, kernel, stride, padding):
    image, kernel = np.asarray(image), np.asarray(kernel)
    return tuple((n + 2 * padding - k) // stride + 1 for n, k in zip(image.shape, kernel.shape))

def _right(image, kernel, stride, padding):
    image = np.pad(np.asarray(image, dtype=float), padding)
    kernel = np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape
    h, w = _out_shape(image, kernel, stride, 0)
    return np.array([[np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
                      for j in range(w)] for i in range(h)]).reshape(h, w)
'''


def returning(expr: str, prelude: str = ""):
    """Answers whose functions return `expr`; in scope: `shape` (the right output shape) and
    `right` (the right output array)."""
    xcorr = HELPERS + prelude + f'''
def cross_correlate2d(image, kernel, stride=1, padding=0):
    shape, right = _out_shape(image, kernel, stride, padding), _right(image, kernel, stride, padding)
    return {expr}
'''
    conv = f'''
def convolve2d(image, kernel, stride=1, padding=0):
    kernel = np.asarray(kernel)[::-1, ::-1]
    shape, right = _out_shape(image, kernel, stride, padding), _right(image, kernel, stride, padding)
    return {expr}
'''
    return answer_notebook(Q, {"conv_xcorr_solution": xcorr, "conv_convolve_solution": conv})


def plus(nb, *cells: str):
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    return nb


# Replaces the grader's harvest code, whatever it is, through IPython's documented input hook:
# every cell, the harvest included, passes through it. `forge(request_dir, results_dir)` then
# writes whatever the student likes where the grader will look.
HIJACK = '''
import re

def _hijack(lines):
    source = "".join(lines)
    if "__autograder_harvest" not in source:
        return lines
    request_dir, results_dir = re.findall(r"'(/[^']*)'", source)[-2:]
    return [f"forge({request_dir!r}, {results_dir!r})\\n"]

get_ipython().input_transformers_post.append(_hijack)
'''

FORGE_ZEROS = '''
import json, os
import numpy as np

def forge(request_dir, results_dir):
    request = json.load(open(os.path.join(request_dir, "request.json")))
    arrays = np.load(os.path.join(request_dir, "request.npz"))
    calls = {}
    for call in request["calls"]:
        image, kernel = (arrays[a["array"]] for a in call["args"])
        stride, padding = call["kwargs"]["stride"]["json"], call["kwargs"]["padding"]["json"]
        shape = [(n + 2 * padding - k) // stride + 1 for n, k in zip(image.shape, kernel.shape)]
        np.save(os.path.join(results_dir, f"call-{call['name']}.npy"), np.zeros(shape))
        calls[call["name"]] = {"ok": True, "file": f"call-{call['name']}.npy"}
    json.dump({"calls": calls, "models": {}, "values": {}}, open(os.path.join(results_dir, "results.json"), "w"))
'''

FORGE_FILES = '''
import json, os
import numpy as np

def forge(request_dir, results_dir):
    request = json.load(open(os.path.join(request_dir, "request.json")))
    names = [c["name"] for c in request["calls"]]
    calls = {}
    for i, name in enumerate(names):
        fname = f"call-{name}.npy"
        path = os.path.join(results_dir, fname)
        trick = i % 8
        if trick == 0:
            calls[name] = {"ok": True, "file": "../../../../../../etc/passwd"}
            continue
        if trick == 1:
            calls[name] = {"ok": True, "file": "/etc/passwd"}
            continue
        if trick == 2:
            os.symlink("/etc/shadow", path)
        elif trick == 3:
            os.mkfifo(path)
        elif trick == 4:
            os.mkdir(path)
        elif trick == 5:
            np.save(path, np.array([{"right": True}], dtype=object), allow_pickle=True)
        elif trick == 6:
            open(path, "w").write("not an array")
        else:
            calls[name] = {"ok": True}
            continue
        calls[name] = {"ok": True, "file": fname}
    json.dump({"calls": calls, "models": {}, "values": {}}, open(os.path.join(results_dir, "results.json"), "w"))
'''

# Every call "returns" a dict, saved as a zip of two members that declare 600 MB each of zeros:
# a few MB on disk, 1.2 GB in the grader's memory per file if it unpacked them.
FORGE_ZIP_BOMB = '''
import json, os, zipfile
import numpy as np

def forge(request_dir, results_dir):
    request = json.load(open(os.path.join(request_dir, "request.json")))
    bomb = os.path.join(results_dir, "bomb.npz")
    count = 600 * 2**20 // 8
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for member in ("a.npy", "b.npy"):
            with z.open(member, "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (count,)})
                chunk = bytes(16 * 2**20)
                for _ in range(count * 8 // len(chunk)):
                    f.write(chunk)
    calls = {}
    for call in request["calls"]:
        os.link(bomb, os.path.join(results_dir, f"call-{call['name']}.npz"))
        calls[call["name"]] = {"ok": True, "file": f"call-{call['name']}.npz"}
    json.dump({"calls": calls, "models": {}, "values": {}}, open(os.path.join(results_dir, "results.json"), "w"))
'''

FORGE_DEEP_JSON = '''
import os

def forge(request_dir, results_dir):
    open(os.path.join(results_dir, "results.json"), "w").write("[" * 500_000 + "]" * 500_000)
'''

# Forged results placed before the harvest, everywhere a student might guess the grader looks.
PRECREATE = '''
import json, os
import numpy as np
forged = {"calls": {f"{p}_{c}": {"ok": True, "file": f"call-{p}_{c}.npy"} for p in ("xcorr", "conv")
                    for c in ("s1_p0", "s1_p1", "s2_p1_odd_span", "s2_p0_even_span", "s3_p2",
                              "rect_s1_p1", "rect_s2_p0", "rect_s1_p2_even")}, "models": {}, "values": {}}
for d in (".", "results", "harvest", "results-0", "/tmp", "/tmp/results"):
    os.makedirs(d, exist_ok=True)
    json.dump(forged, open(os.path.join(d, "results.json"), "w"))
    for name in forged["calls"]:
        np.save(os.path.join(d, f"call-{name}.npy"), np.zeros((5, 5)))
'''

HIDE_ERRORS = '''
import sys
from IPython.core.interactiveshell import InteractiveShell
sys.excepthook = lambda *args: None
get_ipython().showtraceback = lambda *args, **kwargs: None
InteractiveShell._showtraceback = lambda *args, **kwargs: None
InteractiveShell.showtraceback = lambda *args, **kwargs: None
'''

PATCH_NUMPY = '''
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
'''

PATCH_SAVE = '''
import json, numpy as np
_real_dump = json.dump
def _dump_all_ok(obj, fp, *args, **kwargs):
    # Marks every failed call as a success.
    for entry in obj.get("calls", {}).values() if isinstance(obj, dict) else ():
        entry.update(ok=True, file=entry.get("file", "call-forged.npy"))
    return _real_dump(obj, fp, *args, **kwargs)
json.dump = _dump_all_ok
np.save = lambda file, arr, *args, **kwargs: open(file, "wb").write(b"\\x93NUMPY forged")
'''

PATCH_BUILTINS = '''
import builtins
_isinstance, _len = builtins.isinstance, builtins.len
builtins.isinstance = lambda obj, cls: True if cls is dict else _isinstance(obj, cls)
builtins.len = lambda obj: 8 if _isinstance(obj, list) else _len(obj)
'''

SUBCLASS = '''
class Always(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __ne__(self, other): return np.zeros(np.shape(other), bool)
    def __sub__(self, other): return np.zeros(np.shape(other))
    def __rsub__(self, other): return np.zeros(np.shape(other))
'''

ALWAYS_EQ = '''
class AlwaysEqual:
    shape = property(lambda self: self.target_shape)
    def __init__(self, shape): self.target_shape = shape
    def __eq__(self, other): return True
    def __len__(self): return self.target_shape[0]
'''

ARRAY_DUNDER = '''
class LooksLikeArray:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no")
    def __eq__(self, other): return True
'''


def students():
    return {
        "zeros": returning("np.zeros(shape)"),
        "reference": answer_notebook(Q),
        "hijack_zeros": plus(answer_notebook(Q), FORGE_ZEROS, HIJACK),
        "hijack_files": plus(answer_notebook(Q), FORGE_FILES, HIJACK),
        "hijack_zip_bomb": plus(answer_notebook(Q), FORGE_ZIP_BOMB, HIJACK),
        "hijack_deep_json": plus(answer_notebook(Q), FORGE_DEEP_JSON, HIJACK),
        "precreate": plus(returning("undefined_name"), PRECREATE),
        "patch_numpy": plus(returning("np.zeros(shape)", prelude=PATCH_NUMPY), PATCH_NUMPY),
        "patch_save": plus(returning("undefined_name"), PATCH_SAVE),
        "patch_builtins": plus(answer_notebook(Q), PATCH_BUILTINS),
        "hide_errors": returning("undefined_name", prelude=HIDE_ERRORS),
        "always_equal": returning("AlwaysEqual(shape)", prelude=ALWAYS_EQ),
        "array_dunder": returning("LooksLikeArray()", prelude=ARRAY_DUNDER),
        "subclass": returning("np.zeros(shape).view(Always)", prelude=SUBCLASS),
        "nan_inf": returning("np.where(np.arange(np.prod(shape)).reshape(shape) % 2, np.nan, np.inf)"),
        "list_of_lists": returning("right.tolist()"),
        "ragged": returning("[[1.0, 2.0], [3.0]]"),
        "dict": returning("{'out': right}"),
        "text": returning("str(right)"),
        "too_big": returning("np.zeros((6000, 6000))"),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not OK:
        pytest.skip(f"bubblewrap unavailable: {WHY}")
    course = temp_course(tmp_path_factory.mktemp("tampering"))
    for student, nb in students().items():
        submit(course, student, Q, nb)
    grades = grade(course, **LIMITS)
    return SimpleNamespace(course=course, grades={s: g for (s, q), g in grades.items() if q == Q})


def by_check(g) -> dict:
    return {c: points(g, c) for c in CHECKS}


def messages(g) -> str:
    return "\n".join(c["message"] for c in g.checks)


@needs_bwrap
@pytest.mark.slow
def test_baselines(run):
    assert by_check(run.grades["zeros"]) == SHAPES_ONLY
    assert run.grades["reference"].score == 10


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("student", ["hijack_zeros", "patch_numpy", "subclass"])
def test_tricks_earn_only_what_their_data_earns(run, student):
    # Right shapes, wrong values: exactly the honest `zeros` score, check by check.
    g = run.grades[student]
    assert g.status == "graded"
    assert by_check(g) == by_check(run.grades["zeros"]) == SHAPES_ONLY


@needs_bwrap
@pytest.mark.slow
def test_forged_file_names_links_fifos_and_pickles_earn_nothing(run):
    g = run.grades["hijack_files"]
    assert (g.status, by_check(g)) == ("graded", NOTHING)
    # Each check names its first problem: the first call claims a file outside the results.
    assert "calling cross_correlate2d() failed: invalid result file name" in messages(g)
    assert "grader could not evaluate" not in messages(g)


@needs_bwrap
@pytest.mark.slow
def test_zip_bomb_results_are_refused_unread(run):
    g = run.grades["hijack_zip_bomb"]
    assert (g.status, by_check(g)) == ("graded", NOTHING)
    assert "too large once unpacked" in messages(g)


@needs_bwrap
@pytest.mark.slow
def test_deeply_nested_results_are_a_student_problem_not_a_grader_fault(run):
    g = run.grades["hijack_deep_json"]
    assert (g.status, by_check(g)) == ("graded", NOTHING)
    assert "harvest results are unreadable" in messages(g)
    assert "grader could not evaluate" not in messages(g)


@needs_bwrap
@pytest.mark.slow
def test_results_forged_before_the_harvest_are_ignored(run):
    g = run.grades["precreate"]
    assert by_check(g) == NOTHING
    assert "NameError" in messages(g)


@needs_bwrap
@pytest.mark.slow
def test_patched_json_and_numpy_save_in_the_kernel_earn_nothing(run):
    g = run.grades["patch_save"]
    assert by_check(g) == NOTHING


@needs_bwrap
@pytest.mark.slow
def test_patched_builtins_never_add_marks(run):
    g = run.grades["patch_builtins"]
    assert g.status == "graded" and g.score <= 10
    assert all(points(g, c) <= points(run.grades["reference"], c) for c in CHECKS)


@needs_bwrap
@pytest.mark.slow
def test_hidden_tracebacks_still_fail_and_name_the_cell(run):
    g = run.grades["hide_errors"]
    assert by_check(g) == NOTHING
    # The worked-example check (locked, right after the answer) raised: still recorded by cell.
    assert g.message == "ran to the end with errors (first in conv_check_worked_example)"


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("student", ["always_equal", "array_dunder", "ragged", "dict", "text", "too_big"])
def test_non_arrays_earn_nothing_and_the_grader_stays_up(run, student):
    g = run.grades[student]
    assert (g.status, by_check(g)) == ("graded", NOTHING)
    assert any(m in messages(g) for m in ("calling cross_correlate2d() failed", "not an array of numbers", "shape"))


@needs_bwrap
@pytest.mark.slow
def test_nan_and_inf_of_the_right_shape_earn_nothing_not_even_the_shape_marks(run):
    g = run.grades["nan_inf"]
    assert (g.status, by_check(g)) == ("graded", NOTHING)
    assert "NaN or infinite" in messages(g)


@needs_bwrap
@pytest.mark.slow
def test_list_of_lists_of_right_values_is_just_the_right_answer(run):
    g = run.grades["list_of_lists"]
    assert (g.status, g.score, g.max_score) == ("graded", 10, 10)


# -- forged model files, at the loader (the trusted checks process) ------------------------------

def _torch_archive(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 26 * 26, 10))
    program = torch.export.export(model.eval(), (torch.zeros(2, 1, 28, 28),))
    path = tmp_path / "model-cnn.pt2"
    torch.export.save(program, str(path))
    return path


def _rewrite(src, dest, change: dict[str, bytes], add: dict[str, bytes] = {}):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change.get(info.filename, zin.read(info.filename)))
        for name, content in add.items():
            zout.writestr(name, content)
    return dest


def _unguarded_load_runs_payload(path, marker) -> bool:
    """The payload is live: plain torch.export.load (in a throwaway process) runs it."""
    subprocess.run([sys.executable, "-c", f"import torch; torch.export.load({str(path)!r})"],
                   capture_output=True, timeout=300)
    ran = marker.exists()
    marker.unlink(missing_ok=True)
    return ran


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickled_weights_in_a_forged_pt2_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    good = _torch_archive(tmp_path)
    marker = tmp_path / "pickle-payload-ran"
    with zipfile.ZipFile(good) as z:
        config_name = next(n for n in z.namelist() if n.endswith("model_weights_config.json"))
        config = json.loads(z.read(config_name))
    first = next(iter(config["config"]))
    config["config"][first]["use_pickle"] = True
    payload = io.BytesIO()
    torch.save(_Payload(marker), payload)
    weight = config_name.rsplit("/", 1)[0] + "/" + config["config"][first]["path_name"]
    forged = _rewrite(good, tmp_path / "forged.pt2", {config_name: json.dumps(config).encode(),
                                                      weight: payload.getvalue()})
    assert _unguarded_load_runs_payload(forged, marker)
    with pytest.raises(ModelLoadError):
        load_model(forged, "torch")
    assert not marker.exists()
    load_model(good, "torch")  # the guard leaves honest exports alone


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler to build the forged shared library")
def test_compiled_code_in_a_forged_pt2_is_never_loaded(tmp_path):
    # torch.export.load dlopens an AOTInductor package's shared library if the archive has one.
    marker = tmp_path / "native-code-ran"
    source = tmp_path / "evil.c"
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void) {'
                      f' FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}\n')
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "evil.so"), str(source)], check=True)
    good = _torch_archive(tmp_path)
    with zipfile.ZipFile(good) as z:
        prefix = z.namelist()[0].split("/")[0]
    forged = _rewrite(good, tmp_path / "forged.pt2", {}, {
        f"{prefix}/data/aotinductor/model/evil.wrapper.so": (tmp_path / "evil.so").read_bytes(),
        f"{prefix}/data/aotinductor/model/evil.wrapper_metadata.json": b'{"AOTI_DEVICE_KEY": "cpu"}',
    })
    assert _unguarded_load_runs_payload(forged, marker)
    with pytest.raises(ModelLoadError) as refused:
        load_model(forged, "torch")
    assert not marker.exists(), "the student's shared library ran in the grader"
    assert "compiled code" in str(refused.value)


def test_forged_keras_configs_are_refused(tmp_path):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    good = tmp_path / "model-cnn.keras"
    model.save(good)
    marker = tmp_path / "keras-payload-ran"
    with zipfile.ZipFile(good) as z:
        config = json.loads(z.read("config.json"))
    gadgets = {
        "popen_layer": {"module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", str(marker)]},
                        "registered_name": None},
        "system_activation": {"module": "os", "class_name": "function", "config": "system", "registered_name": "system"},
        "lambda_layer": {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                         "config": {"name": "l", "function": {"class_name": "__lambda__",
                                                              "config": {"code": "", "defaults": None, "closure": None}}}},
    }
    for name, gadget in gadgets.items():
        forged_config = json.loads(json.dumps(config))
        if name == "system_activation":
            forged_config["config"]["layers"][1]["config"]["activation"] = gadget
        else:
            forged_config["config"]["layers"][1] = gadget
        forged = _rewrite(good, tmp_path / f"{name}.keras", {"config.json": json.dumps(forged_config).encode()})
        with pytest.raises(ModelLoadError):
            load_model(forged, "keras")
    assert not marker.exists()


def test_model_zip_bombs_are_refused(tmp_path):
    bomb = tmp_path / "model-cnn.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("model.weights.h5", "w", force_zip64=True) as f:
            chunk = bytes(64 * 2**20)
            for _ in range(20):  # 1.25 GB of zeros, about 1 MB on disk
                f.write(chunk)
    assert bomb.stat().st_size < 10 * 2**20
    for framework in ("keras", "torch"):
        with pytest.raises(ModelLoadError, match="too large"):
            load_model(bomb, framework)


def test_results_reader_refuses_npz_bombs_and_deep_json(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    with zipfile.ZipFile(results / "call-x.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("a.npy", "w", force_zip64=True) as f:
            count = 640 * 2**20 // 8
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (count,)})
            for _ in range(10):
                f.write(bytes(64 * 2**20))
    (results / "results.json").write_text(json.dumps({"calls": {"x": {"ok": True, "file": "call-x.npz"}}}))
    with pytest.raises(HarvestError, match="too large once unpacked"):
        read_results(results).call("x")
    (results / "results.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(HarvestError, match="unreadable: RecursionError"):
        read_results(results).call("x")
