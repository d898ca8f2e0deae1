"""Hidden checks for locally_connected: the NumPy forward pass, the layer and the model.

References are computed here with a direct loop over positions, filters and the window (the weight
layout of the notebook); the student's code only sees random inputs. Every case has at least two
channels and a window of at least 2x2, so a window flattened in another order is wrong everywhere.
Weight sharing is tested by changing the kernel of one position: only that position's output may
change. The custom layer cannot be rebuilt here (safe_mode refuses custom classes), so it is driven
through the notebook's locked hooks, which return arrays.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, StudentError, compare_arrays, compare_shapes, score

BUDGET = {"cell_timeout_s": 120, "notebook_timeout_s": 300}  # imports Keras or PyTorch
N_UNSHARED = 3


def _random_layer(rng, *, square_kernel: bool):
    n, c_in, filters = int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(1, 5))
    kh = int(rng.integers(2, 5))
    kw = kh if square_kernel else int(rng.choice([k for k in range(2, 5) if k != kh]))
    h, w = kh + int(rng.integers(0, 6)), kw + int(rng.integers(1, 6))
    out_h, out_w = h - kh + 1, w - kw + 1
    x = rng.normal(size=(n, h, w, c_in))
    weights = rng.normal(size=(out_h, out_w, kh * kw * c_in, filters))
    return x, weights, rng.normal(size=(out_h, out_w, filters))


def _describe(case: Case) -> str:
    x, weights, _ = case.args
    kh, kw = x.shape[1] - weights.shape[0] + 1, x.shape[2] - weights.shape[1] + 1
    return f"input {x.shape}, {kh}x{kw} window, {weights.shape[-1]} filter(s)"


def _unshared_cases(rng) -> dict[str, Case]:
    """Pairs of calls whose weights differ only at one position other than (0, 0)."""
    cases = {}
    for k in range(N_UNSHARED):
        x, weights, bias = _random_layer(rng, square_kernel=bool(k % 2))
        while weights.shape[0] * weights.shape[1] < 2:
            x, weights, bias = _random_layer(rng, square_kernel=bool(k % 2))
        positions = [(i, j) for i in range(weights.shape[0]) for j in range(weights.shape[1]) if (i, j) != (0, 0)]
        i, j = positions[int(rng.integers(len(positions)))]
        changed = weights.copy()
        changed[i, j] += rng.normal(size=changed[i, j].shape)
        cases[f"unshared_{k}_base"] = Case(x, weights, bias)
        cases[f"unshared_{k}_changed"] = Case(x, changed, bias)
    return cases


def harvest(rng: np.random.Generator) -> HarvestRequest:
    forward = {f"square_{k}": Case(*_random_layer(rng, square_kernel=True)) for k in range(2)}
    forward |= {f"rect_{k}": Case(*_random_layer(rng, square_kernel=False)) for k in range(3)}
    layer = {f"square_{k}": Case(*_random_layer(rng, square_kernel=True)) for k in range(1)}
    layer |= {f"rect_{k}": Case(*_random_layer(rng, square_kernel=False)) for k in range(2)}
    counts = {}
    for k in range(5):
        kh, kw = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        counts[f"random_{k}"] = Case(kh + int(rng.integers(0, 30)), kw + int(rng.integers(0, 30)),
                                     int(rng.integers(1, 33)), kh, kw, int(rng.integers(1, 33)))
    images = rng.random((int(rng.integers(2, 6)), 28, 28, 1)).astype(np.float32)
    return (HarvestRequest()
            .cases("locally_connected2d", forward, describe=_describe)
            .cases("locally_connected2d", _unshared_cases(rng), describe=_describe)
            .cases("lc_param_count", counts, describe=lambda c: "lc_param_count" + str(tuple(c.args)))
            .cases("lc_layer_for_grading", layer, describe=lambda c: "your layer on an " + _describe(c))
            .cases("lc_model_for_grading", {"batch": Case(images)},
                   describe=lambda c: f"your model on {len(c.args[0])} images")
            .value("model_params", "model_params"))


def reference_forward(x, weights, bias):
    """The definition, term by term: y[b,i,j,f] = bias[i,j,f] + sum x[b,i+m,j+n,c] W[i,j,(m kw + n) C + c, f]."""
    n, h, w, c_in = x.shape
    out_h, out_w, _, filters = weights.shape
    kh, kw = h - out_h + 1, w - out_w + 1
    out = np.zeros((n, out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = bias[i, j]
            for m in range(kh):
                for q in range(kw):
                    for c in range(c_in):
                        out[:, i, j, :] += np.outer(x[:, i + m, j + q, c], weights[i, j, (m * kw + q) * c_in + c])
    return out


def reference_count(in_h, in_w, c_in, kh, kw, filters) -> int:
    return (in_h - kh + 1) * (in_w - kw + 1) * (kh * kw * c_in * filters + filters)


def reference_model_params() -> int:
    """Conv 20@7x7 on 28x28x1 (22x22), pool 2 (11x11), conv 10@5x5 (7x7), LC 2@3x3 (5x5), dense 10."""
    from torch import nn

    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    return (count(nn.Conv2d(1, 20, 7)) + count(nn.Conv2d(20, 10, 5)) + reference_count(7, 7, 10, 3, 3, 2)
            + count(nn.Linear(5 * 5 * 2, 10)))


def _forward_judge(tolerance):
    def judge(got, outcome):
        problem = compare_arrays(got, reference_forward(*outcome.args), rtol=tolerance, atol=tolerance)
        if problem != "wrong values":
            return problem
        x, weights, bias = outcome.args
        shared = np.broadcast_to(weights[0, 0], weights.shape)
        if compare_arrays(got, reference_forward(x, shared, np.broadcast_to(bias[0, 0], bias.shape)),
                          rtol=tolerance, atol=tolerance) is None:
            return "wrong values: every position uses the kernel of position (0, 0), as a convolution would"
        if compare_arrays(got, reference_forward(x, weights, np.zeros_like(bias)), rtol=tolerance, atol=tolerance) is None:
            return "wrong values: the biases are missing"
        return "wrong values: check the order in which the window is flattened (row, column, channel)"
    return judge


def _calls(submission, function, prefix):
    return [o for o in submission.calls(function) if o.label.startswith(prefix)]


@pytest.mark.points(2)
def test_param_count_formula(submission):
    """lc_param_count: a kernel and a bias per output position and filter, for random settings."""
    def judge(got, outcome):
        if isinstance(got, np.ndarray) and got.shape == (1,):
            got = got.reshape(())  # the harvest sends a returned scalar as an array of one value
        problem = compare_arrays(got, float(reference_count(*outcome.args)), rtol=0, atol=1e-6)
        in_h, in_w, c_in, kh, kw, filters = outcome.args
        positions = (in_h - kh + 1) * (in_w - kw + 1)
        if problem != "wrong values":
            return problem
        if compare_arrays(got, float(positions * kh * kw * c_in * filters + filters), rtol=0, atol=1e-6) is None:
            return "wrong count: the bias is not shared either, there is one per position and filter"
        if compare_arrays(got, float(kh * kw * c_in * filters + filters), rtol=0, atol=1e-6) is None:
            return "wrong count: that is a convolution's count; every output position has its own kernels and biases"
        return problem
    score(submission.calls("lc_param_count"), judge, what="parameter count")


@pytest.mark.points(3)
def test_forward_values(submission):
    """locally_connected2d matches a direct loop on random inputs, windows and filters."""
    calls = [o for o in submission.calls("locally_connected2d") if not o.label.startswith("unshared_")]
    score(calls, _forward_judge(1e-6), what="locally connected output")


@pytest.mark.points(1)
def test_weights_not_shared(submission):
    """Changing the kernel of one position changes the output at that position only."""
    outcomes = {o.label: o for o in submission.calls("locally_connected2d") if o.label.startswith("unshared_")}

    def judge(changed, outcome):
        base = outcomes[outcome.label.replace("_changed", "_base")]
        if not base.ok:
            return base.error
        for value in (base.value, changed):
            problem = compare_shapes(value, reference_forward(*outcome.args).shape)
            if problem:
                return problem
        moved = np.abs(changed - base.value).max(axis=(0, 3)) > 1e-9
        i, j = np.argwhere(np.any(base.args[1] != outcome.args[1], axis=(2, 3)))[0]
        if not moved.any():
            return "changing the kernel of one position changed nothing: each position must use its own kernel"
        if not moved[i, j]:
            return "changing the kernel of one position did not change the output at that position"
        if moved.sum() > 1:
            return "changing the kernel of one position changed the output at other positions: the weights are shared"
        return None
    score([o for label, o in outcomes.items() if label.endswith("_changed")], judge, what="unshared weights")


@pytest.mark.points(2)
def test_layer_forward(submission):
    """Your Keras or PyTorch layer, given weights, matches the direct loop (through the grading hook)."""
    score(submission.calls("lc_layer_for_grading"), _forward_judge(1e-4), what="the layer's output")


def _model_params(submission):
    value = submission.value("model_params")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.ndarray)):
        raise StudentError("model_params should be the number of parameters of your model, an int")
    return value


@pytest.mark.points(1)
def test_model_parameter_count(submission):
    """The model of Task 4 has the right number of parameters."""
    value = np.asarray(_model_params(submission))
    problem = compare_arrays(value.reshape(()) if value.shape == (1,) else value,
                             float(reference_model_params()), rtol=0, atol=1e-6)
    assert problem is None, f"model_params: {problem}; check the shape after each layer (the pooling) and your layer's biases"


@pytest.mark.points(1)
def test_model_runs(submission):
    """The model takes 28x28x1 images and gives 10 scores per image."""
    def judge(got, outcome):
        return compare_shapes(got, (len(outcome.args[0]), 10))
    score(submission.calls("lc_model_for_grading"), judge, what="the model's output")
