"""Hidden checks for keras_tuner: build_model's search space and networks, the tuner's search, and
the retrained best network's accuracy on held-out CIFAR-10 images.

The grader drives `build_model` itself, through the notebook's locked grading hooks, exactly as a
tuner's trial does: once with an empty `keras_tuner.HyperParameters` (the space it registers comes
back as JSON text: names, kinds, ranges, steps, choices), and once per point of the space drawn
here (the corner of every smallest value, the corner of every largest value, two corners mixing
both, two random points), with the point's values set in `hp.values` before the call. Every network
built there is exported and rebuilt here (Keras safe_mode): its parameters and layers are counted
by the grader, from the formula of the architecture table. Only the compile settings (optimizer
class, learning rate) are read in the kernel. `best_model` is exported too, and measured on
`load_heldout("cifar10")`, the half of the test set the sandbox never sees.
"""
import json
import math

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, Outcome, StudentError, score

DATASETS = ("cifar10",)

# The space the question asks for, each list from the smallest value to the largest.
SPACE = {
    "conv_layers": [1, 2, 3],
    "filters": [8, 16, 24, 32],
    "dense_layers": [1, 2, 3, 4],
    "units": [128, 192, 256],
    "dropout": [False, True],
    "learning_rate": [1e-4, 5e-4, 1e-3],
    "optimizer": ["adam", "sgd"],
}
NAMES = tuple(SPACE)
MIXED_CORNERS, RANDOM_POINTS = 2, 2
MIN_COMPLETED_TRIALS = 2
MAX_VALUES = 10_000   # a registered range with more values than this is not a small discrete one
# The sizes a network of the table can have at all (32x32 images halve at most 5 times).
SIZES = {"conv_layers": (1, 5), "filters": (1, 4096), "dense_layers": (1, 64), "units": (1, 65536)}


# -- the points of the space the grader builds -----------------------------------------------------

def _json_value(value):
    """A value of SPACE as plain JSON data (NumPy scalars are not)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)


def _points(rng: np.random.Generator) -> dict[str, dict]:
    """Both extreme corners (dropout off, Adam and the smallest rate in one; dropout on, SGD and
    the largest rate in the other), corners mixing them, and points anywhere in the space."""
    points = {"smallest_corner": {n: _json_value(v[0]) for n, v in SPACE.items()},
              "largest_corner": {n: _json_value(v[-1]) for n, v in SPACE.items()}}
    for i in range(1, MIXED_CORNERS + 1):
        points[f"mixed_corner_{i}"] = {n: _json_value(v[-1] if rng.integers(2) else v[0]) for n, v in SPACE.items()}
    for i in range(1, RANDOM_POINTS + 1):
        points[f"random_point_{i}"] = {n: _json_value(v[rng.integers(len(v))]) for n, v in SPACE.items()}
    return points


def _describe(values: dict) -> str:
    return "at " + ", ".join(f"{name}={values[name]!r}" for name in NAMES)


def _global_name(label: str) -> str:
    return f"kt_graded_{label}"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    points = _points(rng)
    request = (HarvestRequest()
               .call("space", "kt_space_for_grading")
               .cases("kt_build_for_grading",
                      {label: Case(values, keep_as=_global_name(label)) for label, values in points.items()},
                      describe=lambda case: _describe(case.args[0]))
               .call("tuner", "kt_tuner_for_grading"))
    for label in points:
        request.model(f"point_{label}", variable=_global_name(label))
    return request.model("best", variable="best_model")


# -- the grader's own formula ----------------------------------------------------------------------

def _expected_params(values: dict) -> int:
    """Parameters of the network of the architecture table at these values."""
    convs, filters = int(values["conv_layers"]), int(values["filters"])
    denses, units = int(values["dense_layers"]), int(values["units"])
    total = (9 * 3 + 1) * filters + (convs - 1) * (9 * filters + 1) * filters
    side = 32 // 2 ** convs
    total += (side * side * filters + 1) * units + (denses - 1) * (units + 1) * units
    return total + (units + 1) * 10


def _whole_number(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _keras_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested Sequential / Functional
            yield from _keras_layers(layer)
        else:
            yield layer


def _architecture_problem(model, values: dict) -> str | None:
    """None when `model` (rebuilt) is the table's network at `values`, else what differs."""
    if model.framework != "keras":
        return "build_model must return a Keras model"
    total, trainable = model.count_params()
    if total != _expected_params(values):
        return f"the network has {total:,} parameters: compare it with the architecture table row by row"
    if trainable != total:
        return f"only {trainable:,} of its {total:,} parameters are trainable"
    convs = model.conv_layers()
    filters, count = int(values["filters"]), int(values["conv_layers"])
    if [c["filters"] for c in convs] != [filters] * count:
        return f"it has {len(convs)} convolutions with {[c['filters'] for c in convs]} filters, not as the values say"
    for i, conv in enumerate(convs, start=1):
        side = 32 // 2 ** (i - 1)
        if tuple(conv["kernel_size"]) != (3, 3) or tuple(conv["output_shape"][:2]) != (side, side):
            return (f"convolution {i} has a {conv['kernel_size']} kernel and outputs {conv['output_shape'][:2]} maps: "
                    "3x3 kernels, padding 'same', and a 2x2 max pooling after each convolution")
    units = [int(layer.units) for layer in _keras_layers(model.keras_model) if type(layer).__name__ == "Dense"]
    if units != [int(values["units"])] * int(values["dense_layers"]) + [10]:
        return f"its Dense layers have {units} units, not as the values say"
    return None


