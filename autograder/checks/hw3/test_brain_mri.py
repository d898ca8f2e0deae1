"""Hidden checks for brain_mri: the input pipeline, the Sequential and Functional twins, early
stopping, and the trained model's accuracy on held-out MRI slices.

Both models are exported from the student's kernel (Keras .keras or torch.export) and rebuilt here
from data only. The notebook's locked hooks report what `train_ds`/`val_ds` hold and how `model_fn`
was trained (its `history`, its `early_stopping` settings, its loss on `val_ds` now); the checks
compare those numbers with each other and with the public files counted here, never with anything
the student printed. Accuracy is measured here on `load_heldout("brain_mri")`, slices that are
never inside the sandbox, read with both decoders a student may have trained on (the better counts).
"""
import hashlib

import numpy as np
import pytest

from autograder.checker.api import HarvestRequest, StudentError, assert_conv_layers, assert_parameter_count

DATASETS = ("brain_mri",)
IMAGE_SIZE = (64, 64)
PARAMS = 8_081
CONV_FILTERS = [8, 16, 32]
CONV_SPATIAL = [(64, 64), (32, 32), (16, 16)]  # "same" padding after 0, 1, 2 poolings
VALIDATION_SHARE = 0.2


def harvest(rng: np.random.Generator) -> HarvestRequest:
    shape = (1, 3, *IMAGE_SIZE)
    return (HarvestRequest()
            .model("sequential", variable="model_seq", torch_example_shape=shape)
            .model("functional", variable="model_fn", torch_example_shape=shape)
            .call("pipeline", "mri_pipeline_for_grading")
            .call("training", "mri_training_for_grading")
            .value("class_names", variable="class_names"))


# -- what the grader knows itself ------------------------------------------------------------------

_PUBLIC = {}


def _public_files():
    """(files, "yes" files, distinct images) of the folder the student was given."""
    if not _PUBLIC:
        from data import brain_mri

        files = brain_mri.public_image_files()
        _PUBLIC.update(files=len(files), yes=sum(label == 1 for _, label in files),
                       distinct=len({hashlib.sha256(path.read_bytes()).digest() for path, _ in files}))
    return _PUBLIC


def _hook(submission, name: str, keys: tuple[str, ...]) -> dict:
    value = submission.call(name)
    if not isinstance(value, dict) or any(key not in value for key in keys):
        raise StudentError("the grading hook did not return what it should: run the notebook's locked cells unchanged")
    out = {}
    for key in keys:
        array = np.asarray(value[key])
        if array.dtype.kind not in "biuf":
            raise StudentError("the grading hook did not return what it should: run the notebook's locked cells unchanged")
        out[key] = array.astype(np.float64)
    return out


PIPELINE_KEYS = tuple(f"{s}_{k}" for s in ("train", "val") for k in ("images", "yes", "batches", "min", "max", "float", "shape")) \
    + ("distinct_images",)
TRAINING_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy", "epochs_asked", "steps_per_epoch",
                 "monitor_is_val_loss", "restore_best_weights", "patience", "best", "final_val_loss")


def _pipeline(submission) -> dict:
    p = _hook(submission, "pipeline", PIPELINE_KEYS)
    return {k: (v if k.endswith("_shape") else float(v)) for k, v in p.items()}


def _training(submission) -> dict:
    t = _hook(submission, "training", TRAINING_KEYS)
    curves = [t[k].reshape(-1) for k in ("loss", "val_loss", "accuracy", "val_accuracy")]
    if len(curves[1]) == 0 or len({len(c) for c in curves}) != 1:
        raise StudentError("history must hold one value per epoch for loss, val_loss, accuracy and val_accuracy")
    if not all(np.all(np.isfinite(c)) for c in curves):
        raise StudentError("the training curves in history contain NaN or infinite values")
    return {k: (t[k].reshape(-1) if k in ("loss", "val_loss", "accuracy", "val_accuracy") else float(t[k]))
            for k in TRAINING_KEYS}


# -- the input pipeline ------------------------------------------------------------------------------

