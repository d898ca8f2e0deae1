"""Hidden checks for transfer_learning: a CNN trained on CIFAR-10's classes 0-4, its first five
layers frozen under a new head for classes 5-9, and the same network trained from scratch.

Three models are exported from the student's kernel (Keras .keras or torch.export) and rebuilt here
from data only:

- `base_snapshot`: the copy of `base_model` that the notebook's locked cell takes right after
  Task 1, before anything else trains (so that a layer shared with the transferred model, if it
  trained by mistake, cannot hide it);
- `transfer_model` and `scratch_model`, as they are at the end of the notebook.

"The first five layers" of the architecture table (conv, pool, conv, pool, conv) hold exactly the
network's first three layers with weights, the convolutions; the head (Dense 128, Dense 5) its
last two. Checks read the layers with weights in order, from the Keras layers (nested models
flattened) or from the exported program's parameters grouped by module, so that both frameworks
are judged alike. `remap_labels` is called on label arrays drawn here. Accuracy is measured on
`load_heldout("cifar10")`, test images that are never inside the sandbox.
"""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, StudentError, assert_parameter_count, compare_arrays, \
    numeric_problem, score

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full data).
BUDGET = {"cell_timeout_s": 900, "notebook_timeout_s": 1800}
DATASETS = ("cifar10",)
SOURCE_CLASSES, TARGET_CLASSES = range(0, 5), range(5, 10)
PARAMS = 188_165                 # the whole network (make_cnn)
FROZEN = 56_320                  # layers 1-5: the three convolutions
HEAD = 131_845                   # Dense 128 + Dense 5
TRANSFERRED_LAYERS = 3           # layers with weights among layers 1-5
KEPT = 0.5                       # correlation with the base model's layer above which a head layer counts as kept
TORCH_SHAPE = (1, 3, 32, 32)


def _label_cases(rng: np.random.Generator) -> dict:
    every_class = rng.permutation(np.arange(5, 10)).astype(np.uint8)
    return {
        "every_class_once": Case(every_class),
        "cifar_labels": Case(rng.integers(5, 10, size=int(rng.integers(20, 200))).astype(np.uint8)),
        "int64_labels": Case(rng.integers(5, 10, size=int(rng.integers(20, 200))).astype(np.int64)),
        "one_label": Case(np.array([int(rng.integers(5, 10))], dtype=np.uint8)),
    }


def _describe(case: Case) -> str:
    labels = case.args[0]
    return f"{len(labels)} labels ({labels.dtype})"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return (HarvestRequest()
            .cases("remap_labels", _label_cases(rng), describe=_describe)
            .model("base", variable="base_snapshot", torch_example_shape=TORCH_SHAPE)
            .model("transfer", variable="transfer_model", torch_example_shape=TORCH_SHAPE)
            .model("scratch", variable="scratch_model", torch_example_shape=TORCH_SHAPE))


# -- the models, framework-agnostic ---------------------------------------------------------------------
VARIABLES = {"base": "base_model", "transfer": "transfer_model", "scratch": "scratch_model"}


def _model(submission, name: str):
    try:
        model = submission.model(name)
    except StudentError:
        if name != "base":
            raise
        raise StudentError("the copy of base_model taken after Task 1 could not be saved: base_model must hold "
                           "the network trained in Task 1, a Keras model or a PyTorch module") from None
    try:
        model.count_params()
    except ValueError:  # a Keras model saved before it was built (no input shape, never called or trained)
        raise StudentError(f"{VARIABLES[name]} was never built, so it holds no weights: start it with "
                           "keras.Input(shape=(32, 32, 3)), or train it") from None
    return model


def _keras_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested Sequential / Functional
            yield from _keras_layers(layer)
        else:
            yield layer


def _weighted_layers(model) -> list[dict]:
    """The model's layers that hold weights, in order: {"arrays": [kernel, bias...]}. (Which of them
    train is read from the parameter counts.)"""
    if model.framework == "keras":
        import keras

        return [{"arrays": [np.asarray(keras.ops.convert_to_numpy(w)) for w in layer.weights]}
                for layer in _keras_layers(model.keras_model) if layer.weights]
    groups: dict[str, list] = {}
    for name, parameter in model.torch_module.named_parameters():   # in the order the modules were registered
        groups.setdefault(name.rpartition(".")[0], []).append(parameter)
    return [{"arrays": [p.detach().cpu().numpy() for p in params]} for params in groups.values()]


