"""Hidden checks for counting_parameters: the counting functions against layers built here, the worked numbers.

Every reference count comes from a layer built in this (trusted) process with PyTorch and counted
(parameters as trainable, the running statistics of batch normalisation as non-trainable, as Keras
reports them); the student's functions only ever see random layer settings. Cases with and without
bias have fixed labels, so a forgotten bias always loses the same share of a check.
"""
from functools import lru_cache

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, score

BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}
BIAS_LABELS = ("bias_default_0", "bias_default_1", "bias_true")   # then one "no_bias" case
TABLE_SHAPES = [(32, 32, 1), (32, 32, 10), (16, 16, 10), (16, 16, 10), (8, 8, 10), (10,)]


def _layer_cases(rng, low_k: int) -> dict[str, Case]:
    """Three cases with a bias (two by default, one explicit) and one without."""
    def draw():
        return int(rng.integers(1, 65)), int(rng.integers(1, 129)), int(rng.integers(low_k, 8))
    cases = {label: Case(*draw()) for label in BIAS_LABELS[:2]}
    cases["bias_true"] = Case(*draw(), bias=True)
    cases["no_bias"] = Case(*draw(), bias=False)
    return cases


def _dense_cases(rng) -> dict[str, Case]:
    draw = lambda: (int(rng.integers(1, 5000)), int(rng.integers(1, 513)))  # noqa: E731
    return {"bias_default_0": Case(*draw()), "bias_default_1": Case(*draw()),
            "bias_true": Case(*draw(), bias=True), "no_bias": Case(*draw(), bias=False)}


def _memory_cases(rng) -> dict[str, Case]:
    cases = {}
    for i, rank in enumerate((1, 2, 3, 4)):
        shape = [int(rng.integers(1, 65)) for _ in range(rank)]
        cases[f"rank{rank}"] = Case(shape) if i % 2 == 0 else Case(shape, bytes_per_value=int(rng.choice([1, 2, 8])))
    return cases


def _describe_layer(kind):
    def describe(case):
        c_in, c_out, k = case.args
        bias = case.kwargs.get("bias", True)
        return f"{kind}(c_in={c_in}, c_out={c_out}, k={k}{'' if bias else ', bias=False'})"
    return describe


def harvest(rng: np.random.Generator) -> HarvestRequest:
    conv1x1_cases = {}
    for i in range(4):
        h, w, c_in, c_out = (int(v) for v in rng.integers(1, 9, size=4))
        conv1x1_cases[f"random_{i}"] = Case(rng.normal(size=(h, w, c_in)), rng.normal(size=(c_in, c_out)),
                                            rng.normal(size=c_out))
    request = (HarvestRequest()
               .cases("conv2d_params", _layer_cases(rng, 1), describe=_describe_layer("conv2d_params"))
               .cases("conv3d_params", _layer_cases(rng, 2), describe=_describe_layer("conv3d_params"))
               .cases("conv1d_params", _layer_cases(rng, 1), describe=_describe_layer("conv1d_params"))
               .cases("dense_params", _dense_cases(rng),
                      describe=lambda c: f"dense_params{tuple(c.args)}" + ("" if c.kwargs.get("bias", True) else " without bias"))
               .cases("batchnorm_params", {f"features_{i}": Case(int(n)) for i, n in enumerate(rng.integers(1, 1025, size=4))},
                      describe=lambda c: f"batchnorm_params({c.args[0]})")
               .cases("activation_memory", _memory_cases(rng),
                      describe=lambda c: f"activation_memory({tuple(c.args[0])}, {c.kwargs.get('bytes_per_value', 4)})")
               .cases("conv1x1", conv1x1_cases,
                      describe=lambda c: f"an image of shape {c.args[0].shape} to {c.args[1].shape[1]} channels"))
    for variable in ("conv1d_layer_params", "conv1d_total_params", "conv1x1_16_params", "model_a_params",
                     "conv1x1_1_params", "model_b_params", "table_activations", "table_params",
                     "table_total_bytes", "dense20_params", "bn20_trainable", "bn20_non_trainable"):
        request.value(variable, variable)
    return request