@pytest.mark.points(1)
def test_every_file_once(submission):
    """Every image file of the folder is in exactly one of train_ds and val_ds, a fifth in val_ds."""
    p, public = _pipeline(submission), _public_files()
    total = p["train_images"] + p["val_images"]
    assert total == public["files"], (
        f"train_ds and val_ds hold {total:.0f} images in all, not one per image file of the folder: "
        "count the files per class yourself and find the ones your pipeline drops or reads twice")
    assert p["distinct_images"] == public["distinct"], (
        "some images are in both train_ds and val_ds while others are in neither: make the two sets "
        "from one split (the same seed, subset='both')")
    assert abs(p["val_images"] - VALIDATION_SHARE * public["files"]) <= 1, (
        f"val_ds holds {p['val_images']:.0f} of {total:.0f} images, not a fifth (validation_split=0.2)")


@pytest.mark.points(1)
def test_images_scaled(submission):
    """Both sets yield float images of 64x64 pixels and 3 channels, scaled to [0, 1]."""
    p = _pipeline(submission)
    for part, name in (("train", "train_ds"), ("val", "val_ds")):
        shape = tuple(int(s) for s in np.asarray(p[f"{part}_shape"]).reshape(-1))
        assert shape == (*IMAGE_SIZE, 3), f"{name} yields images of shape {shape}, not 64x64 with 3 channels"
        assert p[f"{part}_float"] == 1, f"{name} yields integer images: convert them to float32 and scale them"
        low, high = p[f"{part}_min"], p[f"{part}_max"]
        assert np.isfinite(low) and np.isfinite(high), f"{name} yields NaN or infinite pixel values"
        assert low >= 0 and high <= 1, (
            f"{name} yields pixel values from {low:g} to {high:g}: divide the 0-255 pixels by 255")
        assert high >= 0.5, f"the brightest pixel of {name} is {high:g}: were the pixels divided by 255 twice?"


@pytest.mark.points(1)
def test_class_order(submission):
    """Labels are 0 for 'no' and 1 for 'yes', and class_names lists them in that order."""
    names = submission.value("class_names")
    assert isinstance(names, list) and all(isinstance(n, str) for n in names), "class_names must be a list of strings"
    assert [str(n) for n in names] == ["no", "yes"], "class_names must be ['no', 'yes'], the label order 0, 1"
    p, public = _pipeline(submission), _public_files()
    yes, total = p["train_yes"] + p["val_yes"], p["train_images"] + p["val_images"]
    if total == public["files"]:
        right = yes == public["yes"]
    else:  # files were dropped or doubled (test_every_file_once): the share of "yes" must still be the right way round
        share = yes / max(total, 1)
        right = abs(share - public["yes"] / public["files"]) < abs(share - (1 - public["yes"] / public["files"]))
    assert right, "the images labelled 1 are not the files of yes/: label 'yes' as 1 and 'no' as 0"


# -- the two models ---------------------------------------------------------------------------------

def _keras_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested Sequential / Functional
            yield from _keras_layers(layer)
        else:
            yield layer


