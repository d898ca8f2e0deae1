"""Hidden checks for mnist_cnn: the rebuilt model's size, structure and held-out accuracy.

The model is exported from the student's kernel (Keras .keras or torch.export), rebuilt here from
data only, and measured on held-out digits that are never visible inside the sandbox.
"""
import numpy as np
import pytest

from autograder.checker.api import HarvestRequest, assert_conv_layers, assert_parameter_count

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full data).
BUDGET = {"cell_timeout_s": 900, "notebook_timeout_s": 1800}
DATASETS = ("mnist",)
# The reference trains with Keras' fit; a correct PyTorch loop takes up to ~2-3x as long on a CPU
# shared with another grading job (CALIBRATION.md), so its time budget is 8x the reference's, not 4x.
TIME_MULTIPLE = 8
PARAMS = 147_402
CONV_FILTERS = [32, 64, 64]
CONV_SPATIAL = [(28, 28), (14, 14), (7, 7)]  # "same" padding after 0, 1, 2 poolings


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return HarvestRequest().model("cnn", variable="model", torch_example_shape=(1, 1, 28, 28))


def _heldout_inputs(heldout):
    x, y = heldout("mnist")
    return (x.astype(np.float32) / 255.0)[..., np.newaxis], np.asarray(y)


def _accuracy(submission, heldout):
    x, y = _heldout_inputs(heldout)
    scores = submission.model("cnn").predict(x)
    assert scores.shape == (len(x), 10), f"the model's output has shape {scores.shape[1:]} per batch, not one score per class"
    return float(np.mean(np.argmax(scores, axis=1) == y))


@pytest.mark.points(2)
def test_parameter_count(submission):
    """The model has the specified number of parameters, all trainable."""
    assert_parameter_count(submission.model("cnn"), PARAMS)


@pytest.mark.points(2)
def test_convolutional_layers(submission):
    """Three 3x3 convolutions with 32, 64 and 64 filters and 'same' padding."""
    assert_conv_layers(submission.model("cnn"), CONV_FILTERS, CONV_SPATIAL)


@pytest.mark.points(1)
def test_outputs_ten_classes(submission, heldout):
    """The model maps a batch of images to 10 finite class scores."""
    x, _ = _heldout_inputs(heldout)
    scores = submission.model("cnn").predict(x[:32])
    assert scores.shape == (32, 10), f"for 32 images the model returned shape {scores.shape}"
    assert np.all(np.isfinite(scores)), "the model returned NaN or infinite scores"


@pytest.mark.points(1)
def test_model_learned(submission, heldout, thresholds):
    """The trained model classifies held-out digits far better than chance."""
    acc = _accuracy(submission, heldout)
    assert acc >= thresholds["mnist_cnn_learned"], (
        f"accuracy on held-out digits is {acc:.3f}, close to guessing: was the model trained, and is `model` the trained one?")


@pytest.mark.points(4)
def test_heldout_accuracy(submission, heldout, thresholds):
    """Accuracy on held-out digits reaches the level the architecture achieves."""
    acc = _accuracy(submission, heldout)
    assert acc >= thresholds["mnist_cnn_accuracy"], (
        f"accuracy on held-out digits is {acc:.3f}, too low for this architecture: train longer or check the preprocessing")
