"""Hidden checks for classifier_metrics: the rebuilt CNN, and the student's metrics against a NumPy reference.

The reference metrics below are scikit-learn's (confusion_matrix with labels=range(K),
precision_recall_fscore_support with zero_division=0, average=None and "weighted"), written in NumPy
and checked against scikit-learn 1.9 on random and degenerate inputs (see CALIBRATION.md).

Two kinds of inputs:
- label/prediction arrays drawn here, passed to confusion_matrix, precision_recall_f1 and
  weighted_scores;
- digits of the public test half picked here (indices into x_test): the notebook's locked hook
  predicts them with the student's `model` and applies the student's functions; this process
  predicts the same digits with the rebuilt model, checks that the predictions are the same, and
  compares the metrics with the reference on them.
The model itself is measured on held-out digits that never enter the sandbox.
"""
import functools

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, PartialCredit, assert_conv_layers, assert_parameter_count, \
    compare_arrays, numeric_problem, score

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full data).
BUDGET = {"cell_timeout_s": 600, "notebook_timeout_s": 1200}
DATASETS = ("mnist",)
PARAMS = 1_625_866
CONV_FILTERS = [32, 64]
CONV_SPATIAL = [(28, 28), (28, 28)]   # padding 1 keeps 28x28; the pooling comes after both
DROPOUT = 0.5
KEYS = ("precision", "recall", "f1")
MODEL_PARTS = ("confusion", "per_class", "weighted")
AGREEMENT = 0.99   # share of digits on which the notebook's and the rebuilt model's predictions agree


# -- reference (scikit-learn's definitions, in NumPy) ------------------------------------------------
def reference_confusion(y_true, y_pred, k: int) -> np.ndarray:
    """sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(k)): rows true, columns predicted."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def reference_scores(y_true, y_pred, k: int) -> dict:
    """precision_recall_fscore_support(labels=range(k), average=None, zero_division=0)."""
    cm = reference_confusion(y_true, y_pred, k)
    tp = np.diag(cm).astype(float)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    ratio = lambda a, b: np.where(b > 0, a / np.maximum(b, 1), 0.0)  # noqa: E731
    return {"precision": ratio(tp, predicted), "recall": ratio(tp, support),
            "f1": ratio(2 * tp, predicted + support), "support": support}


def reference_weighted(y_true, y_pred, k: int) -> dict:
    """precision_recall_fscore_support(labels=range(k), average="weighted", zero_division=0)."""
    scores = reference_scores(y_true, y_pred, k)
    weights = scores["support"] / scores["support"].sum()
    return {key: float(np.sum(weights * scores[key])) for key in KEYS}


def _macro(y_true, y_pred, k: int) -> dict:
    scores = reference_scores(y_true, y_pred, k)
    return {key: float(np.mean(scores[key])) for key in KEYS}


# -- inputs ----------------------------------------------------------------------------------------
def _predictions(rng, y_true, k: int, right: float) -> np.ndarray:
    """A classifier's answers: right with probability `right`, otherwise a random class."""
    guess = rng.integers(0, k, size=len(y_true))
    return np.where(rng.random(len(y_true)) < right, y_true, guess).astype(np.int64)


def _skewed_labels(rng, n: int, k: int, classes=None) -> np.ndarray:
    """n labels with unequal class frequencies (a Dirichlet draw), from `classes` (default: all k)."""
    classes = np.arange(k) if classes is None else np.asarray(classes)
    return rng.choice(classes, size=n, p=rng.dirichlet(np.full(len(classes), 1.5))).astype(np.int64)


