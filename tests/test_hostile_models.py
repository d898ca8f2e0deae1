"""Hostile mnist_cnn submissions, graded end to end: faked measurements and forged model files.

The grader rebuilds the model from data and measures it itself, so printed or stored accuracies
and overridden count_params() change nothing. The bundled `untrained_model` example shows the
honest baseline for a correct but untrained model: 5/10 (learned 0, accuracy 0).
A model file forged inside the kernel (pickled payload, compiled AOTInductor code) is refused by
the trusted loader, and its payload never runs on the grader.
"""
import base64
import shutil
import subprocess
import uuid
from types import SimpleNamespace

import pytest

from autograder.executor import sandbox_available
from grading_support import answer_notebook, answer_source, grade, points, submit, temp_course

OK, WHY = sandbox_available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not OK, reason=f"bubblewrap unavailable: {WHY}")]

Q = "mnist_cnn"
LIMITS = dict(cell_timeout_s=120, notebook_timeout_s=300, harvest_timeout_s=120)
CHECKS = ("test_parameter_count", "test_convolutional_layers", "test_outputs_ten_classes",
          "test_model_learned", "test_heldout_accuracy")
UNTRAINED = {"test_parameter_count": 2, "test_convolutional_layers": 2, "test_outputs_ten_classes": 1,
             "test_model_learned": 0, "test_heldout_accuracy": 0}
NOTHING = dict.fromkeys(CHECKS, 0)

BUILD = answer_source(Q, "cnn_build_solution")
COMPILE = '''model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
'''
FAKE_ACCURACY = COMPILE + '''
test_loss, test_accuracy = 0.01, 0.99
model.evaluate = lambda *args, **kwargs: [0.01, 0.99]
history = type("History", (), {"history": {"accuracy": [0.99] * 5, "val_accuracy": [0.99] * 5}})()
print(f"Test accuracy: {test_accuracy:.4f}")
'''
# Two convolutions instead of three: 438,154 parameters, reported as the specified 147,402.
MISSING_LAYER = '''model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
    layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
    layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(128, activation="relu"), layers.Dense(10),
])
model.count_params = lambda: 147_402
'''
SUBCLASS = '''class Specified(keras.Sequential):
    def count_params(self):
        return 147_402

model = Specified([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
    layers.Flatten(), layers.Dense(10),
])
'''
# The example PyTorch student's network (built, not yet trained).
TORCH_MODEL = answer_source(Q, "cnn_build_solution", student="pytorch") + "\n"
# The kernel's torch.export.save is the student's: the grader's harvest writes a forged archive.
PICKLE_PAYLOAD = '''import io, json, os, zipfile
_real_save = torch.export.save

class _Payload:
    def __reduce__(self):
        return os.system, ("touch {marker}",)

def _forged_save(program, path, *args, **kwargs):
    _real_save(program, path, *args, **kwargs)
    with zipfile.ZipFile(path) as z:
        entries = {{info.filename: z.read(info.filename) for info in z.infolist()}}
    config_name = next(n for n in entries if n.endswith("model_weights_config.json"))
    config = json.loads(entries[config_name])
    first = next(iter(config["config"]))
    config["config"][first]["use_pickle"] = True
    entries[config_name] = json.dumps(config).encode()
    payload = io.BytesIO()
    torch.save(_Payload(), payload)
    entries[config_name.rsplit("/", 1)[0] + "/" + config["config"][first]["path_name"]] = payload.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, content in entries.items():
            z.writestr(name, content)

torch.export.save = _forged_save
'''
AOTI_PAYLOAD = '''import base64, zipfile
_real_save = torch.export.save
_library = base64.b64decode({library!r})

def _forged_save(program, path, *args, **kwargs):
    _real_save(program, path, *args, **kwargs)
    with zipfile.ZipFile(path, "a") as z:
        prefix = z.namelist()[0].split("/")[0]
        z.writestr(f"{{prefix}}/data/aotinductor/model/evil.wrapper.so", _library)
        z.writestr(f"{{prefix}}/data/aotinductor/model/evil.wrapper_metadata.json", '{{"AOTI_DEVICE_KEY": "cpu"}}')

torch.export.save = _forged_save
'''


def untrained(build: str, train: str = COMPILE):
    return answer_notebook(Q, {"cnn_build_solution": build, "cnn_train_solution": train})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    course = temp_course(base)
    markers = {"pickle": base / f"pickle-ran-{uuid.uuid4().hex}", "aoti": base / f"native-ran-{uuid.uuid4().hex}"}
    students = {
        "untrained_model": answer_notebook(Q, student="untrained_model"),
        "fake_accuracy": untrained(BUILD, FAKE_ACCURACY),
        "fake_count_params": untrained(MISSING_LAYER),
        "subclass_count_params": untrained(SUBCLASS),
        "forged_pt2_pickle": untrained(TORCH_MODEL + PICKLE_PAYLOAD.format(marker=markers["pickle"]), ""),
    }
    if shutil.which("gcc"):
        source = base / "evil.c"
        source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void) {'
                          f' FILE *f = fopen("{markers["aoti"]}", "w"); if (f) fclose(f); }}\n')
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(base / "evil.so"), str(source)], check=True)
        library = base64.b64encode((base / "evil.so").read_bytes()).decode()
        students["forged_pt2_aoti"] = untrained(TORCH_MODEL + AOTI_PAYLOAD.format(library=library), "")
    for student, nb in students.items():
        submit(course, student, Q, nb)
    grades = grade(course, **LIMITS)
    return SimpleNamespace(grades={s: g for (s, q), g in grades.items() if q == Q}, markers=markers)


def by_check(g) -> dict:
    return {c: points(g, c) for c in CHECKS}


def test_baseline_untrained_model(run):
    assert by_check(run.grades["untrained_model"]) == UNTRAINED


def test_faked_accuracy_is_not_believed(run):
    g = run.grades["fake_accuracy"]
    assert g.status == "graded"
    assert by_check(g) == by_check(run.grades["untrained_model"]) == UNTRAINED
    assert "close to guessing" in next(c["message"] for c in g.checks if c["id"] == "test_model_learned")


def test_overridden_count_params_is_not_believed(run):
    g = run.grades["fake_count_params"]
    assert by_check(g) == {"test_parameter_count": 0, "test_convolutional_layers": 0, "test_outputs_ten_classes": 1,
                           "test_model_learned": 0, "test_heldout_accuracy": 0}
    assert "438,154 parameters" in next(c["message"] for c in g.checks if c["id"] == "test_parameter_count")


def test_a_custom_model_class_is_refused_not_run(run):
    g = run.grades["subclass_count_params"]
    assert by_check(g) == NOTHING
    assert all("could not rebuild your Keras model" in c["message"] for c in g.checks)


def test_pickled_payload_in_the_exported_model_never_runs(run):
    g = run.grades["forged_pt2_pickle"]
    assert not run.markers["pickle"].exists(), "the student's pickle payload ran in the grader"
    assert by_check(g) == NOTHING
    assert all("could not rebuild your PyTorch model" in c["message"] for c in g.checks)


def test_compiled_code_in_the_exported_model_never_runs(run):
    if "forged_pt2_aoti" not in run.grades:
        pytest.skip("needs a C compiler to build the forged shared library")
    g = run.grades["forged_pt2_aoti"]
    assert not run.markers["aoti"].exists(), "the student's shared library ran in the grader"
    assert by_check(g) == NOTHING
    assert all("contains compiled code" in c["message"] for c in g.checks)
