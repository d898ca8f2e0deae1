"""Hidden checks for gradcam: the student's heatmaps against a Grad-CAM computed here.

The student's Keras model is rebuilt from its .keras file; this file computes its own Grad-CAM on
it (tf.GradientTape on a model exposing the last conv layer) and compares it with the heatmaps the
student's make_gradcam_heatmap returned inside the sandbox for the same images.
"""
import numpy as np
import pytest

from autograder.checker.api import HarvestRequest, StudentError

NOTEBOOK = "gradcam"
BUDGET = {"cell_timeout_s": 900, "notebook_timeout_s": 1800}  # trains the MNIST model again
N_PREDICTED = 8     # calls with pred_index=None (the predicted class)
N_CHOSEN = 3        # calls with a class chosen here


def harvest(rng: np.random.Generator) -> HarvestRequest:
    import data

    x, _ = data.load_heldout("mnist")
    picks = rng.choice(len(x), size=N_PREDICTED + N_CHOSEN, replace=False)
    req = HarvestRequest().model("cnn", variable="model").value("last_conv", variable="last_conv_layer_name")
    for i, idx in enumerate(picks):
        img = (x[idx].astype(np.float32) / 255.0)[np.newaxis, :, :, np.newaxis]
        if i < N_PREDICTED:
            req.call(f"cam_pred_{i}", "gradcam_for_grading", img)
        else:
            req.call(f"cam_class_{i}", "gradcam_for_grading", img, pred_index=int(rng.integers(0, 10)))
    return req


def _keras_model(submission):
    model = submission.model("cnn")
    if model.framework != "keras":
        raise StudentError("Grad-CAM is graded on a Keras model, and `model` is not one")
    return model.keras_model


def _layer_name(submission):
    name = submission.value("last_conv")
    if not isinstance(name, str):
        raise StudentError("last_conv_layer_name must be a string")
    return name


def _grad_model(model, layer_name):
    """A model returning (feature maps of `layer_name`, predictions), for Functional and Sequential."""
    import keras

    layer = model.get_layer(layer_name)
    if not isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, [layer.output, model.outputs[0]])
    # A rebuilt Sequential's layer outputs and model outputs need not share one graph, so the
    # layers are replayed on a fresh input: one connected graph, same weights.
    inputs = keras.Input(shape=model.inputs[0].shape[1:])
    x, feature_maps = inputs, None
    for sub in model.layers:
        x = sub(x)
        if sub is layer:
            feature_maps = x
    return keras.Model(inputs, [feature_maps, x])


_CACHE = {}


def _setup(submission):
    key = id(submission)
    if key not in _CACHE:
        model = _keras_model(submission)
        name = _layer_name(submission)
        try:
            _CACHE[key] = (_grad_model(model, name), name)
        except ValueError:
            raise StudentError(f"the model has no layer named '{name}'") from None
    return _CACHE[key]


def reference_gradcam(grad_model, img, pred_index=None):
    """Classic Grad-CAM; None when the class has no positive evidence (undefined normalisation)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        conv_out, preds = grad_model(tf.convert_to_tensor(img), training=False)
        if pred_index is None:
            pred_index = int(tf.argmax(preds[0]))
        score = preds[:, pred_index]
    grads = tape.gradient(score, conv_out)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(conv_out[0] * weights, axis=-1)).numpy()
    peak = cam.max()
    return cam / peak if peak > 1e-7 else None


def _cases(submission, names=None):
    """(call name, student heatmap or error text, reference heatmap or None) for each call."""
    grad_model, _ = _setup(submission)
    out = []
    for name in names or submission.request.call_names:
        (img,), kwargs = submission.request.call_args(name)
        ref = reference_gradcam(grad_model, img, kwargs.get("pred_index"))
        try:
            got = np.asarray(submission.call(name), dtype=np.float64)
        except StudentError as err:
            got = str(err)
        out.append((name, got, ref))
    return out


def _score(cases, credit, ok, what, all_or_nothing=False):
    """Partial credit over images, or none unless all are right: a correct Grad-CAM is right on
    every image, while a missing ReLU is invisible on the images whose evidence is all positive."""
    problems = [name for name, got, ref in cases if isinstance(got, str) or not ok(got, ref)]
    errors = [got for _, got, _ in cases if isinstance(got, str)]
    n = len(cases)
    if problems:
        hint = f" ({errors[0]})" if errors else ""
        message = f"{what}: {n - len(problems)} of {n} images right{hint}"
        if all_or_nothing:
            raise AssertionError(message)
        credit(n - len(problems), n, message)


@pytest.mark.points(1)
def test_last_conv_layer_name(submission):
    """last_conv_layer_name names the last convolutional layer of the model."""
    import keras

    model = _keras_model(submission)
    name = _layer_name(submission)
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert name in convs, f"'{name}' is not a Conv2D layer of your model"
    assert name == convs[-1], f"'{name}' is a convolutional layer, but not the last one"


@pytest.mark.points(1)
def test_heatmap_shape(submission, credit):
    """The heatmap has the spatial size of the last conv layer's output."""
    grad_model, name = _setup(submission)
    spatial = tuple(int(d) for d in grad_model.outputs[0].shape[1:3])
    _score(_cases(submission), credit, lambda got, ref: got.shape == spatial,
           f"heatmap shape (the feature maps of '{name}' are {spatial[0]}x{spatial[1]})")


@pytest.mark.points(1)
def test_heatmap_non_negative(submission, credit):
    """The heatmap has no negative values (ReLU of the weighted sum)."""
    _score(_cases(submission), credit, lambda got, ref: got.size > 0 and np.nanmin(got) >= -1e-6
           and not np.isnan(got).any(), "non-negative heatmap (did you apply the ReLU?)", all_or_nothing=True)


@pytest.mark.points(1)
def test_heatmap_normalised(submission, credit):
    """The heatmap is normalised so that its maximum is 1."""
    cases = [c for c in _cases(submission) if c[2] is not None]
    _score(cases, credit, lambda got, ref: got.size > 0 and abs(np.nanmax(got) - 1) < 1e-3,
           "maximum of the heatmap (divide by the maximum)")


def _agrees(got, ref):
    return got.shape == ref.shape and np.allclose(got, ref, atol=2e-3)


@pytest.mark.points(3)
def test_matches_reference_gradcam(submission, credit):
    """Heatmaps for the predicted class match Grad-CAM computed on your rebuilt model."""
    names = [n for n in submission.request.call_names if n.startswith("cam_pred_")]
    cases = [c for c in _cases(submission, names) if c[2] is not None]
    _score(cases, credit, _agrees, "Grad-CAM for the predicted class", all_or_nothing=True)


@pytest.mark.points(1)
def test_pred_index_respected(submission, credit):
    """With pred_index given, the heatmap explains that class, not the predicted one."""
    names = [n for n in submission.request.call_names if n.startswith("cam_class_")]
    cases = [c for c in _cases(submission, names) if c[2] is not None]
    _score(cases, credit, _agrees, "Grad-CAM for a given class", all_or_nothing=True)