def _complete_case(rng) -> Case:
    """Every class occurs in y_true and in y_pred and is right at least once (no 0/0 anywhere), the
    supports are unequal, and the classic mistakes (macro averaging, precision and recall swapped,
    the F1 of the weighted precision and recall) give other values."""
    while True:
        k = int(rng.integers(3, 11))
        n = int(rng.integers(4 * k, 25 * k))
        y_true = _skewed_labels(rng, n, k)
        y_pred = _predictions(rng, y_true, k, float(rng.uniform(0.4, 0.9)))
        y_true[:k], y_pred[:k] = rng.permutation(k), rng.permutation(k)
        if np.any(np.diag(reference_confusion(y_true, y_pred, k)) == 0):
            continue                            # a class never right: its F1 would be 0/0
        scores = reference_scores(y_true, y_pred, k)
        weighted, macro = reference_weighted(y_true, y_pred, k), _macro(y_true, y_pred, k)
        f1_of_means = 2 * weighted["precision"] * weighted["recall"] / (weighted["precision"] + weighted["recall"])
        if (np.max(np.abs(scores["precision"] - scores["recall"])) > 0.01
                and min(abs(weighted[key] - macro[key]) for key in KEYS) > 0.005
                and abs(weighted["precision"] - weighted["recall"]) > 0.005
                and abs(f1_of_means - weighted["f1"]) > 0.002):
            return Case(y_true, y_pred, k)


def _confusion_cases(rng) -> dict:
    cases = {}
    for i in range(2):
        k = int(rng.integers(3, 11))
        y_true = _skewed_labels(rng, int(rng.integers(30, 200)), k)
        cases[f"random_{i}"] = Case(y_true, _predictions(rng, y_true, k, 0.6), k)
    y_true = _skewed_labels(rng, 200, 10).astype(np.uint8)            # MNIST's labels are uint8
    cases["uint8_labels"] = Case(y_true, _predictions(rng, y_true, 10, 0.8).astype(np.uint8), 10)
    # Class a never occurs, class b is never predicted, and the last class is in neither.
    k = int(rng.integers(5, 9))
    a, b = rng.choice(k - 1, size=2, replace=False)
    y_true = _skewed_labels(rng, int(rng.integers(40, 120)), k, [c for c in range(k - 1) if c != a])
    y_pred = _predictions(rng, y_true, k - 1, 0.6)
    y_pred[y_pred == b] = (b + 1) % (k - 1)
    cases["missing_classes"] = Case(y_true, y_pred, k)
    # Orientation: the off-diagonal counts all lie on one side (the largest class occurs, so a
    # matrix sized from the labels has the right size here).
    k = int(rng.integers(3, 7))
    a, b = rng.permutation([k - 1, int(rng.integers(0, k - 1))])
    n = int(rng.integers(5, 20))
    cases["orientation_one_way"] = Case(np.full(n, a, dtype=np.int64), np.full(n, b, dtype=np.int64), k)
    k = int(rng.integers(4, 9))
    y_true = _skewed_labels(rng, int(rng.integers(40, 100)), k)
    y_true[:k] = rng.permutation(k)
    wrong = rng.random(len(y_true)) < 0.5
    cases["orientation_shifted"] = Case(y_true, np.where(wrong, (y_true + 1) % k, y_true), k)
    return cases


def _zero_case(rng, kind: str) -> Case:
    """A case where some scores are 0/0, which count as 0 (zero_division=0), not NaN or 1.

    One class (`unused`) is in neither y_true nor y_pred, so every one of its scores is 0/0; and
    kind "never_predicted": another class occurs but is never predicted (its precision is 0/0);
    kind "absent": another class is predicted but never occurs (its recall is 0/0).
    """
    while True:
        k = int(rng.integers(5, 9))
        unused, special = (int(c) for c in rng.choice(k, size=2, replace=False))
        true_classes = [c for c in range(k) if c != unused and not (kind == "absent" and c == special)]
        pred_classes = [c for c in range(k) if c != unused and not (kind == "never_predicted" and c == special)]
        y_true = _skewed_labels(rng, int(rng.integers(40, 120)), k, true_classes)
        y_true[:len(true_classes)] = rng.permutation(true_classes)      # every class of y_true occurs
        guess = rng.choice(pred_classes, size=len(y_true))
        y_pred = np.where((rng.random(len(y_true)) < 0.6) & np.isin(y_true, pred_classes), y_true, guess)
        if kind == "absent":
            y_pred[:3] = special
        y_pred = y_pred.astype(np.int64)
        scores = reference_scores(y_true, y_pred, k)
        if np.max(np.abs(scores["precision"] - scores["recall"])) > 0.01:
            return Case(y_true, y_pred, k)


def _zero_cases(rng) -> dict:
    return {"zero_never_predicted": _zero_case(rng, "never_predicted"), "zero_absent_class": _zero_case(rng, "absent"),
            "zero_unused_class": _zero_case(rng, "unused")}