# -- reading what the kernel returned ----------------------------------------------------------------

def _space_entries(text) -> dict[str, list[dict]]:
    """The registered hyperparameters by name, from the space hook's JSON text."""
    broken = StudentError("the grading hook did not return the search space: run the notebook's locked cells unchanged")
    if not isinstance(text, str):
        raise broken
    try:
        entries = json.loads(text)
    except ValueError:
        raise broken from None
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("class_name"), str) and isinstance(e.get("config"), dict)
            and isinstance(e["config"].get("name"), str) for e in entries):
        raise broken
    by_name: dict[str, list[dict]] = {}
    for entry in entries:
        by_name.setdefault(entry["config"]["name"], []).append(entry)
    return by_name


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(what)
    return float(value)


def _possible_values(entry: dict) -> list | str:
    """Every value a registered hyperparameter can take, or why they are not a small finite set."""
    kind, cfg = entry["class_name"], entry["config"]
    try:
        if kind == "Boolean":
            return [False, True]
        if kind == "Fixed":
            return [cfg.get("value")]
        if kind == "Choice":
            values = cfg.get("values")
            if not isinstance(values, list) or not values:
                return "has no list of values"
            return list(values)
        if kind in ("Int", "Float"):
            low, high = _number(cfg.get("min_value"), "min"), _number(cfg.get("max_value"), "max")
            step, sampling = cfg.get("step"), cfg.get("sampling") or "linear"
            if step is None and kind == "Float":
                return "takes any value of a range, not a few values"
            step = 1.0 if step is None else _number(step, "step")
            if sampling in ("log", "reverse_log") and cfg.get("step") is not None:
                if step <= 1 or low <= 0:
                    return "has a log scale that takes no steps"
                values, value = [], low
                while value <= high * (1 + 1e-9) and len(values) <= MAX_VALUES:
                    values.append(value)
                    value *= step
            else:
                if step <= 0 or (high - low) / step > MAX_VALUES:
                    return "takes too many values"
                count = int(math.floor((high - low) / step + 1e-9)) + 1
                values = [low + k * step for k in range(count)]
            return [int(round(v)) for v in values] if kind == "Int" else values
    except ValueError:
        return "has a range the grader cannot read"
    return f"is a {kind}, not an Int, a Choice or a Boolean"


def _same_values(got: list, asked: list) -> bool:
    if len(got) != len(asked):
        return False
    if all(isinstance(v, str) for v in asked):
        return all(isinstance(v, str) for v in got) and sorted(got) == sorted(asked)
    if not all(isinstance(v, (bool, int, float)) for v in got):
        return False
    return np.allclose(sorted(float(v) for v in got), sorted(float(v) for v in asked), rtol=1e-6, atol=0)


