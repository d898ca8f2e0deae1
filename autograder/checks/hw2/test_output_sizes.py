"""Hidden checks for output_sizes: conv_output_size, the 9-layer network and same_padding against PyTorch.

References are computed here, in the trusted process: output sizes are the shapes that
torch.nn.functional.conv2d / max_pool2d produce (a RuntimeError means an invalid layer), and "same"
padding is judged by padding random images the student's way and comparing the convolution with
PyTorch's padding="same". The notebook's locked grading hooks turn None into the label "invalid" and
the list layer_sizes into labels, so that every answer crosses the boundary as data.
"""
import warnings

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, numeric_problem, score

BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}  # a few integer formulas: well under a second

SIZE_HOOK = "conv_output_size_for_grading"
NETWORK_HOOK = "layer_sizes_for_grading"
INVALID = "invalid"

# The notebook's network (locked cell): (kernel, stride, padding, dilation); layer 2 is a max pooling.
INPUT_SIZE = 256
LAYERS = [(7, 2, 3, 1), (3, 2, 1, 1), (3, 1, 0, 2), (5, 2, 0, 1), (3, 1, 2, 2), (4, 2, 1, 1),
          (7, 1, 0, 1), (7, 1, 0, 3), (1, 1, 0, 1)]
POOLING_LAYERS = (1,)  # indices into LAYERS


# -- references ---------------------------------------------------------------------------------
def torch_size(w, k, s=1, p=0, d=1, pooling=False):
    """The output size PyTorch gives, or None when it refuses the layer."""
    import torch

    try:
        x = torch.zeros(1, 1, w, 1)
        if pooling:
            out = torch.nn.functional.max_pool2d(x, (k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1))
        else:
            out = torch.nn.functional.conv2d(x, torch.zeros(1, 1, k, 1), stride=(s, 1), padding=(p, 0),
                                             dilation=(d, 1))
    except RuntimeError:
        return None
    return int(out.shape[2])


def _formula(w, k, s, p, d):
    return (w + 2 * p - d * (k - 1) - 1) // s + 1


# Usual mistakes, to name them when an answer matches one (and only then).
VARIANTS = {
    "it matches the formula without the final +1": lambda w, k, s, p, d: (w + 2 * p - d * (k - 1) - 1) // s,
    "it matches the formula with the +1 inside the floor": lambda w, k, s, p, d: (w + 2 * p - d * (k - 1)) // s,
    "it matches the formula with the dilation ignored": lambda w, k, s, p, d: (w + 2 * p - k) // s + 1,
}


# -- cases --------------------------------------------------------------------------------------
def _draw(rng, *, s, d, rem=None, size_one=False, ignored_differs=False, min_size=1):
    """A valid layer with stride s and dilation d; rem pins (W + 2P - D(K-1) - 1) mod s."""
    while True:
        w, k, p = int(rng.integers(3, 65)), int(rng.integers(1 if d == 1 else 2, 8)), int(rng.integers(0, 4))
        numerator = w + 2 * p - d * (k - 1) - 1
        if numerator < 0 or (rem is not None and numerator % s != rem) or numerator // s + 1 < min_size:
            continue
        if size_one and numerator >= s:
            continue
        if ignored_differs and VARIANTS["it matches the formula with the dilation ignored"](w, k, s, p, d) \
                == _formula(w, k, s, p, d):
            continue
        return Case(w, k, s=s, p=p, d=d)


def _invalid_size(rng, *, s, numerator):
    """d = 1 and W + 2P - K = numerator < 0: no window fits."""
    w, p = int(rng.integers(1, 12)), int(rng.integers(0, 3))
    return Case(w, w + 2 * p - numerator, s=s, p=p, d=1)


def _invalid_argument(rng, which):
    """One meaningless argument (a stride of 0, or a value where the formula alone still gives a
    positive size: only an explicit test of the argument finds the problem)."""
    while True:
        args = {"w": int(rng.integers(5, 40)), "k": int(rng.integers(1, 6)), "s": int(rng.integers(1, 4)),
                "p": int(rng.integers(0, 3)), "d": int(rng.integers(1, 3))}
        args[which] = {"w": int(rng.integers(-2, 1)), "k": int(rng.integers(-1, 1)), "s": 0,
                       "d": int(rng.integers(-1, 1)), "p": int(rng.integers(-2, 0))}[which]
        if which == "s" or _formula(**args) > 0:
            return Case(args["w"], args["k"], s=args["s"], p=args["p"], d=args["d"])