@functools.lru_cache(maxsize=1)
def _public_test():
    """The public test half (what the notebook calls x_test, y_test), images NHWC in [0, 1]."""
    from data import load_mnist

    _, (x, y) = load_mnist()
    return (x.astype(np.float32) / 255.0)[..., np.newaxis], np.asarray(y, dtype=np.int64)


def _model_cases(rng) -> dict:
    _, y_test = _public_test()
    by_class = [np.flatnonzero(y_test == c) for c in range(10)]
    absent = int(rng.integers(0, 10))
    subsets = {
        # 301 digits: no class can be exactly a tenth of them, where a one-class model's macro and
        # weighted averages would coincide.
        "random": rng.choice(len(y_test), size=301, replace=False),
        "imbalanced": np.concatenate([rng.choice(by_class[c], size=int(rng.integers(2, 60)), replace=False)
                                      for c in range(10) if c != absent]),
        "three_classes": np.concatenate([rng.choice(by_class[c], size=int(rng.integers(30, 60)), replace=False)
                                         for c in rng.choice(10, size=3, replace=False)]),
    }
    return {f"{name}_{part}": Case(rng.permutation(indices).astype(np.int64), part)
            for name, indices in subsets.items() for part in MODEL_PARTS}


def _describe(case: Case) -> str:
    y_true, _, k = case.args
    return f"{len(y_true)} labels of {k} classes"


def _describe_model(case: Case) -> str:
    indices, part = case.args
    what = {"confusion": "confusion matrix", "per_class": "per-class scores", "weighted": "weighted scores"}[part]
    return f"the {what} of your model's predictions on {len(indices)} test digits"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return (HarvestRequest()
            .cases("confusion_matrix", _confusion_cases(rng), describe=_describe)
            .cases("precision_recall_f1", {**{f"random_{i}": _complete_case(rng) for i in range(4)},
                                           **_zero_cases(rng)}, describe=_describe)
            .cases("weighted_scores", {f"random_{i}": _complete_case(rng) for i in range(4)}, describe=_describe)
            .cases("metrics_of_model_for_grading", _model_cases(rng), describe=_describe_model)
            .model("cnn", variable="model", torch_example_shape=(1, 1, 28, 28)))


# -- judges ----------------------------------------------------------------------------------------
def _judge_confusion(got, y_true, y_pred, k, *, either_way: bool):
    expected = reference_confusion(y_true, y_pred, k)
    problem = compare_arrays(got, expected)
    if problem == "wrong values" and compare_arrays(got, expected.T) is None:
        if either_way:
            return None
        return "rows and columns are swapped: row i must count the examples whose TRUE class is i"
    if problem and not numeric_problem(got) and got.ndim == 2 and got.shape != expected.shape:
        return "the matrix needs one row and one column per class 0..num_classes-1, even for a class that never occurs"
    return problem


def _part(value, key, function):
    if not isinstance(value, dict):
        return None, f"{function} should return a dict with the keys 'precision', 'recall' and 'f1'"
    if key not in value:
        return None, f"the dict returned by {function} has no key '{key}'"
    return value[key], None


def _judge_per_class(value, y_true, y_pred, k, key):
    got, problem = _part(value, key, "precision_recall_f1")
    if problem:
        return problem
    expected = reference_scores(y_true, y_pred, k)
    if isinstance(got, np.ndarray) and got.dtype.kind == "f" and np.any(np.isnan(got)):
        return f"{key} contains NaN: a score whose denominator is 0 (0/0) counts as 0"
    problem = compare_arrays(got, expected[key])
    if problem == "wrong values":
        other = {"precision": "recall", "recall": "precision"}.get(key)
        if other and compare_arrays(got, expected[other]) is None:
            return (f"these are the {other} values: precision divides by the number of times the class was "
                    "predicted (a column of the confusion matrix), recall by its number of examples (a row)")
    return problem


def _scalar(got):
    if isinstance(got, np.ndarray) and got.size == 1:
        return got.reshape(())
    return got