def _kind(layer: dict) -> str:
    ndim = layer["arrays"][0].ndim
    return {4: "convolution", 2: "dense"}.get(ndim, "other")


def _same_weights(a: dict, b: dict) -> bool:
    return len(a["arrays"]) == len(b["arrays"]) and all(
        x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a["arrays"], b["arrays"]))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two weight arrays of the same shape (0 when either is constant)."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0


def _transferred(submission) -> tuple[list[dict], list[dict]]:
    """The first three layers with weights of the base model's copy and of transfer_model, both
    convolutions, of the same shapes."""
    base = _weighted_layers(_model(submission, "base"))
    transfer = _weighted_layers(_model(submission, "transfer"))
    if len(base) < TRANSFERRED_LAYERS or any(_kind(layer) != "convolution" for layer in base[:TRANSFERRED_LAYERS]):
        raise StudentError("base_model does not start with the three convolutions of the architecture table")
    if len(transfer) < TRANSFERRED_LAYERS or any(_kind(layer) != "convolution" for layer in transfer[:TRANSFERRED_LAYERS]):
        raise StudentError("transfer_model does not start with the three convolutions of layers 1-5")
    for i, (b, t) in enumerate(zip(base, transfer[:TRANSFERRED_LAYERS]), start=1):
        if [w.shape for w in b["arrays"]] != [w.shape for w in t["arrays"]]:
            raise StudentError(f"convolution {i} of transfer_model does not have the shape of the base model's")
    return base[:TRANSFERRED_LAYERS], transfer[:TRANSFERRED_LAYERS]


# -- accuracy on held-out images ------------------------------------------------------------------------
_cache: dict = {}


def _heldout_task(heldout, classes) -> tuple[np.ndarray, np.ndarray]:
    x, y = heldout("cifar10")
    keep = np.isin(y, list(classes))
    return x[keep].astype(np.float32) / 255.0, y[keep].astype(np.int64) - classes[0]


def _heldout_accuracy(submission, heldout, name: str, classes, variable: str) -> float:
    key = (name, id(submission))
    if key not in _cache:
        x, y = _heldout_task(heldout, classes)
        scores = _model(submission, name).predict(x)
        if scores.ndim != 2 or scores.shape[1] != len(classes):
            per_image = scores.shape[1] if scores.ndim == 2 else scores.shape[1:]
            raise StudentError(f"{variable} outputs {per_image} values per image: it needs one score per class "
                               "of its task, 5 in all")
        problem = numeric_problem(scores)
        if problem:
            raise StudentError(f"{variable} {problem}")
        _cache[key] = float(np.mean(np.argmax(scores, axis=1) == y))
    return _cache[key]


# -- checks ---------------------------------------------------------------------------------------------
@pytest.mark.points(1)
def test_remap_labels(submission):
    """remap_labels turns the labels 5-9 into 0-4 (5 becomes 0, 9 becomes 4)."""
    def judge(got, outcome):
        labels = outcome.args[0].astype(np.int64)
        problem = compare_arrays(got, labels - 5, rtol=0, atol=0)
        if problem == "wrong values":
            if compare_arrays(got, labels, rtol=0, atol=0) is None:
                return "the labels come back unchanged: the new head's outputs are numbered from 0"
            if compare_arrays(got, labels - 4, rtol=0, atol=0) is None:
                return "class 5 becomes 1 and class 9 becomes 5: the new head's outputs are numbered 0 to 4"
        return problem

    score(submission.calls("remap_labels"), judge, what="remapped labels")


@pytest.mark.points(1)
def test_base_model_accuracy(submission, heldout, thresholds):
    """The base model, as trained in Task 1, classifies held-out images of classes 0-4 far better than chance."""
    acc = _heldout_accuracy(submission, heldout, "base", SOURCE_CLASSES, "base_model")
    assert acc >= thresholds["transfer_learning_base_accuracy"], (
        f"base_model classifies {acc:.3f} of held-out images of classes 0-4 right, too few: train it as in Task 1 "
        "(SOURCE_EPOCHS epochs of Adam on x_source, y_source)")