# -- references, counted on layers built here ---------------------------------------------------------
def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def reference_layer(kind: str, c_in, c_out, k, bias=True) -> int:
    from torch import nn

    layer = {"conv1d": nn.Conv1d, "conv2d": nn.Conv2d, "conv3d": nn.Conv3d}[kind]
    return _count(layer(c_in, c_out, k, bias=bias))


def reference_dense(n_in, n_out, bias=True) -> int:
    from torch import nn

    return _count(nn.Linear(n_in, n_out, bias=bias))


def reference_batchnorm(features) -> tuple[int, int]:
    from torch import nn

    bn = nn.BatchNorm1d(features)
    statistics = sum(b.numel() for name, b in bn.named_buffers() if name.startswith("running_"))
    return _count(bn), statistics


def reference_conv1x1(x, w, b):
    import torch

    conv = torch.nn.Conv2d(w.shape[0], w.shape[1], 1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w.T.copy())[:, :, None, None])
        conv.bias.copy_(torch.from_numpy(b))
        out = conv(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])
    return out[0].numpy().transpose(1, 2, 0)


@lru_cache(maxsize=1)
def reference_values() -> dict:
    """The worked numbers of the notebook, from layers built here."""
    conv1d = [reference_layer("conv1d", 7, 10, 3), reference_layer("conv1d", 10, 20, 3), 0,
              reference_dense((500 - 2 - 2) * 20, 50), reference_dense(50, 9)]
    table_params = [0, reference_layer("conv2d", 1, 10, 5), 0, reference_layer("conv2d", 10, 10, 5), 0,
                    reference_dense(8 * 8 * 10, 10)]
    bn_trainable, bn_statistics = reference_batchnorm(20)
    return {
        "conv1d_layer_params": conv1d, "conv1d_total_params": sum(conv1d),
        "conv1x1_16_params": reference_layer("conv2d", 3, 16, 1),
        "model_a_params": reference_layer("conv2d", 3, 16, 1) + reference_dense(14 * 14 * 16, 10),
        "conv1x1_1_params": reference_layer("conv2d", 3, 1, 1),
        "model_b_params": reference_layer("conv2d", 3, 1, 1) + reference_dense(14 * 14, 10),
        "table_activations": [int(np.prod(s)) for s in TABLE_SHAPES], "table_params": table_params,
        "table_total_bytes": 4 * sum(int(np.prod(s)) for s in TABLE_SHAPES),
        "dense20_params": reference_dense(10, 20), "bn20_trainable": bn_trainable,
        "bn20_non_trainable": bn_statistics,
    }


# -- judges ----------------------------------------------------------------------------------------------
def _exact(got, expected) -> str | None:
    got = np.asarray(got) if isinstance(got, (list, int, float)) else got
    expected = np.asarray(expected, dtype=float)
    if expected.ndim == 0 and isinstance(got, np.ndarray) and got.shape == (1,):
        got = got.reshape(())  # the harvest sends a returned scalar as an array of one value
    return compare_arrays(got, expected, rtol=0, atol=1e-6)


def _layer_judge(reference):
    def judge(got, outcome):
        problem = _exact(got, reference(*outcome.args, **outcome.kwargs))
        if problem == "wrong values" and outcome.kwargs.get("bias", True) and \
                _exact(got, reference(*outcome.args, bias=False)) is None:
            return "wrong count: that is the number of weights alone, the biases (one per filter or unit) are missing"
        return problem
    return judge


def _value_judge(got, outcome):
    if isinstance(got, str):
        return "is text, not a number"
    if isinstance(got, list) and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in got):
        return "should hold numbers only"
    if isinstance(got, bool):
        return "is a boolean, not a number"
    return _exact(got, reference_values()[outcome.label])