def _judge_weighted(value, y_true, y_pred, k, key):
    got, problem = _part(value, key, "weighted_scores")
    if problem:
        return problem
    got = _scalar(got)
    expected = reference_weighted(y_true, y_pred, k)[key]
    problem = compare_arrays(got, expected)
    if problem == "wrong values":
        if compare_arrays(got, _macro(y_true, y_pred, k)[key]) is None:
            return "this is the plain mean over the classes (macro average): weight each class by its support"
        weighted = reference_weighted(y_true, y_pred, k)
        other = {"precision": "recall", "recall": "precision"}.get(key)
        if other and compare_arrays(got, weighted[other]) is None:
            return f"this is the weighted {other}: are precision and recall swapped?"
        if key == "f1" and weighted["precision"] + weighted["recall"] > 0 and compare_arrays(
                got, 2 * weighted["precision"] * weighted["recall"] / (weighted["precision"] + weighted["recall"])) is None:
            return "the weighted F1 is the weighted mean of the per-class F1 scores, not the F1 of the weighted precision and recall"
    return problem


def _calls(submission, function, prefix="", exclude=None):
    return [o for o in submission.calls(function)
            if o.label.startswith(prefix) and not (exclude and o.label.startswith(exclude))]


# -- the model ---------------------------------------------------------------------------------------
_cache: dict = {}


def _heldout_accuracy(submission, heldout) -> float:
    key = ("heldout", id(submission))
    if key not in _cache:
        x, y = heldout("mnist")
        scores = submission.model("cnn").predict((x.astype(np.float32) / 255.0)[..., np.newaxis])
        assert scores.shape == (len(x), 10), (
            f"the model's output has shape {scores.shape[1:]} per batch, not one score per class")
        _cache[key] = float(np.mean(np.argmax(scores, axis=1) == y))
    return _cache[key]


def _dropout_rates(model) -> list[float]:
    if model.framework == "keras":
        import keras

        def layers(m):
            for layer in m.layers:
                yield from (layers(layer) if hasattr(layer, "layers") else [layer])
        return [float(layer.rate) for layer in layers(model.keras_model) if isinstance(layer, keras.layers.Dropout)]
    import torch

    names = ("dropout", "dropout_", "native_dropout", "feature_dropout", "feature_dropout_")
    ops = {getattr(torch.ops.aten, name).default for name in names if hasattr(torch.ops.aten, name)}
    graph = model.program.graph if hasattr(model, "program") else model.torch_module.graph
    return [float(node.args[1]) for node in graph.nodes if node.op == "call_function" and node.target in ops]


@pytest.mark.points(1)
def test_parameter_count(submission):
    """The model has the specified number of parameters, all trainable."""
    assert_parameter_count(submission.model("cnn"), PARAMS)


@pytest.mark.points(1)
def test_convolutional_layers(submission):
    """Two 3x3 convolutions, 1 -> 32 and 32 -> 64 channels, both on 28x28 maps (pooling after them)."""
    assert_conv_layers(submission.model("cnn"), CONV_FILTERS, CONV_SPATIAL)


@pytest.mark.points(1)
def test_dropout(submission):
    """The classifier has one dropout layer with rate 0.5."""
    rates = _dropout_rates(submission.model("cnn"))
    assert len(rates) == 1, f"your model has {len(rates)} dropout layers, not as specified"
    assert abs(rates[0] - DROPOUT) < 1e-9, f"your dropout rate is {rates[0]:g}, not as specified"


@pytest.mark.points(1)
def test_model_learned(submission, heldout, thresholds):
    """The trained model classifies held-out digits far better than chance."""
    acc = _heldout_accuracy(submission, heldout)
    assert acc >= thresholds["classifier_metrics_learned"], (
        f"accuracy on held-out digits is {acc:.3f}, close to guessing: was the model trained, and is `model` the trained one?")


@pytest.mark.points(2)
def test_heldout_accuracy(submission, heldout, thresholds):
    """Accuracy on held-out digits reaches the level the reference training achieves."""
    acc = _heldout_accuracy(submission, heldout)
    assert acc >= thresholds["classifier_metrics_accuracy"], (
        f"accuracy on held-out digits is {acc:.3f}, too low for this network: train longer (3 epochs of SGD "
        "with momentum) or check the learning rate and the preprocessing")


