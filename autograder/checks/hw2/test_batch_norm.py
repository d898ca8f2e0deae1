"""Hidden checks for batch_norm: batchnorm_forward against torch.nn.BatchNorm1d/2d computed here.

The notebook's locked hook returns (out, running mean, running variance) as a dict. Training and
evaluation cases are scored separately, and in training mode the output, the running mean and the
running variance are separate checks, so each classic mistake (biased variance in the running
estimate, momentum the Keras way round, batch statistics at inference) loses only its own check.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, score

BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}
TRAIN = ("train_1d_0", "train_1d_1", "train_2d_0", "train_2d_1")
EVAL = ("eval_1d", "eval_2d", "eval_single")
ONE = ("one_1d_train", "one_2d_train")


def _case(rng, shape, training: bool) -> Case:
    c = shape[1]
    spread = rng.uniform(0.5, 5.0, size=c).reshape([1, c] + [1] * (len(shape) - 2))
    offset = rng.uniform(-10, 10, size=c).reshape(spread.shape)
    x = rng.normal(size=shape) * spread + offset
    momentum = float(rng.uniform(0.05, 0.4))
    eps = float(10 ** rng.uniform(-5, np.log10(0.5)))
    return Case(x, rng.uniform(0.5, 2.0, size=c) * rng.choice([-1, 1], size=c), rng.normal(size=c),
                rng.normal(size=c) * 3, rng.uniform(0.5, 10.0, size=c), momentum, eps, training)


def harvest(rng: np.random.Generator) -> HarvestRequest:
    draw = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    cases = {
        "train_1d_0": _case(rng, (draw(4, 16), draw(1, 6)), True),
        "train_1d_1": _case(rng, (draw(2, 5), draw(2, 6)), True),
        "train_2d_0": _case(rng, (draw(2, 4), draw(1, 4), draw(2, 5), draw(2, 5)), True),
        "train_2d_1": _case(rng, (draw(2, 4), draw(2, 4), draw(1, 4), draw(2, 5)), True),
        "eval_1d": _case(rng, (draw(4, 16), draw(1, 6)), False),
        "eval_2d": _case(rng, (draw(2, 4), draw(1, 4), draw(2, 5), draw(2, 5)), False),
        "eval_single": _case(rng, (1, draw(2, 6)), False),
        "one_1d_train": _case(rng, (1, draw(2, 6)), True),
        "one_2d_train": _case(rng, (1, draw(1, 4), draw(2, 5), draw(2, 5)), True),
    }
    describe = lambda c: (f"{'training' if c.args[7] else 'evaluation'} mode, x of shape {c.args[0].shape}, "  # noqa: E731
                          f"momentum {c.args[5]:.3f}, eps {c.args[6]:.2g}")
    return HarvestRequest().cases("bn_for_grading", cases, describe=describe)


def reference(x, gamma, beta, running_mean, running_var, momentum, eps, training) -> dict:
    """torch.nn.BatchNorm1d/2d in float64, in the mode of the case."""
    import torch

    bn = (torch.nn.BatchNorm1d if x.ndim == 2 else torch.nn.BatchNorm2d)(len(gamma), eps=eps, momentum=momentum)
    bn = bn.double()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
        bn.running_mean.copy_(torch.from_numpy(running_mean))
        bn.running_var.copy_(torch.from_numpy(running_var))
        bn.train(training)
        out = bn(torch.from_numpy(x))
    return {"out": out.numpy(), "running_mean": bn.running_mean.numpy().copy(),
            "running_var": bn.running_var.numpy().copy()}


def _variant(outcome, *, biased_running=False, keras_momentum=False) -> dict:
    """The running statistics a classic mistake gives (for hints only)."""
    x, _, _, running_mean, running_var, momentum, _, _ = outcome.args
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    batch_var = x.var(axis=axes) * (1 if biased_running else n / (n - 1))
    keep, new = (momentum, 1 - momentum) if keras_momentum else (1 - momentum, momentum)
    return {"running_mean": keep * running_mean + new * x.mean(axis=axes),
            "running_var": keep * running_var + new * batch_var}


def _close(got, expected):
    return compare_arrays(got, expected, rtol=1e-5, atol=1e-6)


def _key(value, key):
    if not isinstance(value, dict):
        return None, "batchnorm_forward should return a tuple (out, new_running_mean, new_running_var)"
    if key not in value:
        return None, "the result misses a part"
    return value[key], None


def _judge(key):
    def judge(value, outcome):
        got, problem = _key(value, key)
        if problem:
            return problem
        problem = _close(got, reference(*outcome.args)[key])
        if problem != "wrong values" or key == "out":
            return problem
        if _close(got, _variant(outcome, keras_momentum=True)[key]) is None:
            return "wrong values: the momentum is used the Keras way round; in PyTorch the batch statistic gets weight m"
        if key == "running_var" and _close(got, _variant(outcome, biased_running=True)[key]) is None:
            return "wrong values: the running variance is updated with the unbiased batch variance (divided by n - 1)"
        return problem
    return judge


def _calls(submission, labels):
    return [o for o in submission.calls("bn_for_grading") if o.label in labels]


@pytest.mark.points(3)
def test_train_output(submission):
    """Training mode: the output matches torch BatchNorm1d/2d (batch statistics, biased variance)."""
    score(_calls(submission, TRAIN), _judge("out"), what="output in training mode")


@pytest.mark.points(1)
def test_running_mean(submission):
    """Training mode: the running mean is updated with PyTorch's momentum convention."""
    score(_calls(submission, TRAIN), _judge("running_mean"), what="running mean")