IGNORED_CONFIG = {"name", "trainable", "dtype", "seed", "kernel_initializer", "bias_initializer",
                  "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                  "bias_constraint", "build_config", "compile_config"}


def _keras_signature(model) -> list[tuple]:
    """The layers as (operation, settings) in order; activations as separate ("activation", name)."""
    ops = []
    for layer in _keras_layers(model):
        kind, cfg = type(layer).__name__, layer.get_config()
        activation = None
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            ops.append(("Conv2D", cfg["filters"], tuple(cfg["kernel_size"]), tuple(cfg["strides"]), cfg["padding"],
                        tuple(cfg["dilation_rate"]), cfg["groups"], cfg["use_bias"]))
            activation = cfg["activation"]
        elif kind == "Dense":
            ops.append(("Dense", cfg["units"], cfg["use_bias"]))
            activation = cfg["activation"]
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            ops.append((kind, tuple(cfg["pool_size"]), tuple(cfg["strides"] or cfg["pool_size"]), cfg["padding"]))
        elif kind == "Dropout":
            ops.append(("Dropout", round(float(cfg["rate"]), 6)))
        elif kind == "Flatten":
            ops.append(("Flatten",))
        elif kind == "Activation":
            activation = cfg["activation"]
        elif kind == "ReLU" and not any(cfg.get(k) for k in ("max_value", "negative_slope", "threshold")):
            activation = "relu"
        else:
            ops.append((kind, repr(sorted((k, repr(v)) for k, v in cfg.items() if k not in IGNORED_CONFIG))))
        if activation not in (None, "linear"):
            ops.append(("activation", activation if isinstance(activation, str) else repr(activation)))
    return ops


SHAPE_OPS = {"view", "reshape", "flatten", "_unsafe_view"}


def _torch_signature(program) -> list[tuple]:
    """The ATen operations of an exported program that compute something, with their settings."""
    import torch

    ops = []
    for node in program.graph.nodes:
        if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
            continue
        op = node.target._opname
        if op.startswith(("sym_", "_assert")) or op in ("detach", "alias", "clone", "contiguous"):
            continue
        args = list(node.args)
        if op in ("conv2d", "convolution"):
            weight = args[1].meta["val"]
            settings = [tuple(a) if isinstance(a, (list, tuple)) else a for a in args[3:]]
            ops.append(("Conv2D", int(weight.shape[0]), tuple(int(k) for k in weight.shape[2:]), args[2] is not None,
                        repr(settings)))
        elif op == "linear":
            ops.append(("Dense", int(args[1].meta["val"].shape[0]), len(args) > 2 and args[2] is not None))
        elif op in ("relu", "sigmoid", "tanh", "softmax", "_softmax", "leaky_relu", "gelu", "elu"):
            ops.append(("activation", op.lstrip("_")))
        elif op in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
            ops.append(("MaxPooling2D" if op.startswith("max") else "AveragePooling2D", repr(args[1:])))
        elif op in ("dropout", "native_dropout", "feature_dropout"):
            ops.append(("Dropout", round(float(args[1]), 6)))
        elif op in SHAPE_OPS:
            if not ops or ops[-1] != ("Flatten",):
                ops.append(("Flatten",))
        else:
            ops.append((op,))
    return ops


def _signature(model) -> list[tuple]:
    return _keras_signature(model.keras_model) if model.framework == "keras" else _torch_signature(model.program)


def _kind(op: tuple) -> str:
    return {"activation": f"a {op[-1]} activation"}.get(op[0], f"a {op[0]} layer")


@pytest.mark.points(1)
def test_architecture(submission):
    """model_seq has the table's layers: 8,081 parameters, 3x3 convolutions with 8, 16, 32 filters."""
    model = submission.model("sequential")
    assert_parameter_count(model, PARAMS, name="model_seq", compare_with="the table")
    assert_conv_layers(model, CONV_FILTERS, CONV_SPATIAL, name="model_seq")


@pytest.mark.points(2)
def test_same_network(submission):
    """model_fn rebuilds to the same layers, settings and parameter count as model_seq."""
    seq, fn = submission.model("sequential"), submission.model("functional")
    assert seq.framework == fn.framework, "model_seq and model_fn are built with different frameworks: use one for both"
    assert fn.count_params() == seq.count_params(), (
        f"model_fn has {fn.count_params()[0]:,} parameters and model_seq {seq.count_params()[0]:,}: they are not the same network")
    a, b = _signature(seq), _signature(fn)
    for i, (op_seq, op_fn) in enumerate(zip(a, b), start=1):
        assert op_seq == op_fn, (
            f"model_seq and model_fn differ at step {i}: {_kind(op_seq)} in model_seq, {_kind(op_fn)} in model_fn"
            + (" with other settings" if op_seq[0] == op_fn[0] else ""))
    assert len(a) == len(b), (
        f"model_seq has {len(a)} steps (layers and activations) and model_fn {len(b)}: one of them misses a layer")


def _top_module_class(program) -> str | None:
    for node in program.graph.nodes:
        for path, cls in (node.meta.get("nn_module_stack") or {}).values():
            if path == "":
                return cls if isinstance(cls, str) else getattr(cls, "__qualname__", str(cls))
    return None


@pytest.mark.points(1)
def test_two_apis(submission):
    """model_seq is written with the Sequential API, model_fn with the Functional API (PyTorch: a subclass)."""
    seq, fn = submission.model("sequential"), submission.model("functional")
    if seq.framework == "keras":
        import keras

        assert isinstance(seq.keras_model, keras.Sequential), "model_seq must be a keras.Sequential model"
    else:
        cls = _top_module_class(seq.program) or ""
        assert cls.endswith("Sequential"), "model_seq must be a torch.nn.Sequential"
    if fn.framework == "keras":
        import keras

        assert not isinstance(fn.keras_model, keras.Sequential), (
            "model_fn is a Sequential model: build it with the Functional API, keras.Model(inputs, outputs)")
        assert type(fn.keras_model).__name__ == "Functional", "model_fn must be built with keras.Model(inputs, outputs)"
    else:
        cls = _top_module_class(fn.program)
        assert cls is not None, "the grader could not tell how model_fn was written"
        assert not cls.endswith("Sequential"), "model_fn is an nn.Sequential: write it as a subclass of nn.Module"


# -- training ---------------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_early_stopping_on_val_loss(submission):
    """Training used early stopping that monitored the validation loss."""
    t = _training(submission)
    assert t["monitor_is_val_loss"] == 1, "early_stopping does not monitor the validation loss ('val_loss')"
    best, lowest = t["best"], float(np.min(t["val_loss"]))
    assert np.isfinite(best), "early_stopping was never used: pass it to fit, callbacks=[early_stopping]"
    assert abs(best - lowest) <= 1e-5 * max(1.0, abs(lowest)), (
        "the best value early_stopping saw is not the lowest validation loss in history: was it used in this training?")
    epochs_run, best_epoch = len(t["val_loss"]), int(np.argmin(t["val_loss"]))
    if epochs_run < t["epochs_asked"]:  # it stopped training: `patience` epochs after the best one
        assert np.isfinite(t["patience"]) and abs((epochs_run - 1 - best_epoch) - t["patience"]) <= 1, (
            f"training stopped after {epochs_run} epochs, not a patience of epochs after the lowest validation loss "
            f"(epoch {best_epoch + 1}): what stopped it?")


@pytest.mark.points(1)
def test_best_weights_restored(submission):
    """After training, model_fn holds the weights of the epoch with the lowest validation loss."""
    t = _training(submission)
    assert t["restore_best_weights"] == 1, "early_stopping does not restore the best weights (restore_best_weights=True)"
    lowest, final = float(np.min(t["val_loss"])), t["final_val_loss"]
    assert np.isfinite(final), "the loss of model_fn on val_ds could not be computed"
    assert abs(final - lowest) <= 2e-3 * max(1.0, lowest), (
        f"model_fn's loss on val_ds is now {final:.4f}, but the lowest validation loss in history is {lowest:.4f}: "
        "model_fn does not hold the weights of its best epoch")


@pytest.mark.points(1)
def test_trained_on_training_split(submission):
    """model_fn was trained on the batches of train_ds only, never on the validation images."""
    t, p = _training(submission), _pipeline(submission)
    steps = t["steps_per_epoch"]
    assert np.isfinite(steps), "the grader could not tell how many batches one training epoch used"
    assert steps == p["train_batches"], (
        f"one training epoch used {steps:.0f} batches, but train_ds has {p['train_batches']:.0f}: train on train_ds "
        "only; the validation images must not be trained on")


# -- accuracy on slices the student never saw ----------------------------------------------------------

def _heldout_accuracy(model) -> float:
    """Accuracy on the held-out slices, read as image_dataset_from_directory reads files and as
    load_brain_mri does: a model is judged on the decoding it was trained on, whichever that was."""
    import data

    accuracies = []
    for decoder in ("keras", "opencv"):
        x, y = data.load_heldout("brain_mri", image_size=IMAGE_SIZE, decoder=decoder)
        scores = model.predict(x.astype(np.float32) / 255.0)
        assert scores.shape in ((len(x), 1), (len(x),)), (
            f"for {len(x)} images model_fn returned shape {scores.shape}, not one probability per image")
        assert np.all(np.isfinite(scores)), "model_fn returned NaN or infinite values"
        assert scores.min() >= 0 and scores.max() <= 1, "model_fn must output the probability of 'yes' (a sigmoid unit)"
        accuracies.append(float(np.mean((scores.reshape(-1) > 0.5) == (y == 1))))
    return max(accuracies)


@pytest.mark.points(3)
def test_heldout_accuracy(submission, thresholds):
    """model_fn classifies held-out MRI slices clearly better than always answering 'yes'."""
    accuracy = _heldout_accuracy(submission.model("functional"))
    assert accuracy >= thresholds["brain_mri_accuracy"], (
        f"accuracy on held-out slices is {accuracy:.3f}, too close to always answering 'yes': "
        "was model_fn trained (on images scaled to [0, 1]), and does it hold its best weights?")