# -- checks ----------------------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_conv2d_params(submission):
    """conv2d_params matches a PyTorch Conv2d for random settings, with and without bias."""
    score(submission.calls("conv2d_params"), _layer_judge(lambda *a, **k: reference_layer("conv2d", *a, **k)),
          what="Conv2D parameters")


@pytest.mark.points(1)
def test_conv3d_params(submission):
    """conv3d_params matches a PyTorch Conv3d (a k x k x k kernel) for random settings."""
    def judge(got, outcome):
        problem = _layer_judge(lambda *a, **k: reference_layer("conv3d", *a, **k))(got, outcome)
        c_in, c_out, k = outcome.args
        if problem == "wrong values" and _exact(got, reference_layer("conv2d", c_in, c_out, k,
                                                                     **outcome.kwargs)) is None:
            return "wrong count: that is a k x k kernel; a 3-D kernel has k x k x k weights per input channel"
        return problem
    score(submission.calls("conv3d_params"), judge, what="Conv3D parameters")


@pytest.mark.points(1)
def test_conv1d_params(submission):
    """conv1d_params matches a PyTorch Conv1d for random settings, with and without bias."""
    score(submission.calls("conv1d_params"), _layer_judge(lambda *a, **k: reference_layer("conv1d", *a, **k)),
          what="Conv1D parameters")


@pytest.mark.points(1)
def test_dense_params(submission):
    """dense_params matches a PyTorch Linear layer for random sizes, with and without bias."""
    score(submission.calls("dense_params"), _layer_judge(reference_dense), what="dense parameters")


@pytest.mark.points(1)
def test_batchnorm_params(submission):
    """batchnorm_params gives (trainable, non-trainable) as a framework counts them."""
    def judge(got, outcome):
        features = outcome.args[0]
        problem = _exact(got, reference_batchnorm(features))
        if problem == "wrong values" and _exact(got, (4 * features, 0)) is None:
            return "the running mean and variance are not learned by gradient descent: they are non-trainable"
        return problem
    score(submission.calls("batchnorm_params"), judge, what="batch normalisation parameters")


@pytest.mark.points(1)
def test_activation_memory(submission):
    """activation_memory gives the bytes of an output of any shape and value size."""
    def judge(got, outcome):
        expected_bytes = int(np.prod(outcome.args[0])) * outcome.kwargs.get("bytes_per_value", 4)
        return _exact(got, expected_bytes)
    score(submission.calls("activation_memory"), judge, what="activation memory")


@pytest.mark.points(2)
def test_conv1d_model(submission):
    """The Conv1D model on (500, 7) inputs: the parameters of every layer and the total."""
    score(submission.values(["conv1d_layer_params", "conv1d_total_params"]), _value_judge,
          what="the Conv1D model")


@pytest.mark.points(1)
def test_one_by_one_models(submission):
    """The 1x1 convolutions 3 -> 16 and 3 -> 1 and the models around them."""
    score(submission.values(["conv1x1_16_params", "model_a_params", "conv1x1_1_params", "model_b_params"]),
          _value_judge, what="the 1x1 convolution models")


@pytest.mark.points(2)
def test_conv1x1_values(submission):
    """conv1x1 equals a framework's 1x1 convolution on random images."""
    score(submission.calls("conv1x1"),
          lambda got, outcome: compare_arrays(got, reference_conv1x1(*outcome.args)),
          what="1x1 convolution")


@pytest.mark.points(2)
def test_memory_table(submission):
    """The table of the small CNN: activations and parameters per layer, memory in bytes."""
    score(submission.values(["table_activations", "table_params", "table_total_bytes"]), _value_judge,
          what="the memory and parameter table")


@pytest.mark.points(1)
def test_batchnorm_model(submission):
    """Dense(20) then batch normalisation: the dense layer, trainable and non-trainable counts."""
    score(submission.values(["dense20_params", "bn20_trainable", "bn20_non_trainable"]), _value_judge,
          what="Dense(20) and its batch normalisation")
