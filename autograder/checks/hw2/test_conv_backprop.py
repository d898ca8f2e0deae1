"""Hidden checks for conv_backprop: the worked example and conv2d_backward against PyTorch's autograd.

The reference gradients are computed here, in the trusted process, by torch.nn.functional.conv2d
on float64 tensors with requires_grad; the student's function only sees the random inputs (through
the notebook's locked grading hook, which returns {"dx": ..., "df": ...}).
"""
from functools import lru_cache

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, numeric_problem, score

BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}  # NumPy on tiny arrays: well under a second

# The worked example of the notebook (locked setup cell).
X = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 1.0], [0.0, 2.0, 1.0]])
F = np.array([[1.0, 0.0], [-1.0, 2.0]])
Y = -0.25
FORWARD = ("U", "O")
BACKWARD = ("dL_dU", "dL_dF", "dL_dX")
HOOK = "conv2d_backward_for_grading"


def _case(rng, *, stride, padding, uncovered=None) -> Case:
    """Random input, kernel (both sides >= 2, so that rotating it matters) and upstream gradient.

    uncovered: whether the last rows of the padded input are out of every window
    ((H + 2p - k) % stride != 0), fixed for strided cases so both kinds are always drawn.
    """
    while True:
        h, w = int(rng.integers(3, 10)), int(rng.integers(3, 10))
        kh, kw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        if kh > h + 2 * padding or kw > w + 2 * padding:
            continue
        if uncovered is not None and ((h + 2 * padding - kh) % stride != 0) != uncovered:
            continue
        oh = (h + 2 * padding - kh) // stride + 1
        ow = (w + 2 * padding - kw) // stride + 1
        if stride > 1 and min(oh, ow) < 2:  # a single window per axis: the stride would not matter
            continue
        return Case(rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), rng.normal(size=(oh, ow)),
                    stride=stride, padding=padding)


def _cases(rng) -> dict[str, Case]:
    cases = {f"basic_{i}": _case(rng, stride=1, padding=0) for i in range(4)}
    cases |= {f"padding_{i}": _case(rng, stride=1, padding=p) for i, p in enumerate((1, 2, 1))}
    cases |= {f"strided_{i}": _case(rng, stride=s, padding=0, uncovered=u)
              for i, (s, u) in enumerate(((2, False), (2, True), (3, True)))}
    cases |= {f"both_{i}": _case(rng, stride=s, padding=p, uncovered=u)
              for i, (s, p, u) in enumerate(((2, 1, True), (3, 2, False)))}
    return cases


def _describe(case: Case) -> str:
    x, f, _ = case.args
    return (f"input {x.shape[0]}x{x.shape[1]}, kernel {f.shape[0]}x{f.shape[1]}, "
            f"stride {case.kwargs['stride']}, padding {case.kwargs['padding']}")


def harvest(rng: np.random.Generator) -> HarvestRequest:
    request = HarvestRequest().cases(HOOK, _cases(rng), describe=_describe)
    for name in FORWARD + BACKWARD:
        request.value(name, variable=name)
    return request


def torch_gradients(x, f, d_out, stride, padding) -> dict:
    """dL/dx and dL/df of L = sum(conv2d(x, f) * d_out), by PyTorch's autograd (float64)."""
    import torch

    xt = torch.tensor(np.array(x, float)[None, None], requires_grad=True)
    ft = torch.tensor(np.array(f, float)[None, None], requires_grad=True)
    out = torch.nn.functional.conv2d(xt, ft, stride=stride, padding=padding)
    out.backward(torch.tensor(np.array(d_out, float)[None, None]))
    return {"dx": xt.grad[0, 0].numpy(), "df": ft.grad[0, 0].numpy()}


def _reference(outcome, rotate=True):
    x, f, d_out = outcome.args
    # Not rotating the kernel in dL/dX computes the true gradient of a layer whose kernel is rotated.
    return torch_gradients(x, f if rotate else f[::-1, ::-1], d_out, **outcome.kwargs)