@pytest.mark.points(2)
def test_running_var(submission):
    """Training mode: the running variance is updated with the unbiased batch variance."""
    score(_calls(submission, TRAIN), _judge("running_var"), what="running variance")


@pytest.mark.points(2)
def test_eval_output(submission):
    """Evaluation mode: the output is normalised with the running statistics, even for one example."""
    def judge(value, outcome):
        problem = _judge("out")(value, outcome)
        if problem == "wrong values":
            x, gamma, beta, _, _, momentum, eps, _ = outcome.args
            axes = (0,) + tuple(range(2, x.ndim))
            shape = [1, -1] + [1] * (x.ndim - 2)
            batch = (x - x.mean(axis=axes).reshape(shape)) / np.sqrt(x.var(axis=axes).reshape(shape) + eps)
            if _close(value["out"], gamma.reshape(shape) * batch + beta.reshape(shape)) is None:
                return "wrong values: evaluation mode must use the running statistics, not those of the batch"
        return problem
    score(_calls(submission, EVAL), judge, what="output in evaluation mode")


@pytest.mark.points(1)
def test_eval_keeps_running_stats(submission):
    """Evaluation mode returns the running mean and variance unchanged."""
    score(_calls(submission, EVAL), lambda value, outcome, key: _judge(key)(value, outcome),
          parts=["running_mean", "running_var"], what="running statistics in evaluation mode")


@pytest.mark.points(1)
def test_batch_of_one(submission):
    """Training mode on one value per channel raises ValueError; one feature map is normalised as torch does."""
    outcomes = {o.label: o for o in _calls(submission, ONE)}

    def judge(value, outcome):
        return _judge("out")(value, outcome)
    single = outcomes.get("one_1d_train")
    assert single is not None, "nothing could be checked"
    if single.ok:
        raise AssertionError("a batch of one example of shape (1, C) in training mode: no ValueError was raised")
    assert "failed: ValueError" in single.error, (
        "a batch of one example of shape (1, C) in training mode should raise ValueError; " + single.error[:300])
    score([outcomes["one_2d_train"]], judge, what="a single feature map in training mode", all_or_nothing=True)
