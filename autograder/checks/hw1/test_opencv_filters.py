"""Hidden checks for opencv_filters: apply_filters against cv2.filter2D computed here.

Interior pixels and border pixels are scored separately, so a wrong border mode loses only the
border marks, and swapped Sobel kernels lose only the Sobel marks.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, compare_shapes, score

KERNELS = {
    "box_blur": np.ones((3, 3), np.float32) / 9,
    "edges": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
    "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
    "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
}
SWAPPED = {"sobel_x": "sobel_y", "sobel_y": "sobel_x"}
STRUCTURED = ("constant_image", "vertical_step_image", "horizontal_step_image")
# A constant image has no edges at all, so it cannot tell the kernels apart: interior checks skip it.
DISCRIMINATING = ("noise_image", "smooth_image", "float_image", "vertical_step_image", "horizontal_step_image")


def _images(rng) -> dict[str, Case]:
    h, w = int(rng.integers(24, 40)), int(rng.integers(24, 40))
    noise = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    # A smooth image with texture, closer to a photo than white noise.
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (127 + 60 * np.sin(xx / rng.uniform(2, 5)) * np.cos(yy / rng.uniform(2, 5))
              + rng.normal(0, 10, (h, w))).clip(0, 255).astype(np.uint8)
    lo, hi = sorted(rng.choice(np.arange(10, 250), size=2, replace=False))
    vstep = np.full((h, w), lo, np.uint8)
    vstep[:, int(rng.integers(5, w - 5)):] = hi
    hstep = np.full((h, w), lo, np.uint8)
    hstep[int(rng.integers(5, h - 5)):, :] = hi
    images = {
        "noise_image": noise,
        "smooth_image": smooth,
        "float_image": rng.random((w, h)),  # float64 in [0, 1], transposed size
        "constant_image": np.full((h, w), int(rng.integers(1, 256)), np.uint8),
        "vertical_step_image": vstep,
        "horizontal_step_image": hstep,
    }
    return {name: Case(image) for name, image in images.items()}


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return HarvestRequest().cases("apply_filters", _images(rng))


def reference(image) -> dict[str, np.ndarray]:
    import cv2

    src = np.asarray(image).astype(np.float32)
    return {k: cv2.filter2D(src, cv2.CV_32F, kern, borderType=cv2.BORDER_REFLECT_101) for k, kern in KERNELS.items()}


def _region(img, part):
    if part == "interior":
        return img[1:-1, 1:-1]
    if part == "border":
        return np.concatenate([img[0], img[-1], img[1:-1, 0], img[1:-1, -1]])
    return img


def _close(got, expected):
    return compare_arrays(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(expected).max())))


def _filtered(region: str):
    """A judge of one key of apply_filters' dict on one region of the image."""
    def judge(value, outcome, key):
        if not isinstance(value, dict):
            return "apply_filters must return a dict of images"
        if key not in value:
            return f"the dict has no '{key}' image"
        got, ref = value[key], reference(outcome.args[0])
        problem = compare_shapes(got, ref[key].shape)
        if problem:
            return f"'{key}': {problem}"
        if _close(_region(got, region), _region(ref[key], region)) is None:
            return None
        if key in SWAPPED and _close(_region(got, region), _region(ref[SWAPPED[key]], region)) is None:
            return f"'{key}' responds to changes along the other axis: are x and y swapped?"
        if got.dtype.kind in "iu":
            return f"'{key}' is an image of {got.dtype}: negative responses were lost, use a float result"
        if region == "border" and _close(_region(got, "interior"), _region(ref[key], "interior")) is None:
            return f"'{key}' is right inside but wrong on the border: which border mode does cv2.filter2D use by default?"
        return f"'{key}' has wrong values" + ("" if region == "all" else f" on the {region}")
    return judge


def _on(submission, images):
    return [o for o in submission.calls("apply_filters") if o.label in images]


@pytest.mark.points(1)
def test_returns_four_float_images(submission):
    """apply_filters returns a dict of four float images of the input's size."""
    def judge(value, outcome, key):
        if not isinstance(value, dict):
            return "apply_filters must return a dict of images"
        if set(value) - set(KERNELS):
            return f"the dict has unexpected keys {sorted(set(value) - set(KERNELS))}"
        if key not in value:
            return f"the dict has no '{key}' image"
        problem = compare_shapes(value[key], outcome.args[0].shape)
        if problem:
            return f"'{key}': {problem}"
        if value[key].dtype.kind != "f":
            return f"'{key}' has dtype {value[key].dtype}: negative responses need a float result"
        return None
    score(submission.calls("apply_filters"), judge, parts=list(KERNELS), what="the returned images",
          all_or_nothing=True)


@pytest.mark.points(1)
def test_box_blur(submission):
    """Box blur matches cv2.filter2D away from the border."""
    score(_on(submission, DISCRIMINATING), _filtered("interior"), parts=["box_blur"], what="box blur")


@pytest.mark.points(1)
def test_edges(submission):
    """Edge kernel matches cv2.filter2D away from the border."""
    score(_on(submission, DISCRIMINATING), _filtered("interior"), parts=["edges"], what="edges")


@pytest.mark.points(1)
def test_sobel_x(submission):
    """sobel_x responds to changes along x (columns), away from the border."""
    score(_on(submission, DISCRIMINATING), _filtered("interior"), parts=["sobel_x"], what="sobel_x")


@pytest.mark.points(1)
def test_sobel_y(submission):
    """sobel_y responds to changes along y (rows), away from the border."""
    score(_on(submission, DISCRIMINATING), _filtered("interior"), parts=["sobel_y"], what="sobel_y")


@pytest.mark.points(2)
def test_border_handling(submission):
    """Border pixels use OpenCV's default border (BORDER_REFLECT_101)."""
    score(submission.calls("apply_filters"), _filtered("border"), parts=list(KERNELS), what="border pixels")


@pytest.mark.points(1)
def test_structured_images(submission):
    """A constant image and step edges give the right response everywhere."""
    score(_on(submission, STRUCTURED), _filtered("all"), parts=list(KERNELS), what="constant and step images")