def _size_cases(rng) -> dict[str, Case]:
    cases = {f"basic_{i}": _draw(rng, s=1, d=1) for i in range(4)}
    # (stride, remainder): the +1 inside the floor is right only when the stride divides W+2P-D(K-1).
    for i, (s, rem) in enumerate(((2, 0), (2, 1), (3, 2), (3, 1), (4, 0))):
        cases[f"strided_{i}"] = _draw(rng, s=s, d=1, rem=rem)
    cases["strided_5"] = _draw(rng, s=3, d=1, rem=0, size_one=True)
    for i, (s, d) in enumerate(((1, 2), (1, 3), (2, 2), (3, 4))):
        cases[f"dilated_{i}"] = _draw(rng, s=s, d=d, rem=s - 1, ignored_differs=True)
    for i, (s, numerator) in enumerate(((1, -1), (1, -int(rng.integers(2, 6))), (2, -1), (3, -2),
                                        (2, -int(rng.integers(3, 9))))):
        cases[f"nonpositive_{i}"] = _invalid_size(rng, s=s, numerator=numerator)
    for i, s in enumerate((1, 2)):
        cases[f"fits_{i}"] = _draw(rng, s=s, d=1, min_size=3)
    for which in ("w", "k", "s", "p", "d"):
        cases[f"bad_{which}"] = _invalid_argument(rng, which)
    return cases


def _same_cases(rng) -> dict[str, Case]:
    cases = {f"odd_{i}": Case(k) for i, k in enumerate(rng.choice([1, 3, 5, 7, 9], size=3, replace=False).tolist())}
    cases |= {f"even_{i}": Case(k) for i, k in enumerate(rng.choice([2, 4, 6, 8], size=3, replace=False).tolist())}
    for i, (parity, d) in enumerate((("odd", 2), ("even", 3), ("even", 2), ("odd", 3))):
        # (k = 2, d = 2 would need (1, 1), exactly what k // 2 on both sides gives.)
        k = int(rng.choice([3, 5, 7] if parity == "odd" else [4, 6] if d == 2 else [2, 4, 6]))
        cases[f"dilated_{i}"] = Case(k, d=d)
    return cases


def _describe_size(case: Case) -> str:
    w, k = case.args
    kw = case.kwargs
    return f"conv_output_size({w}, {k}, s={kw['s']}, p={kw['p']}, d={kw['d']})"


def _describe_same(case: Case) -> str:
    return f"same_padding({case.args[0]}, d={case.kwargs.get('d', 1)})"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return (HarvestRequest()
            .cases(SIZE_HOOK, _size_cases(rng), describe=_describe_size)
            .cases(NETWORK_HOOK, {"network": Case()}, describe=lambda case: "layer_sizes")
            .cases("same_padding", _same_cases(rng), describe=_describe_same))


# -- judges -------------------------------------------------------------------------------------
def _reference_size(outcome):
    w, k = outcome.args
    return torch_size(w, k, **outcome.kwargs)


def _one_number(got):
    """(the number, None) or (None, why it is not one number)."""
    if isinstance(got, str):
        return None, "returned None (an invalid layer)" if got == INVALID else "returned text, not a size"
    problem = numeric_problem(got)
    if problem:
        return None, problem
    if got.size != 1:
        return None, "returned several numbers, not one size"
    return float(got.reshape(-1)[0]), None


def _judge_size(got, outcome):
    reference = _reference_size(outcome)
    number, problem = _one_number(got)
    if reference is None:
        if isinstance(got, str) and got == INVALID:
            return None
        if problem:
            return problem
        if number <= 0:
            return "returned a size of zero or less: an invalid layer must return None"
        return "returned a size for a layer that cannot be computed"
    if problem:
        return problem
    if number == reference:
        return None
    w, k = outcome.args
    hints = [hint for hint, variant in VARIANTS.items() if number == variant(w, k, **outcome.kwargs)]
    if len(hints) == 1:
        return f"wrong size: {hints[0]}"
    return "wrong size"


def _judge_fits(got, outcome):
    """A valid layer returns a size (any positive number): it is not reported invalid."""
    number, problem = _one_number(got)
    if problem:
        return problem
    return None if number > 0 else "returned zero or a negative size for a layer that fits"


def _calls(submission, prefix):
    return [o for o in submission.calls(SIZE_HOOK) if o.label.startswith(prefix)]


def network_reference() -> list[str]:
    sizes, size = [], INPUT_SIZE
    for index, (k, s, p, d) in enumerate(LAYERS):
        size = None if size is None else torch_size(size, k, s, p, d, pooling=index in POOLING_LAYERS)
        sizes.append(INVALID if size is None else str(size))
    return sizes


