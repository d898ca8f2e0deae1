"""Hidden checks for opencv_filters: apply_filters against cv2.filter2D computed here.

Interior pixels and border pixels are scored separately, so a wrong border mode loses only the
border marks, and swapped Sobel kernels lose only the Sobel marks.
"""
import numpy as np
import pytest

from autograder.checker.api import HarvestRequest, StudentError

NOTEBOOK = "opencv_filters"
BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}
KEYS = ("box_blur", "edges", "sobel_y", "sobel_x")
KERNELS = {
    "box_blur": np.ones((3, 3), np.float32) / 9,
    "edges": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
    "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
    "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
}
STRUCTURED = ("constant", "vertical_step", "horizontal_step")
# A constant image has no edges at all, so it cannot tell the kernels apart: interior checks skip it.
DISCRIMINATING = ("noise", "smooth", "float_unit", "vertical_step", "horizontal_step")


def _images(rng):
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
    return {
        "noise": noise,
        "smooth": smooth,
        "float_unit": rng.random((w, h)),  # float64 in [0, 1], transposed size
        "constant": np.full((h, w), int(rng.integers(1, 256)), np.uint8),
        "vertical_step": vstep,
        "horizontal_step": hstep,
    }


def harvest(rng: np.random.Generator) -> HarvestRequest:
    req = HarvestRequest()
    for name, image in _images(rng).items():
        req.call(name, "apply_filters", image)
    return req


def reference(image):
    import cv2

    src = np.asarray(image).astype(np.float32)
    return {k: cv2.filter2D(src, cv2.CV_32F, kern, borderType=cv2.BORDER_REFLECT_101) for k, kern in KERNELS.items()}


def _outputs(submission, name):
    """(input image, student dict, reference dict); raises StudentError with a readable reason."""
    (image,), _ = submission.request.call_args(name)
    out = submission.call(name)
    if not isinstance(out, dict):
        raise StudentError("apply_filters must return a dict of images")
    return image, out, reference(image)


def _close(a, b):
    scale = max(1.0, float(np.abs(b).max()))
    return np.allclose(np.asarray(a, dtype=np.float64), b, rtol=1e-4, atol=1e-4 * scale)


def _region(img, part):
    img = np.asarray(img)
    if part == "interior":
        return img[1:-1, 1:-1]
    if part == "border":
        return np.concatenate([img[0], img[-1], img[1:-1, 0], img[1:-1, -1]])
    return img


def _score(submission, credit, keys, part, images=None, what=""):
    names = images or submission.request.call_names
    total, problems = 0, []
    for name in names:
        try:
            image, out, ref = _outputs(submission, name)
        except StudentError as err:
            total += len(keys)
            problems.append(str(err))
            continue
        for key in keys:
            total += 1
            got = out.get(key)
            if got is None or np.shape(got) != image.shape:
                problems.append(f"'{key}' is missing or has the wrong shape")
            elif not _close(_region(got, part), _region(ref[key], part)):
                where = " for" if part == "all" else f" on the {part} of"
                problems.append(f"'{key}' is wrong{where} the {name.replace('_', ' ')} image")
    credit(total - len(problems), total, f"{what}: {total - len(problems)} of {total} right; e.g. {problems[0]}"
           if problems else "")


@pytest.mark.points(1)
def test_returns_four_float_images(submission):
    """apply_filters returns a dict of four float images of the input's size."""
    for name in submission.request.call_names:
        image, out, _ = _outputs(submission, name)
        assert set(out) == set(KEYS), f"the dict's keys are {sorted(out)}"
        for key in KEYS:
            got = np.asarray(out[key])
            assert got.shape == image.shape, f"'{key}' has shape {got.shape} for a {image.shape} input"
            assert got.dtype.kind == "f", f"'{key}' has dtype {got.dtype}: negative responses need a float result"


@pytest.mark.points(1)
def test_box_blur(submission, credit):
    """Box blur matches cv2.filter2D away from the border."""
    _score(submission, credit, ["box_blur"], "interior", images=list(DISCRIMINATING),
           what="box blur")


@pytest.mark.points(1)
def test_edges(submission, credit):
    """Edge kernel matches cv2.filter2D away from the border."""
    _score(submission, credit, ["edges"], "interior", images=list(DISCRIMINATING),
           what="edges")


@pytest.mark.points(1)
def test_sobel_x(submission, credit):
    """sobel_x responds to changes along x (columns), away from the border."""
    _score(submission, credit, ["sobel_x"], "interior", images=list(DISCRIMINATING),
           what="sobel_x (are x and y swapped?)")


@pytest.mark.points(1)
def test_sobel_y(submission, credit):
    """sobel_y responds to changes along y (rows), away from the border."""
    _score(submission, credit, ["sobel_y"], "interior", images=list(DISCRIMINATING),
           what="sobel_y (are x and y swapped?)")


@pytest.mark.points(2)
def test_border_handling(submission, credit):
    """Border pixels use OpenCV's default border (BORDER_REFLECT_101)."""
    _score(submission, credit, list(KEYS), "border", what="border pixels (which border mode?)")


@pytest.mark.points(1)
def test_structured_images(submission, credit):
    """A constant image and step edges give the right response everywhere."""
    _score(submission, credit, list(KEYS), "all", images=list(STRUCTURED), what="constant and step images")
