"""Model export of the kernel-side harvest, run in this process (no sandbox): what `_export_model`
writes is rebuilt by the grader's loader and must compute what the student's model computes."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from autograder.checker.models import load_model  # noqa: E402
from autograder.kernel_side import harvest  # noqa: E402


def _sequential():
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(16, activation="relu"),
        layers.Dense(5, activation="softmax"),
    ])


def _functional():
    inputs = keras.Input(shape=(8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="last_conv")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def _nested():
    """A Functional base inside a Sequential, its own last layer's activation removed."""
    base = _functional()
    base.layers[-1].activation = None
    return keras.Sequential([keras.Input(shape=(8, 8, 1)), base, layers.Dense(3, activation="sigmoid")]), base


def _inputs():
    return np.random.default_rng(0).random((6, 8, 8, 1)).astype(np.float32)


def _export_and_rebuild(model, tmp_path):
    framework, fname = harvest._export_model("cnn", model, {}, str(tmp_path))
    assert framework == "keras" and fname == "model-cnn.keras"
    return load_model(tmp_path / fname, "keras")


@pytest.mark.parametrize("build", [_sequential, _functional], ids=["sequential", "functional"])
def test_model_with_activation_none_exports_as_linear(build, tmp_path):
    keras.utils.set_random_seed(0)
    model = build()
    model.layers[-1].activation = None  # as in the keras.io Grad-CAM example
    x = _inputs()
    want = np.asarray(model(x, training=False))
    assert np.any(want < 0), "the scores should be raw logits, not probabilities"

    rebuilt = _export_and_rebuild(model, tmp_path)

    assert np.allclose(rebuilt.predict(x), want, rtol=1e-5, atol=1e-6)
    assert model.layers[-1].activation is None, "the student's model must be left as it was"
    assert np.allclose(np.asarray(model(x, training=False)), want)


def test_nested_model_with_activation_none(tmp_path):
    keras.utils.set_random_seed(0)
    model, base = _nested()
    x = _inputs()
    want = np.asarray(model(x, training=False))

    rebuilt = _export_and_rebuild(model, tmp_path)

    assert np.allclose(rebuilt.predict(x), want, rtol=1e-5, atol=1e-6)
    assert base.layers[-1].activation is None
    assert model.layers[-1].activation is keras.activations.sigmoid


def test_normal_model_still_exports(tmp_path):
    keras.utils.set_random_seed(0)
    model = _sequential()
    x = _inputs()
    want = np.asarray(model(x, training=False))

    rebuilt = _export_and_rebuild(model, tmp_path)

    assert np.allclose(rebuilt.predict(x), want, rtol=1e-5, atol=1e-6)
    assert np.allclose(want.sum(axis=1), 1.0, atol=1e-5), "softmax kept"
    assert model.layers[-1].activation is keras.activations.softmax
    assert rebuilt.count_params() == (model.count_params(), model.count_params())


def test_activation_restored_when_the_save_fails(tmp_path):
    model = _functional()
    model.layers[-1].activation = None
    with pytest.raises(Exception):
        harvest._export_model("cnn", model, {}, str(tmp_path / "missing" / "dir"))
    assert model.layers[-1].activation is None
