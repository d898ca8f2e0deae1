"""Hidden checks for gradcam: the student's heatmaps against a Grad-CAM computed here.

The student's model is rebuilt, and this file computes its own Grad-CAM on it at the layer that
last_conv_layer_name names, then compares it with the heatmaps the student's make_gradcam_heatmap
returned inside the sandbox for the same images. A Keras model comes back from its .keras file
(tf.GradientTape on a model exposing that layer); a PyTorch model as a torch.export program, a graph
whose nodes remember the module they ran in (`nn_module_stack`): it is run with that module's output
as a leaf tensor, and the gradient taken with respect to it. Checks that need only the heatmaps
(non-negative, normalised) keep their marks when the model cannot be rebuilt.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, ExportedGradCam, HarvestRequest, StudentError, compare_arrays, \
    compare_shapes, conv_nodes, defined_calls, module_of, module_outputs, numeric_problem, score

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full data).
BUDGET = {"cell_timeout_s": 900, "notebook_timeout_s": 1800}
# The reference trains with Keras' fit; a PyTorch loop on a CPU takes a few times as long.
TIME_MULTIPLE = 8
DATASETS = ("mnist",)
N_PREDICTED = 8     # calls with pred_index=None (the predicted class)
N_CHOSEN = 3        # calls with a class chosen here


def harvest(rng: np.random.Generator) -> HarvestRequest:
    import data

    x, _ = data.load_heldout("mnist")
    picks = rng.choice(len(x), size=N_PREDICTED + N_CHOSEN, replace=False)
    images = [(x[i].astype(np.float32) / 255.0)[np.newaxis, :, :, np.newaxis] for i in picks]
    cases = {f"predicted_{i}": Case(img) for i, img in enumerate(images[:N_PREDICTED])}
    cases |= {f"chosen_{i}": Case(img, pred_index=int(rng.integers(0, 10)))
              for i, img in enumerate(images[N_PREDICTED:])}
    describe = lambda case: "an image, for " + ("its predicted class" if not case.kwargs  # noqa: E731
                                                 else f"class {case.kwargs['pred_index']}")
    # A PyTorch model takes its images channels first.
    return (HarvestRequest().model("cnn", variable="model", torch_example_shape=(1, 1, 28, 28))
            .value("last_conv", variable="last_conv_layer_name")
            .cases("gradcam_for_grading", cases, describe=describe))


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


class KerasGradCam:
    """Grad-CAM on a rebuilt Keras model, at the layer named `layer_name`."""

    def __init__(self, model, layer_name):
        self.grad_model = _grad_model(model, layer_name)
        self.spatial = tuple(int(d) for d in self.grad_model.outputs[0].shape[1:3])

    def __call__(self, img_nhwc, pred_index=None):
        return reference_gradcam(self.grad_model, img_nhwc, pred_index)


class TorchGradCam(ExportedGradCam):
    """Grad-CAM on a rebuilt PyTorch model, for images given channels last as to a Keras model."""

    def __call__(self, img_nhwc, pred_index=None):
        return super().__call__(np.asarray(img_nhwc, dtype=np.float32).transpose(0, 3, 1, 2), pred_index)


_GRAD_MODELS = {}
_REFERENCES = {}


def _setup(submission):
    """(Grad-CAM of the rebuilt model, last conv layer name); StudentError when the model cannot be used."""
    key = id(submission)
    if key not in _GRAD_MODELS:
        model, name = submission.model("cnn"), _layer_name(submission)
        if model.framework == "keras":
            try:
                _GRAD_MODELS[key] = (KerasGradCam(model.keras_model, name), name)
            except ValueError:
                raise StudentError(f"the model has no layer named '{name}'") from None
        else:
            node = module_outputs(model.torch_module).get(name)
            if node is None:
                raise StudentError(f"the model has no layer named '{name}'")
            _GRAD_MODELS[key] = (TorchGradCam(model.torch_module, node), name)
    return _GRAD_MODELS[key]


def reference_gradcam(grad_model, img, pred_index=None):
    """Classic Grad-CAM on a Keras grad model; None when the class has no positive evidence (undefined
    normalisation)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        conv_out, preds = grad_model(tf.convert_to_tensor(img), training=False)
        if pred_index is None:
            pred_index = int(tf.argmax(preds[0]))
        class_score = preds[:, pred_index]
    grads = tape.gradient(class_score, conv_out)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(conv_out[0] * weights, axis=-1)).numpy()
    peak = cam.max()
    return cam / peak if peak > 1e-7 else None