# -- the metrics on arrays chosen here -------------------------------------------------------------------
@pytest.mark.points(2)
def test_confusion_matrix(submission):
    """confusion_matrix counts every (true, predicted) pair, one row and column per class, even unused ones."""
    score(_calls(submission, "confusion_matrix", exclude="orientation_"),
          lambda got, o: _judge_confusion(got, *o.args, either_way=True), what="confusion matrices")


@pytest.mark.points(1)
def test_confusion_orientation(submission):
    """The confusion matrix has the true classes as rows and the predicted classes as columns."""
    score(_calls(submission, "confusion_matrix", "orientation_"), lambda got, o: _judge_confusion(got, *o.args, either_way=False),
          what="orientation of the confusion matrix", all_or_nothing=True)


@pytest.mark.points(2)
def test_precision_recall(submission):
    """Per-class precision and recall match scikit-learn's (every class predicted and present)."""
    score(_calls(submission, "precision_recall_f1", "random_"),
          lambda value, o, key: _judge_per_class(value, *o.args, key), parts=["precision", "recall"],
          what="per-class precision and recall")


@pytest.mark.points(1)
def test_f1(submission):
    """Per-class F1 matches scikit-learn's (every class predicted and present)."""
    score(_calls(submission, "precision_recall_f1", "random_"),
          lambda value, o: _judge_per_class(value, *o.args, "f1"), what="per-class F1")


@pytest.mark.points(1)
def test_zero_division(submission):
    """A class never predicted, or with no example, gets 0 for a 0/0 score (zero_division=0), not NaN."""
    score(_calls(submission, "precision_recall_f1", "zero_"),
          lambda value, o, key: _judge_per_class(value, *o.args, key), parts=list(KEYS),
          what="per-class scores with missing classes")


@pytest.mark.points(2)
def test_weighted_scores(submission):
    """weighted_scores averages precision, recall and F1 weighted by the support, as scikit-learn's average='weighted'."""
    score(submission.calls("weighted_scores"), lambda value, o, key: _judge_weighted(value, *o.args, key),
          parts=list(KEYS), what="weighted averages")


# -- the metrics of the student's own model --------------------------------------------------------------
@pytest.mark.points(2)
def test_metrics_of_model(submission):
    """On test digits picked by the grader, your functions give the right metrics of your model's predictions."""
    outcomes = submission.calls("metrics_of_model_for_grading")
    assert outcomes, "metrics of your model: nothing could be checked"
    x_test, y_test = _public_test()
    wanted = np.unique(np.concatenate([o.args[0] for o in outcomes]))
    ours = np.full(len(y_test), -1)
    ours[wanted] = np.argmax(submission.model("cnn").predict(x_test[wanted]), axis=1)

    def judge(value, outcome):
        indices, part = outcome.args
        if not isinstance(value, dict) or "y_pred" not in value:
            return "the grading hook returned no predictions: do not change the cell metrics_of_model_for_grading"
        y_pred = value["y_pred"]
        if numeric_problem(y_pred) or y_pred.shape != indices.shape:
            return "the predictions of `model` could not be read"
        if np.mean(y_pred == ours[indices]) < AGREEMENT:
            return ("the predictions made in your notebook are not those of the `model` the grader saved: "
                    "keep the trained network in `model` and do not change predict_classes")
        y_true, y_pred = y_test[indices], y_pred.astype(np.int64)
        if part == "confusion":
            got, problem = _part(value, "confusion", "confusion_matrix")
            return problem or _judge_confusion(got, y_true, y_pred, 10, either_way=False)
        judge_part = _judge_per_class if part == "per_class" else _judge_weighted
        for key in KEYS:
            problem = judge_part(value, y_true, y_pred, 10, key)
            if problem:
                return f"{key}: {problem}"
        return None

    # One share of the credit per function (confusion matrix, per-class scores, weighted scores),
    # earned when it is right on every subset of digits.
    problems = []
    for part in MODEL_PARTS:
        for outcome in (o for o in outcomes if o.args[1] == part):
            reason = judge(outcome.value, outcome) if outcome.ok else outcome.error
            if reason:
                problems.append(f"{outcome.about or outcome.label}: {reason}")
                break
    if problems:
        right = len(MODEL_PARTS) - len(problems)
        raise PartialCredit(right, len(MODEL_PARTS), f"metrics of your model on test digits: {right} of "
                            f"{len(MODEL_PARTS)} functions right; for example, {problems[0]}")