@pytest.mark.points(1)
def test_frozen_parameters(submission):
    """The transferred model's frozen parameters are exactly those of layers 1-5."""
    total, trainable = _model(submission, "transfer").count_params()
    frozen = total - trainable
    assert frozen > 0, ("no parameter of transfer_model is frozen: set trainable = False (Keras) or requires_grad_(False) "
                        "(PyTorch) on layers 1-5 of the model you train, not on a copy of them")
    assert frozen == FROZEN, (f"transfer_model has {frozen:,} frozen parameters: freeze exactly layers 1-5 of the table, "
                              "no more, no fewer")


@pytest.mark.points(1)
def test_trainable_parameters(submission):
    """Only the new head trains: Dense 128 and an output layer of 5 units."""
    total, trainable = _model(submission, "transfer").count_params()
    assert trainable == HEAD, (f"transfer_model has {trainable:,} trainable parameters: only the new head should train, "
                               "a Dense layer of 128 units and an output layer with one unit per class of the new task")


@pytest.mark.points(2)
def test_frozen_weights_unchanged(submission):
    """The weights of layers 1-5 of the transferred model are, bit for bit, those of the trained base model."""
    base, transfer = _transferred(submission)
    for i, (b, t) in enumerate(zip(base, transfer), start=1):
        if _same_weights(b, t):
            continue
        if _correlation(b["arrays"][0], t["arrays"][0]) > KEPT:
            raise AssertionError(f"the weights of convolution {i} changed while transfer_model trained: that layer "
                                 "was not frozen in the model you trained")
        raise AssertionError(f"convolution {i} of transfer_model does not hold the trained weights of base_model: "
                             "reuse its layers (or copy their weights), not new ones")


@pytest.mark.points(1)
def test_head_replaced(submission):
    """The head of the transferred model is new: neither its Dense 128 nor its output layer is the base model's."""
    base = _weighted_layers(_model(submission, "base"))
    transfer = _weighted_layers(_model(submission, "transfer"))
    head = transfer[TRANSFERRED_LAYERS:]
    assert len(head) == 2 and all(_kind(layer) == "dense" for layer in head), (
        "after layers 1-5, transfer_model should have two dense layers with weights: 128 units, then the output layer")
    for new, old, which in zip(head, base[TRANSFERRED_LAYERS:], ("Dense 128 layer", "output layer")):
        kernel, old_kernel = new["arrays"][0], old["arrays"][0]
        if kernel.shape == old_kernel.shape and _correlation(kernel, old_kernel) > KEPT:
            raise AssertionError(f"the {which} of transfer_model is the one of base_model, trained on classes 0-4: "
                                 "replace the head by new layers")


@pytest.mark.points(2)
def test_transfer_accuracy(submission, heldout, thresholds):
    """The transferred model classifies held-out images of classes 5-9 (as 0-4) at the level of the reference training."""
    acc = _heldout_accuracy(submission, heldout, "transfer", TARGET_CLASSES, "transfer_model")
    assert acc >= thresholds["transfer_learning_transfer_accuracy"], (
        f"transfer_model classifies {acc:.3f} of held-out images of classes 5-9 right, too few: train the new head for "
        "TARGET_EPOCHS epochs on the remapped labels, on top of a trained base model")


@pytest.mark.points(1)
def test_scratch_model(submission):
    """The model trained from scratch is the whole network of Task 1, every parameter trainable, not built on the base model."""
    scratch = _model(submission, "scratch")
    assert_parameter_count(scratch, PARAMS, name="scratch_model", compare_with="the network of Task 1 (make_cnn)")
    layers = _weighted_layers(scratch)
    base = _weighted_layers(_model(submission, "base"))
    assert not (layers and base and _same_weights(layers[0], base[0])), (
        "the first convolution of scratch_model holds the base model's trained weights: build it with make_cnn()")