def _xcorr(image, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _stride_ignored(outcome) -> dict:
    """What the stride-1 formulas give when the stride is forgotten in the backward pass."""
    x, f, d_out = outcome.args
    pad = outcome.kwargs["padding"]
    kh, kw = f.shape
    dxp = _xcorr(np.pad(d_out, ((kh - 1, kh - 1), (kw - 1, kw - 1))), f[::-1, ::-1])
    return {"dx": dxp[pad:dxp.shape[0] - pad, pad:dxp.shape[1] - pad], "df": _xcorr(np.pad(x, pad), d_out)}


def _diagnose(value, outcome, part) -> str | None:
    """The mistake a wrong dx or df matches, if it is one of the usual ones."""
    reference = _reference(outcome)[part]
    if part == "dx" and compare_arrays(value, _reference(outcome, rotate=False)["dx"]) is None:
        return "it matches the kernel not rotated by 180 degrees"
    pad = outcome.kwargs["padding"]
    if part == "dx" and pad and getattr(value, "shape", None) == tuple(n + 2 * pad for n in reference.shape) \
            and compare_arrays(value[pad:-pad, pad:-pad], reference) is None:
        return "it has the shape of the padded input: the padding was not removed"
    if outcome.kwargs["stride"] > 1 and compare_arrays(value, _stride_ignored(outcome)[part]) is None:
        return "it is what a stride of 1 would give: the stride was ignored in the backward pass"
    return None


def _judge(got, outcome, part):
    if not isinstance(got, dict) or part not in got:
        return "conv2d_backward did not return the pair (dx, df)"
    problem = compare_arrays(got[part], _reference(outcome)[part])
    if problem is None:
        return None
    if numeric_problem(got[part]) is None:
        hint = _diagnose(got[part], outcome, part)
        if hint:
            return f"{part} is wrong: {hint}"
    return f"{part}: {problem}"


def _calls(submission, prefix):
    return [o for o in submission.calls(HOOK) if o.label.startswith(prefix)]


def _as_array(value):
    """JSON numbers and lists of numbers as arrays; anything else as it came (judged as wrong)."""
    if isinstance(value, (int, float, list)) and not isinstance(value, bool):
        try:
            array = np.asarray(value)
        except ValueError:
            return value
        return array if array.dtype.kind in "iuf" else value
    return value


@lru_cache(maxsize=1)
def worked_example() -> dict:
    """The worked example's values, from PyTorch's autograd."""
    import torch

    xt = torch.tensor(X, requires_grad=True)
    ft = torch.tensor(F, requires_grad=True)
    u = torch.nn.functional.conv2d(xt[None, None], ft[None, None])[0, 0]
    u.retain_grad()
    o = u.mean()
    loss = 0.5 * (o - Y) ** 2
    loss.backward()
    return {"U": u.detach().numpy(), "O": o.detach().numpy(), "dL_dU": u.grad.numpy(),
            "dL_dF": ft.grad.numpy(), "dL_dX": xt.grad.numpy()}


def _judge_worked(got, outcome):
    got = _as_array(got)
    reference = worked_example()[outcome.label]
    if outcome.label == "O" and isinstance(got, np.ndarray) and got.size == 1:
        got = got.reshape(())
    problem = compare_arrays(got, reference)
    if problem == "wrong values" and outcome.label == "dL_dX":
        if compare_arrays(got, _xcorr(np.pad(worked_example()["dL_dU"], 1), F)) is None:
            return "wrong values: they match the kernel not rotated by 180 degrees"
    return problem


@pytest.mark.points(1)
def test_worked_forward(submission):
    """Worked example, forward pass: U and O."""
    score(submission.values(FORWARD), _judge_worked, what="worked example (forward)")


@pytest.mark.points(2)
def test_worked_backward(submission):
    """Worked example, backward pass: dL_dU, dL_dF and dL_dX."""
    score(submission.values(BACKWARD), _judge_worked, what="worked example (gradients)")


@pytest.mark.points(2)
def test_df_stride1(submission):
    """df matches PyTorch's autograd (stride 1, no padding)."""
    score(_calls(submission, "basic_"), _judge, parts=["df"], what="gradient with respect to the kernel")


@pytest.mark.points(2)
def test_dx_stride1(submission):
    """dx matches PyTorch's autograd (stride 1, no padding)."""
    score(_calls(submission, "basic_"), _judge, parts=["dx"], what="gradient with respect to the input")


@pytest.mark.points(2)
def test_padding(submission):
    """dx and df with zero padding (stride 1)."""
    score(_calls(submission, "padding_"), _judge, parts=["dx", "df"], what="gradients with padding")


@pytest.mark.points(2)
def test_stride(submission):
    """dx and df with a stride of 2 or 3 (no padding), including rows no window reaches."""
    score(_calls(submission, "strided_"), _judge, parts=["dx", "df"], what="gradients with a stride")


@pytest.mark.points(1)
def test_stride_and_padding(submission):
    """dx and df with both a stride and padding (all cases right)."""
    score(_calls(submission, "both_"), _judge, parts=["dx", "df"],
          what="gradients with a stride and padding", all_or_nothing=True)
