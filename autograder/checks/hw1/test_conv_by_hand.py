"""Hidden checks for conv_by_hand: cross_correlate2d and convolve2d against a NumPy reference.

The reference is computed here, in the trusted process, with sliding_window_view; the student's
functions only ever see the random inputs, never the expected outputs.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from autograder.checker.api import Case, HarvestRequest, compare_arrays, compare_shapes, score

# Cases where the image or the kernel is not square, or the kernel is even.
RECTANGULAR = ("rect_s1_p1", "rect_s2_p0", "rect_s1_p2_even")


def _case(rng, *, stride, padding, square=True, kernel=None, rem=None) -> Case:
    """Random image/kernel for one call; kernel sizes avoid 1x1 so that flipping always matters.

    rem fixes (n + 2p - k) mod stride along the rows: off-by-one mistakes in the output size show
    only for some remainders, so each case pins one down.
    """
    while True:
        h = int(rng.integers(4, 11))
        w = h if square else int(rng.integers(4, 11))
        kh, kw = kernel or (int(rng.integers(2, 5)),) * 2
        if (not square and h == w) or kh > h + 2 * padding or kw > w + 2 * padding:
            continue
        if rem is not None and (h + 2 * padding - kh) % stride != rem:
            continue
        return Case(rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), stride=stride, padding=padding)


def _cases(rng) -> dict[str, Case]:
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


def _describe(case: Case) -> str:
    image, kernel = case.args
    return (f"image {image.shape[0]}x{image.shape[1]}, kernel {kernel.shape[0]}x{kernel.shape[1]}, "
            f"stride {case.kwargs['stride']}, padding {case.kwargs['padding']}")


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return (HarvestRequest()
            .cases("cross_correlate2d", _cases(rng), describe=_describe)
            .cases("convolve2d", _cases(rng), describe=_describe))


def reference_xcorr(image, kernel, stride, padding):
    padded = np.pad(np.asarray(image, float), padding)
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, np.asarray(kernel, float))


def _reference(outcome, flip: bool):
    image, kernel = outcome.args
    return reference_xcorr(image, kernel[::-1, ::-1] if flip else kernel, **outcome.kwargs)


def _matches(flip: bool):
    """A judge: the output equals the reference; names the flipped kernel only when that is what it computed."""
    def judge(got, outcome):
        problem = compare_arrays(got, _reference(outcome, flip))
        if problem == "wrong values" and compare_arrays(got, _reference(outcome, not flip)) is None:
            return "wrong values: it matches the kernel rotated by 180 degrees (flipped when it should not be, or not flipped)"
        return problem
    return judge


def _right_shape(got, outcome):
    return compare_shapes(got, _reference(outcome, False).shape)


@pytest.mark.points(2)
def test_output_shapes(submission):
    """cross_correlate2d returns the right output size for any stride and padding."""
    score(submission.calls("cross_correlate2d"), _right_shape, what="output size")


@pytest.mark.points(4)
def test_cross_correlation_values(submission):
    """cross_correlate2d matches a reference on random images, kernels, strides and paddings."""
    score(submission.calls("cross_correlate2d"), _matches(flip=False), what="cross-correlation")


@pytest.mark.points(3)
def test_convolution_values(submission):
    """convolve2d matches a reference convolution (kernel flipped in both axes)."""
    score(submission.calls("convolve2d"), _matches(flip=True), what="convolution")


@pytest.mark.points(1)
def test_non_square_and_even_kernels(submission):
    """Both functions handle non-square images and kernels, including even kernel sizes."""
    xcorr = [o for o in submission.calls("cross_correlate2d") if o.label in RECTANGULAR]
    conv = [o for o in submission.calls("convolve2d") if o.label in RECTANGULAR]
    score(xcorr, _matches(flip=False), what="non-square cross-correlation", all_or_nothing=True)
    score(conv, _matches(flip=True), what="non-square convolution", all_or_nothing=True)