def _show(values: list) -> str:
    shown = ", ".join(repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)
                      for v in values[:8])
    return shown + (", ..." if len(values) > 8 else "")


def _judge_space(text, outcome, name) -> str | None:
    entries = _space_entries(text).get(name, [])
    if not entries:
        return f"build_model registers no hyperparameter named '{name}'"
    if len(entries) > 1:
        return f"'{name}' is registered {len(entries)} times: register it once, outside any loop or condition"
    if entries[0]["config"].get("conditions"):
        return f"'{name}' is registered under a condition: register every hyperparameter unconditionally"
    values = _possible_values(entries[0])
    if isinstance(values, str):
        return f"'{name}' {values}"
    if not _same_values(values, SPACE[name]):
        return f"'{name}' takes the values {_show(values)}, not those the question asks for"
    return None


def _points_built(submission) -> list[tuple[Outcome, Outcome]]:
    """Per point: the outcome of the build hook (compile settings) and that of the exported network."""
    pairs = []
    for built in submission.calls("kt_build_for_grading"):
        model = Outcome(built.label, built.args, built.kwargs, about=built.about)
        if not built.ok:
            model.error = built.error
        else:
            try:
                model.value = submission.model(f"point_{built.label}")
            except StudentError as err:
                model.error = str(err)
        pairs.append((built, model))
    return pairs


def _settings(value) -> dict | str:
    keys = ("is_model", "compiled", "adam", "sgd", "learning_rate")
    if not isinstance(value, dict) or any(k not in value for k in keys):
        return "the grading hook did not return what it should: run the notebook's locked cells unchanged"
    out = {}
    for key in keys:
        array = np.asarray(value[key]).reshape(-1)
        if array.size != 1 or array.dtype.kind not in "biuf":
            return "the grading hook did not return what it should: run the notebook's locked cells unchanged"
        out[key] = float(array[0])
    return out


def _tuner_report(submission) -> dict:
    text = submission.call("tuner")
    broken = StudentError("the grading hook did not return what the search did: run the notebook's locked cells unchanged")
    if not isinstance(text, str):
        raise broken
    try:
        report = json.loads(text)
    except ValueError:
        raise broken from None
    if not isinstance(report, dict) or not isinstance(report.get("best_values"), dict) \
            or not isinstance(report.get("completed_trials"), int) or not isinstance(report.get("is_tuner"), bool):
        raise broken
    return report


# -- the search space --------------------------------------------------------------------------------

@pytest.mark.points(3)
def test_search_space(submission):
    """build_model registers the seven hyperparameters asked for, with their names, ranges, steps and choices."""
    outcomes = submission.calls("kt_space_for_grading")
    for outcome in outcomes:
        outcome.about = "in the space build_model registers"
    score(outcomes, _judge_space, what="the search space", parts=NAMES)


# -- the networks build_model builds at the grader's points --------------------------------------------

@pytest.mark.points(1)
def test_builds_and_compiles(submission):
    """At every point the grader chose, build_model returns a compiled Keras model for 32x32x3 images and 10 classes."""
    def judge(pair, _outcome):
        built, model = pair
        settings = _settings(built.value)
        if isinstance(settings, str):
            return settings
        if not settings["is_model"]:
            return "build_model did not return a Keras model"
        if not settings["compiled"]:
            return "the model is not compiled: call model.compile(...) before returning it"
        if not model.ok:
            return model.error
        try:
            out = model.value.predict(np.zeros((2, 32, 32, 3), np.float32))
        except Exception as err:  # a rebuilt model that cannot take 32x32x3 images
            return f"the model cannot run on 32x32x3 images ({type(err).__name__})"
        if out.shape != (2, 10):
            return f"for 2 images of 32x32x3 the model outputs shape {out.shape}, not one score per class"
        return None

    pairs = _points_built(submission)
    outcomes = [Outcome(built.label, built.args, built.kwargs, value=(built, model), about=built.about,
                        error=built.error) for built, model in pairs]
    score(outcomes, judge, what="building and compiling", all_or_nothing=True)


