"""Hidden checks for conv_by_hand: cross_correlate2d and convolve2d against a NumPy reference.

The reference is computed here, in the trusted process, with sliding_window_view; the student's
functions only ever see the random inputs, never the expected outputs.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from autograder.checker.api import HarvestRequest, StudentError

NOTEBOOK = "conv_by_hand"
BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}  # NumPy loops on small arrays


def _case(rng, *, stride, padding, square=True, kernel=None, rem=None):
    """Random image/kernel for one call; kernel sizes avoid 1x1 so that flipping always matters.

    rem fixes (n + 2p - k) mod stride along the rows (and columns when square): off-by-one
    mistakes in the output size show only for some remainders, so each case pins one down.
    """
    while True:
        h = int(rng.integers(4, 11))
        w = h if square else int(rng.integers(4, 11))
        kh, kw = kernel or (int(rng.integers(2, 5)),) * 2
        if (not square and h == w) or kh > h + 2 * padding or kw > w + 2 * padding:
            continue
        if rem is not None and (h + 2 * padding - kh) % stride != rem:
            continue
        return rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), stride, padding


def _cases(rng):
    """(image, kernel, stride, padding) per call, covering the cases students get wrong."""
    return {
        "s1_p0": _case(rng, stride=1, padding=0),
        "s1_p1": _case(rng, stride=1, padding=1),
        "s2_p1_odd_span": _case(rng, stride=2, padding=1, rem=1),
        "s2_p0_even_span": _case(rng, stride=2, padding=0, rem=0),
        "s3_p2": _case(rng, stride=3, padding=2, rem=1),
        "rect_s1_p1": _case(rng, stride=1, padding=1, square=False, kernel=(2, 3)),
        "rect_s2_p0": _case(rng, stride=2, padding=0, square=False, kernel=(3, 2), rem=0),
        "rect_s1_p2_even": _case(rng, stride=1, padding=2, square=False, kernel=(4, 2)),
    }


RECT = ("rect_s1_p1", "rect_s2_p0", "rect_s1_p2_even")


def harvest(rng: np.random.Generator) -> HarvestRequest:
    req = HarvestRequest()
    for name, (image, kernel, stride, padding) in _cases(rng).items():
        req.call(f"xcorr_{name}", "cross_correlate2d", image, kernel, stride=stride, padding=padding)
    for name, (image, kernel, stride, padding) in _cases(rng).items():
        req.call(f"conv_{name}", "convolve2d", image, kernel, stride=stride, padding=padding)
    return req


def reference_xcorr(image, kernel, stride, padding):
    padded = np.pad(np.asarray(image, float), padding)
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, np.asarray(kernel, float))


def _describe(args, kwargs):
    image, kernel = args
    return (f"image {image.shape[0]}x{image.shape[1]}, kernel {kernel.shape[0]}x{kernel.shape[1]}, "
            f"stride {kwargs['stride']}, padding {kwargs['padding']}")


def _compare(submission, name, flip=False, values=True):
    """None when call `name` is right, else a short reason (no expected values in it)."""
    args, kwargs = submission.request.call_args(name)
    image, kernel = args
    expected = reference_xcorr(image, kernel[::-1, ::-1] if flip else kernel, **kwargs)
    try:
        out = np.asarray(submission.call(name))
    except StudentError as err:
        return f"{_describe(args, kwargs)}: {err}"
    if out.shape != expected.shape:
        return f"{_describe(args, kwargs)}: output shape {out.shape} is wrong"
    if values and not np.allclose(out.astype(float), expected, rtol=1e-5, atol=1e-6):
        return f"{_describe(args, kwargs)}: wrong values"
    return None


def _score(submission, credit, names, flip=False, values=True, what=""):
    problems = [p for p in (_compare(submission, n, flip, values) for n in names) if p]
    passed = len(names) - len(problems)
    credit(passed, len(names), f"{what}: {passed} of {len(names)} cases right; first problem: {problems[0]}"
           if problems else "")


@pytest.mark.points(2)
def test_output_shapes(submission, credit):
    """cross_correlate2d returns the right output size for any stride and padding."""
    names = [n for n in submission.request.call_names if n.startswith("xcorr_")]
    _score(submission, credit, names, values=False, what="output size")


@pytest.mark.points(4)
def test_cross_correlation_values(submission, credit):
    """cross_correlate2d matches a reference on random images, kernels, strides and paddings."""
    names = [n for n in submission.request.call_names if n.startswith("xcorr_")]
    _score(submission, credit, names, what="cross-correlation (is the kernel flipped by mistake?)")


@pytest.mark.points(3)
def test_convolution_values(submission, credit):
    """convolve2d matches a reference convolution (kernel flipped in both axes)."""
    names = [n for n in submission.request.call_names if n.startswith("conv_")]
    _score(submission, credit, names, flip=True, what="convolution")


@pytest.mark.points(1)
def test_non_square_and_even_kernels(submission):
    """Both functions handle non-square images and kernels, including even kernel sizes."""
    problems = [p for n in RECT for p in (_compare(submission, f"xcorr_{n}"),
                                          _compare(submission, f"conv_{n}", flip=True)) if p]
    assert not problems, f"wrong on a non-square case: {problems[0]}"