def _reference(submission, outcome):
    key = (id(submission), outcome.label)
    if key not in _REFERENCES:
        gradcam, _ = _setup(submission)
        _REFERENCES[key] = gradcam(outcome.args[0], outcome.kwargs.get("pred_index"))
    return _REFERENCES[key]


def _defined(submission, outcomes):
    return defined_calls(outcomes, lambda outcome: _reference(submission, outcome))


def _calls(submission, prefix=""):
    return [o for o in submission.calls("gradcam_for_grading") if o.label.startswith(prefix)]


@pytest.mark.points(1)
def test_last_conv_layer_name(submission):
    """last_conv_layer_name names the last convolutional layer of the model."""
    model = submission.model("cnn")
    name = _layer_name(submission)
    if model.framework == "keras":
        import keras

        convs = [layer.name for layer in model.keras_model.layers if isinstance(layer, keras.layers.Conv2D)]
    else:
        convs = [module_of(node) for node in conv_nodes(model.torch_module)]
    assert name in convs, f"'{name}' is not a Conv2D layer of your model"
    assert name == convs[-1], f"'{name}' is a convolutional layer, but not the last one"


@pytest.mark.points(1)
def test_heatmap_shape(submission):
    """The heatmap has the spatial size of the last conv layer's output."""
    gradcam, name = _setup(submission)
    spatial = gradcam.spatial
    score(_calls(submission), lambda got, outcome: compare_shapes(got, spatial),
          what=f"heatmap shape (the feature maps of '{name}')")


@pytest.mark.points(1)
def test_heatmap_non_negative(submission):
    """The heatmap has no negative values (ReLU of the weighted sum)."""
    def judge(got, outcome):
        problem = numeric_problem(got)
        if problem:
            return problem
        return None if got.size and got.min() >= -1e-6 else "the heatmap has negative values: did you apply the ReLU?"
    score(_defined(submission, _calls(submission)), judge, what="non-negative heatmaps", all_or_nothing=True)


@pytest.mark.points(1)
def test_heatmap_normalised(submission):
    """The heatmap is normalised so that its maximum is 1."""
    def judge(got, outcome):
        problem = numeric_problem(got)
        if problem:
            return problem
        return None if got.size and abs(got.max() - 1) < 1e-3 else "the maximum is not 1: divide by the maximum"
    score(_defined(submission, _calls(submission)), judge, what="normalised heatmaps")


def _agrees(submission, clip_negative=False):
    """Judge: the heatmap equals the grader's Grad-CAM; with clip_negative, after a ReLU of its own,
    so that a missing ReLU (which the checks above judge) costs nothing more."""
    def judge(got, outcome):
        if clip_negative and numeric_problem(got) is None:
            got = np.maximum(got, 0)
        return compare_arrays(got, _reference(submission, outcome), rtol=0, atol=2e-3)
    return judge


@pytest.mark.points(3)
def test_matches_reference_gradcam(submission):
    """Heatmaps for the predicted class match Grad-CAM computed on your rebuilt model."""
    score(_defined(submission, _calls(submission, "predicted_")), _agrees(submission),
          what="Grad-CAM for the predicted class", all_or_nothing=True)


@pytest.mark.points(1)
def test_pred_index_respected(submission):
    """With pred_index given, the heatmap explains that class, not the predicted one."""
    score(_defined(submission, _calls(submission, "chosen_")), _agrees(submission, clip_negative=True),
          what="Grad-CAM for a given class", all_or_nothing=True)