@pytest.mark.points(2)
def test_architecture(submission):
    """At every point the grader chose, the network has the table's layers and parameter count for those values."""
    models = [model for _, model in _points_built(submission)]
    score(models, lambda model, outcome: _architecture_problem(model, outcome.args[0]),
          what="the networks' layers and parameters", all_or_nothing=True)


@pytest.mark.points(1)
def test_optimizer_and_learning_rate(submission):
    """At every point the grader chose, the model is compiled with the optimizer and the learning rate of the values."""
    def judge(value, outcome):
        settings = _settings(value)
        if isinstance(settings, str):
            return settings
        wanted = outcome.args[0]["optimizer"]
        if settings["adam"] + settings["sgd"] != 1:
            return "the model is compiled with neither keras.optimizers.Adam nor keras.optimizers.SGD"
        got = "adam" if settings["adam"] else "sgd"
        if got != wanted:
            return f"the model is compiled with {'Adam' if got == 'adam' else 'SGD'}: the optimizer value is not used"
        rate = settings["learning_rate"]
        if not math.isfinite(rate):
            return "the optimizer's learning rate is not a number (a schedule?)"
        if not math.isclose(rate, outcome.args[0]["learning_rate"], rel_tol=1e-5):
            return f"the optimizer's learning rate is {rate:g}: the learning_rate value is not used"
        return None

    score(submission.calls("kt_build_for_grading"), judge, what="the optimizer and its learning rate",
          all_or_nothing=True)


@pytest.mark.points(1)
def test_dropout_switch(submission):
    """At every point the grader chose, the network has Dropout layers when dropout is on, and none when it is off."""
    def judge(model, outcome):
        if model.framework != "keras":
            return "build_model must return a Keras model"
        rates = [float(layer.rate) for layer in _keras_layers(model.keras_model)
                 if "Dropout" in type(layer).__name__ and float(getattr(layer, "rate", 0) or 0) > 0]
        if outcome.args[0]["dropout"] and not rates:
            return "dropout is on, but the network has no Dropout layer"
        if not outcome.args[0]["dropout"] and rates:
            return f"dropout is off, but the network has {len(rates)} Dropout layer(s)"
        return None

    models = [model for _, model in _points_built(submission)]
    score(models, judge, what="dropout on and off", all_or_nothing=True)


# -- the search and the retrained network ---------------------------------------------------------------

@pytest.mark.points(1)
def test_tuner_search(submission):
    """`tuner` is a KerasTuner tuner whose search completed trials, and best_model is the network of its best trial's values."""
    report = _tuner_report(submission)
    assert report["is_tuner"], "tuner is not a KerasTuner tuner (keras_tuner.RandomSearch, Hyperband, ...)"
    completed = report["completed_trials"]
    assert completed >= MIN_COMPLETED_TRIALS, (
        f"the tuner completed {completed} trial(s): run tuner.search(...) with the budget of the setup cell")
    best = report["best_values"]
    assert all(name in best for name in NAMES), (
        "the best trial has no value for some of the hyperparameters asked for: register all seven in "
        "build_model, under their names")
    assert all(_whole_number(best[name], low, high) for name, (low, high) in SIZES.items()), (
        "the best trial's conv_layers, filters, dense_layers or units are not whole numbers a network can have")
    model = submission.model("best")
    problem = _architecture_problem(model, best)
    assert problem is None, f"best_model is not the network of the best trial's values: {problem}"


@pytest.mark.points(2)
def test_heldout_accuracy(submission, heldout, thresholds):
    """best_model classifies held-out CIFAR-10 test images clearly better than a linear model or an MLP on the same images."""
    x, y = heldout("cifar10")
    scores = submission.model("best").predict(x.astype(np.float32) / 255.0)
    assert scores.shape == (len(x), 10), (
        f"for {len(x)} images best_model returned shape {scores.shape}, not 10 class scores per image")
    assert np.all(np.isfinite(scores)), "best_model returned NaN or infinite values"
    accuracy = float(np.mean(np.argmax(scores, axis=1) == y))
    assert accuracy >= thresholds["keras_tuner_accuracy"], (
        f"accuracy on the held-out test images is {accuracy:.3f}, not clearly better than a linear model or an MLP: "
        "was best_model retrained on x_train, with the best trial's values?")