def _judge_network(got, outcome):
    if not isinstance(got, list) or len(got) != len(LAYERS):
        return "layer_sizes must be a list of 9 sizes (None for an invalid layer)"
    reference = network_reference()
    wrong = [i + 1 for i, (a, b) in enumerate(zip(got, reference)) if a != b]
    if not wrong:
        return None
    if any(item.startswith("-") or item == "0" for item in got):
        return "a layer has a size of zero or less: report it as invalid (None), and the layers after it too"
    return f"wrong sizes from layer {wrong[0]} on"


def _judge_same(got, outcome):
    import torch

    problem = numeric_problem(got)
    if problem:
        return problem
    if got.shape != (2,):
        return "same_padding must return a pair (before, after)"
    if not np.all(got == np.round(got)) or np.any(got < 0) or np.any(got > 100):
        return "the paddings must be non-negative integers"
    k, d = outcome.args[0], outcome.kwargs.get("d", 1)
    before, after = (int(v) for v in got)
    rng = np.random.default_rng(k * 10 + d)
    size = d * (k - 1) + 4
    x = torch.tensor(rng.normal(size=(1, 1, size, size + 1)))
    kernel = torch.tensor(rng.normal(size=(1, 1, k, k)))
    with warnings.catch_warnings():  # "padding='same' with even kernel lengths ... may require a copy"
        warnings.simplefilter("ignore", UserWarning)
        reference = torch.nn.functional.conv2d(x, kernel, padding="same", dilation=d)[0, 0].numpy()
    padded = torch.nn.functional.pad(x, (before, after, before, after))
    try:
        mine = torch.nn.functional.conv2d(padded, kernel, dilation=d)[0, 0].numpy()
    except RuntimeError:
        return "with this padding the kernel does not fit"
    if mine.shape != reference.shape:
        if d > 1 and before + after == k - 1:
            return "the output does not keep the input's size: the padding ignores the dilation"
        return "the output does not keep the input's size"
    if compare_arrays(mine, reference) is None:
        return None
    if before == after + 1:
        return "the extra pixel goes after (bottom/right), as in PyTorch and Keras"
    return "padded this way, the convolution does not match PyTorch's padding='same'"


def _same(submission, prefix):
    return [o for o in submission.calls("same_padding") if o.label.startswith(prefix)]


# -- checks -------------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_sizes_stride1(submission):
    """conv_output_size with stride 1 and no dilation matches PyTorch."""
    score(_calls(submission, "basic_"), _judge_size, what="output sizes (stride 1)")


@pytest.mark.points(2)
def test_sizes_strided(submission):
    """conv_output_size with strides 2 to 4 matches PyTorch (the floor and the +1)."""
    score(_calls(submission, "strided_"), _judge_size, what="output sizes with a stride")


@pytest.mark.points(2)
def test_sizes_dilated(submission):
    """conv_output_size with a dilation of 2 to 4 matches PyTorch."""
    score(_calls(submission, "dilated_"), _judge_size, what="output sizes with a dilation")


@pytest.mark.points(1)
def test_nonpositive_size_is_invalid(submission):
    """A layer whose kernel does not fit returns None, a layer that fits returns a size (all cases right)."""
    score(_calls(submission, "nonpositive_"), _judge_size, what="layers that do not fit", all_or_nothing=True)
    score(_calls(submission, "fits_"), _judge_fits, what="layers that fit", all_or_nothing=True)


@pytest.mark.points(1)
def test_invalid_arguments(submission):
    """Meaningless arguments (size, kernel, stride or dilation < 1, padding < 0) return None (all cases right)."""
    score(_calls(submission, "bad_"), _judge_size, what="invalid arguments", all_or_nothing=True)
    score(_calls(submission, "fits_"), _judge_fits, what="layers that fit", all_or_nothing=True)


@pytest.mark.points(2)
def test_network(submission):
    """layer_sizes: the 9-layer network, layer by layer, with its invalid layers as None."""
    score(submission.calls(NETWORK_HOOK), _judge_network, what="the 9-layer network")


@pytest.mark.points(1)
def test_same_padding_odd(submission):
    """same_padding for odd kernels (no dilation) reproduces PyTorch's padding='same'."""
    score(_same(submission, "odd_"), _judge_same, what="same padding, odd kernels")


@pytest.mark.points(1)
def test_same_padding_even(submission):
    """same_padding for even kernels (asymmetric padding) reproduces PyTorch's padding='same'."""
    score(_same(submission, "even_"), _judge_same, what="same padding, even kernels")


@pytest.mark.points(1)
def test_same_padding_dilated(submission):
    """same_padding with a dilation of 2 or 3, odd and even kernels, reproduces PyTorch's padding='same'."""
    score(_same(submission, "dilated_"), _judge_same, what="same padding with a dilation")
