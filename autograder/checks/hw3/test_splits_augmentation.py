"""Hidden checks for splits_augmentation: a stratified split, crop/flip augmentation and three noises.

Everything the student's functions draw is random, so nothing is compared with a fixed reference:

* the split is judged by what it must be (three index arrays that partition 0..n-1, every
  (label, group) cell shared out within one example of its exact share, the same split for the same
  seed and another for another seed);
* a crop must be a window of the input padded with zeros (found here by matching every window),
  a flip an exact left-right mirror, and over hundreds of draws the offsets and flips must follow
  their distributions;
* a noise is judged by its statistics: mean and variance of the added (Gaussian) or relative
  (speckle) noise, the fraction of pixels replaced and the share of salt, the fraction of clipped
  pixels, each against the exact distribution with a tolerance of 6 standard errors (plus a few
  counts for integer counts), so that a right answer fails with probability about 1e-8 per comparison.

The notebook's locked hooks build `np.random.default_rng(seed)` from the seed the grader chooses and
return dicts of arrays (the three parts of a split have different lengths).
"""
from math import erf, sqrt

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from autograder.checker.api import Case, HarvestRequest, numeric_problem, score

DATASETS = ("cifar10",)  # the notebook's demonstration cells use the public CIFAR-10 test half
SIGMAS = 6.0             # statistical tolerance, in standard errors
TOL = 1e-6               # pixel values may come back as float32
FRACTIONS = ([0.7, 0.15, 0.15], [0.6, 0.2, 0.2], [0.8, 0.1, 0.1], [0.5, 0.25, 0.25])
PARTS = ("train", "val", "test")
SPLIT, CROP, FLIP, AUGMENT = "split_for_grading", "crop_for_grading", "flip_for_grading", "augment_for_grading"
GAUSSIAN, SALT_PEPPER, SPECKLE = "gaussian_for_grading", "salt_and_pepper_for_grading", "speckle_for_grading"
SEEDED = ("seed_a", "seed_a_again", "seed_b")


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _phi(z: float) -> float:
    return 0.5 * (1.0 + erf(z / sqrt(2.0)))


# -- the split ------------------------------------------------------------------------------------
def _rounding_breaks(n: int, fractions) -> bool:
    """Whether rounding each part of a cell of n on its own loses or duplicates an example."""
    return sum(int(np.round(f * n)) for f in fractions) != n


def _split_case(rng, *, n_labels, n_groups, sizes, fractions, strings=False, seed=None) -> Case:
    """Labels (non-consecutive integers) x groups, every cell of a random size, in a random order.

    The sizes always include cells where rounding the three parts separately does not add up (as
    real data have), and the groups' proportions differ from label to label.
    """
    while True:
        label_values = rng.choice(np.arange(100), size=n_labels, replace=False)
        group_values = (["day", "night", "dusk"][:n_groups] if strings
                        else [int(g) for g in rng.choice(np.arange(10, 90), size=n_groups, replace=False)])
        counts = rng.integers(sizes[0], sizes[1] + 1, size=(n_labels, n_groups))
        if any(_rounding_breaks(int(n), fractions) for n in counts.ravel()):
            break
    labels = np.repeat(np.repeat(label_values, n_groups), counts.ravel())
    groups = np.repeat(np.tile(np.arange(n_groups), n_labels), counts.ravel())
    order = rng.permutation(len(labels))
    labels, groups = labels[order], groups[order]
    groups = [group_values[g] for g in groups] if strings else np.asarray(group_values)[groups]
    return Case(labels, groups, list(fractions), _seed(rng) if seed is None else seed)


def _split_cases(rng) -> dict[str, Case]:
    cases = {
        "large_0": _split_case(rng, n_labels=8, n_groups=2, sizes=(30, 120), fractions=FRACTIONS[0]),
        "large_1": _split_case(rng, n_labels=6, n_groups=3, sizes=(30, 120), fractions=FRACTIONS[1],
                               strings=True),
        "large_2": _split_case(rng, n_labels=7, n_groups=2, sizes=(40, 120), fractions=FRACTIONS[2]),
        "large_3": _split_case(rng, n_labels=6, n_groups=2, sizes=(40, 120), fractions=FRACTIONS[3]),
        "tiny": _split_case(rng, n_labels=3, n_groups=2, sizes=(1, 5), fractions=FRACTIONS[0]),
    }
    base = _split_case(rng, n_labels=6, n_groups=2, sizes=(30, 100), fractions=FRACTIONS[0])
    seed_a, seed_b = rng.choice(np.arange(1, 10_000), size=2, replace=False)
    labels, groups, fractions, _ = base.args
    for label, seed in zip(SEEDED, (seed_a, seed_a, seed_b)):
        cases[label] = Case(labels, groups, fractions, int(seed))
    return cases


LARGE = ("large_0", "large_1", "large_2", "large_3") + SEEDED


def _describe_split(case: Case) -> str:
    labels, groups, fractions, seed = case.args
    return (f"{len(labels)} examples, {len(np.unique(labels))} labels x {len(np.unique(np.asarray(groups)))} "
            f"groups, fractions {tuple(fractions)}, seed {seed}")


# -- crops, flips and augment ----------------------------------------------------------------------
def _images(rng, n, shape):
    """Random images in (0.01, 1): no pixel is 0, so the zero padding is recognisable."""
    return rng.uniform(0.01, 1.0, size=(n,) + tuple(shape))


def _augmentation_cases(rng):
    crops = {
        "offsets": Case(_images(rng, 400, (10, 10, 3)), 10, 4, _seed(rng)),
        "small_padding": Case(_images(rng, 400, (12, 12, 1)), 8, 2, _seed(rng)),
        "pair_size": Case(_images(rng, 60, (10, 13, 3)), [7, 9], 4, _seed(rng)),
    }
    flips = {
        "colour": Case(_images(rng, 400, (6, 8, 3)), _seed(rng)),
        "one_channel": Case(_images(rng, 400, (7, 5, 1)), _seed(rng)),
    }
    augments = {
        "square": Case(_images(rng, 200, (16, 16, 3)), rng.integers(0, 10, size=200), _seed(rng)),
        "non_square": Case(_images(rng, 200, (10, 14, 3)), rng.integers(0, 100, size=200), _seed(rng)),
    }
    seed_a, seed_b = (int(s) for s in rng.choice(np.arange(1, 10_000), size=2, replace=False))
    seeds = dict(zip(SEEDED, (seed_a, seed_a, seed_b)))
    crop_images, flip_images = _images(rng, 30, (10, 10, 3)), _images(rng, 40, (6, 8, 3))
    aug_images, aug_labels = _images(rng, 30, (8, 8, 3)), rng.integers(0, 10, size=30)
    for label, seed in seeds.items():
        crops[label] = Case(crop_images, 10, 4, seed)
        flips[label] = Case(flip_images, seed)
        augments[label] = Case(aug_images, aug_labels, seed)
    return crops, flips, augments


def _describe_crop(case: Case) -> str:
    images, size, padding, seed = case.args
    return (f"{len(images)} crops of size {size} of {images.shape[1]}x{images.shape[2]} images, "
            f"padding {padding}, seed {seed}")


def _describe_flip(case: Case) -> str:
    images, seed = case.args
    return f"{len(images)} flips of {images.shape[1]}x{images.shape[2]}x{images.shape[3]} images, seed {seed}"


def _describe_augment(case: Case) -> str:
    images, _, seed = case.args
    return f"augment on a batch of shape {images.shape}, seed {seed}"


# -- noise -----------------------------------------------------------------------------------------
def _sign(rng):
    return float(rng.choice([-1.0, 1.0]))


def _share(rng):
    """A salt share far enough from 1/2 that swapping salt and pepper shows."""
    return float(rng.uniform(0.1, 0.35) if rng.random() < 0.5 else rng.uniform(0.65, 0.9))


def _noise_cases(rng):
    gaussian = {
        # Mid-grey images and a small std: clipping never happens (8 standard deviations away).
        "stats_grey": Case(rng.uniform(0.35, 0.65, (150, 150)), _sign(rng) * float(rng.uniform(0.01, 0.03)),
                           float(rng.uniform(0.01, 0.04)), _seed(rng)),
        "stats_colour": Case(rng.uniform(0.35, 0.65, (80, 90, 3)), _sign(rng) * float(rng.uniform(0.01, 0.03)),
                             float(rng.uniform(0.01, 0.04)), _seed(rng)),
        # The whole range and a large std: many pixels are clipped.
        "clip_grey": Case(rng.uniform(0.02, 0.98, (100, 100)), float(rng.uniform(-0.1, 0.1)),
                          float(rng.uniform(0.15, 0.3)), _seed(rng)),
        "clip_colour": Case(rng.uniform(0.02, 0.98, (60, 60, 3)), float(rng.uniform(-0.1, 0.1)),
                            float(rng.uniform(0.15, 0.3)), _seed(rng)),
    }
    # Pixels in [0.05, 0.95]: a replaced pixel always changes. Amounts of 5 to 30 % of the pixels.
    salt_pepper = {label: Case(rng.uniform(0.05, 0.95, shape), float(rng.uniform(0.05, 0.3)), _share(rng), _seed(rng))
                   for label, shape in (("grey_0", (200, 200)), ("grey_1", (150, 230)),
                                        ("colour_0", (120, 120, 3)), ("colour_1", (100, 130, 3)))}
    speckle = {
        # x in [0.1, 0.6] and std <= 0.08: x (1 + n) stays in (0, 1) (8 standard deviations).
        "stats_grey": Case(rng.uniform(0.1, 0.6, (150, 150)), float(rng.uniform(0.03, 0.08)), _seed(rng)),
        "stats_colour": Case(rng.uniform(0.1, 0.6, (80, 90, 3)), float(rng.uniform(0.03, 0.08)), _seed(rng)),
        "clip_grey": Case(rng.uniform(0.3, 0.98, (100, 100)), float(rng.uniform(0.3, 0.5)), _seed(rng)),
        "clip_colour": Case(rng.uniform(0.3, 0.98, (60, 60, 3)), float(rng.uniform(0.3, 0.5)), _seed(rng)),
    }
    seed_a, seed_b = (int(s) for s in rng.choice(np.arange(1, 10_000), size=2, replace=False))
    image = rng.uniform(0.05, 0.95, (20, 20, 3))
    for label, seed in zip(SEEDED, (seed_a, seed_a, seed_b)):
        gaussian[label] = Case(image, 0.0, 0.1, seed)
        salt_pepper[label] = Case(image, 0.2, 0.5, seed)
        speckle[label] = Case(image, 0.2, seed)
    return gaussian, salt_pepper, speckle


def _describe_noise(case: Case) -> str:
    image, *params, seed = case.args
    return f"an image of shape {image.shape}, parameters {tuple(round(p, 4) for p in params)}, seed {seed}"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    crops, flips, augments = _augmentation_cases(rng)
    gaussian, salt_pepper, speckle = _noise_cases(rng)
    return (HarvestRequest()
            .cases(SPLIT, _split_cases(rng), describe=_describe_split)
            .cases(CROP, crops, describe=_describe_crop)
            .cases(FLIP, flips, describe=_describe_flip)
            .cases(AUGMENT, augments, describe=_describe_augment)
            .cases(GAUSSIAN, gaussian, describe=_describe_noise)
            .cases(SALT_PEPPER, salt_pepper, describe=_describe_noise)
            .cases(SPECKLE, speckle, describe=_describe_noise))


# -- helpers for the judges ------------------------------------------------------------------------
def _calls(submission, function, labels=None):
    return [o for o in submission.calls(function) if labels is None or o.label in labels]


def _key(value, key, function):
    """value[key] as a finite numeric array, or (None, a reason)."""
    if not isinstance(value, dict) or key not in value:
        return None, f"{function} did not return what the notebook's hook expects"
    problem = numeric_problem(value[key])
    return (None, problem) if problem else (value[key], None)


def _indices(value, n):
    """The three parts as integer arrays, or (None, a reason)."""
    parts = []
    for part in PARTS:
        got, problem = _key(value, part, "stratified_split")
        if problem:
            return None, f"the {part} part: {problem}"
        if got.ndim != 1:
            return None, f"the {part} part is not a 1-D array of indices"
        if got.dtype.kind == "b":
            return None, f"the {part} part is a boolean mask, not an array of indices"
        if got.dtype.kind == "f" and not np.all(got == np.round(got)):
            return None, f"the {part} part holds numbers that are not whole indices"
        got = got.astype(np.int64)
        if got.size and (got.min() < 0 or got.max() >= n):
            return None, f"the {part} part holds indices outside 0..n-1"
        parts.append(got)
    return parts, None


def _cell_counts(parts, keys):
    """{key: [count in train, val, test]} for each value of `keys` (an array over the examples)."""
    unique, inverse = np.unique(keys, return_inverse=True)
    counts = np.stack([np.bincount(inverse[p], minlength=len(unique)) for p in parts], axis=1)
    totals = np.bincount(inverse, minlength=len(unique))
    return counts, totals


def _cells(outcome):
    labels, groups = np.asarray(outcome.args[0]), np.asarray(outcome.args[1])
    _, label_ids = np.unique(labels, return_inverse=True)
    _, group_ids = np.unique(groups, return_inverse=True)
    return label_ids, label_ids * (group_ids.max() + 1) + group_ids


def _off_by(counts, totals, fractions):
    return np.abs(counts - np.outer(totals, fractions))


# -- judges: the split -----------------------------------------------------------------------------
def _judge_partition(value, outcome):
    n = len(outcome.args[0])
    parts, problem = _indices(value, n)
    if problem:
        return problem
    every = np.concatenate(parts)
    if len(np.unique(every)) < len(every):
        return "some examples are in two parts (or twice in one): the parts must be disjoint"
    if len(every) < n:
        return "some examples are in no part: train, val and test together must hold every example once"
    return None


def _judge_cells(value, outcome):
    labels, _, fractions, _ = outcome.args
    parts, problem = _indices(value, len(labels))
    if problem:
        return problem
    label_ids, cell_ids = _cells(outcome)
    counts, totals = _cell_counts(parts, cell_ids)
    if np.all(_off_by(counts, totals, fractions) <= 1 + 1e-9):
        return None
    label_counts, label_totals = _cell_counts(parts, label_ids)
    if np.all(_off_by(label_counts, label_totals, fractions) <= 1 + 1e-9):
        return ("the labels are in proportion in each part, but not the groups within a label: "
                "split every (label, group) cell on its own")
    return "some (label, group) cell is not shared out in proportion: a part is off by more than one example"


def _judge_labels(value, outcome):
    labels, groups, fractions, _ = outcome.args
    parts, problem = _indices(value, len(labels))
    if problem:
        return problem
    label_ids, cell_ids = _cells(outcome)
    counts, totals = _cell_counts(parts, label_ids)
    # A label made of G cells, each within one example of its share, is within G of its own share.
    groups_per_label = np.array([len(np.unique(cell_ids[label_ids == k])) for k in range(len(totals))])
    if np.all(_off_by(counts, totals, fractions) <= groups_per_label[:, None] + 1e-9):
        return None
    return "the labels are not in proportion in the three parts"


def _judge_split_seeds(submission):
    outcomes = {o.label: o for o in _calls(submission, SPLIT, SEEDED)}
    if any(not outcomes[s].ok for s in SEEDED):
        return "stratified_split failed on some seeded calls"
    values = [outcomes[s].value for s in SEEDED]
    n = len(outcomes["seed_a"].args[0])
    parsed = [_indices(v, n) for v in values]
    if any(problem for _, problem in parsed):
        return next(problem for _, problem in parsed if problem)
    a, again, b = (p for p, _ in parsed)
    if not all(np.array_equal(x, y) for x, y in zip(a, again)):
        return "two calls with the same seed gave different splits: build the generator from the seed"
    if all(len(x) == len(y) and np.array_equal(np.sort(x), np.sort(y)) for x, y in zip(a, b)):
        return "two different seeds gave the same split: the seed must choose the shuffle"
    return None


# -- judges: crops and flips -----------------------------------------------------------------------
def _find_window(padded, out):
    """(top, left) of the window of `padded` equal to `out`, or None."""
    h, w = out.shape[:2]
    if h > padded.shape[0] or w > padded.shape[1]:
        return None
    windows = sliding_window_view(padded, out.shape)  # (P, Q, 1, h, w, C)
    windows = windows.reshape(windows.shape[0], windows.shape[1], *out.shape)
    diff = np.abs(windows - out).reshape(windows.shape[0], windows.shape[1], -1).max(axis=2)
    where = np.argwhere(diff <= TOL)
    return tuple(int(v) for v in where[0]) if len(where) else None


def _pad(image, padding):
    return np.pad(image, ((padding, padding), (padding, padding), (0, 0)))


def _crops(value, outcome):
    """The offsets (top, left) of every crop, or (None, a reason)."""
    images, size, padding, _ = outcome.args
    h, w = (size, size) if np.ndim(size) == 0 else tuple(size)
    got = value
    problem = numeric_problem(got)
    if problem:
        return None, problem
    if got.shape != (len(images), h, w, images.shape[3]):
        return None, "a crop does not have the requested size (height, width, channels)"
    offsets = []
    for image, crop in zip(images, got.astype(np.float64)):
        where = _find_window(_pad(image, padding), crop)
        if where is None:
            return None, "a crop is not a window of the image padded with zeros"
        offsets.append(where)
    return np.array(offsets), None


def _judge_crop_windows(value, outcome):
    return _crops(value, outcome)[1]


def _judge_crop_offsets(value, outcome):
    images, size, padding, _ = outcome.args
    offsets, problem = _crops(value, outcome)
    if problem:
        return problem
    h, w = (size, size) if np.ndim(size) == 0 else tuple(size)
    n = len(offsets)
    for axis, span in enumerate((images.shape[1] + 2 * padding - h, images.shape[2] + 2 * padding - w)):
        seen = np.bincount(offsets[:, axis], minlength=span + 1)
        if np.any(seen == 0):
            return ("some crop positions never occur: every window of the padded image, from the "
                    "top-left corner to the bottom-right one, must be possible")
        sd = sqrt(((span + 1) ** 2 - 1) / 12 / n)
        if abs(offsets[:, axis].mean() - span / 2) > SIGMAS * sd:
            return "the crop positions are not uniform: some windows come up far too often"
    if images.shape[1] == images.shape[2] and h == w:
        p = 1 / (images.shape[1] + 2 * padding - h + 1)
        same = int(np.sum(offsets[:, 0] == offsets[:, 1]))
        if abs(same - n * p) > SIGMAS * sqrt(n * p * (1 - p)) + 1:
            return "the row and column of a crop are not drawn independently"
    return None


def _flips(value, outcome):
    """For each image: flipped or not, or (None, a reason)."""
    images = outcome.args[0]
    problem = numeric_problem(value)
    if problem:
        return None, problem
    if value.shape != images.shape:
        return None, "random_flip changed the shape of the image"
    flipped = []
    for image, out in zip(images, value.astype(np.float64)):
        if np.allclose(out, image, rtol=0, atol=TOL):
            flipped.append(False)
        elif np.allclose(out, image[:, ::-1], rtol=0, atol=TOL):
            flipped.append(True)
        else:
            return None, "an output is neither the image nor its left-right mirror (flip the width axis)"
    return np.array(flipped), None


def _judge_flip_mirror(value, outcome):
    return _flips(value, outcome)[1]


def _half(count, n, what):
    if abs(count - n / 2) > SIGMAS * sqrt(n / 4) + 1:
        return f"{what}: each image should be flipped with probability 1/2"
    return None


def _judge_flip_half(value, outcome):
    images = outcome.args[0]
    problem = numeric_problem(value)
    if problem:
        return problem
    if value.shape != images.shape:
        return "random_flip changed the shape of the image"
    changed = [not np.allclose(out, image, rtol=0, atol=TOL) for image, out in zip(images, value.astype(np.float64))]
    return _half(int(np.sum(changed)), len(images), "far from half of the images were flipped")


def _augmented(value, outcome):
    """(offsets, flipped) of every image of the batch, or (None, a reason)."""
    images = outcome.args[0]
    got, problem = _key(value, "images", "augment")
    if problem:
        return None, problem
    if got.shape != images.shape:
        return None, "augment must return a batch of the shape it was given"
    offsets, flipped = [], []
    for image, out in zip(images, got.astype(np.float64)):
        padded = _pad(image, 4)
        where = _find_window(padded, out)
        mirrored = None if where is not None else _find_window(padded, out[:, ::-1])
        if where is None and mirrored is None:
            return None, ("an augmented image is not a crop of its own image padded with 4 zeros, "
                          "mirrored or not (is the batch still in its order?)")
        offsets.append(where or mirrored)
        flipped.append(where is None)
    return (np.array(offsets), np.array(flipped)), None


def _judge_augment_images(value, outcome):
    return _augmented(value, outcome)[1]


def _judge_augment_random(value, outcome):
    found, problem = _augmented(value, outcome)
    if problem:
        return problem
    offsets, flipped = found
    if len({tuple(o) for o in offsets}) == 1:
        return "every image of the batch was cropped at the same place: each image needs its own random crop"
    return _half(int(flipped.sum()), len(flipped), "far from half of the batch was flipped")


def _judge_augment_labels(value, outcome):
    labels = outcome.args[1]
    images, problem = _key(value, "images", "augment")          # nothing to judge without a batch
    if problem:
        return problem
    if images.shape != outcome.args[0].shape:
        return "augment must return a batch of the shape it was given"
    got, problem = _key(value, "labels", "augment")
    if problem:
        return problem
    if got.shape != labels.shape or not np.array_equal(got, labels):
        return "augment must return the labels it was given, unchanged and in the same order"
    return None


def _judge_seeds(submission, function, valid, key=None, *, differ=True):
    """None when the outputs are valid (the judge `valid` accepts them) and the same seed gives the
    same output (and, with `differ`, another seed another one)."""
    outcomes = {o.label: o for o in _calls(submission, function, SEEDED)}
    if any(not outcomes[s].ok for s in SEEDED):
        return "a seeded call failed"
    problem = next((p for p in (valid(outcomes[s].value, outcomes[s]) for s in SEEDED) if p), None)
    if problem:
        return problem
    values = [outcomes[s].value for s in SEEDED]
    if key:
        values = [v.get(key) if isinstance(v, dict) else v for v in values]
    if any(numeric_problem(v) for v in values):
        return next(numeric_problem(v) for v in values if numeric_problem(v))
    a, again, b = values
    if a.shape != again.shape or not np.array_equal(a, again):
        return "two calls with the same seed gave different results: draw every random number from rng"
    if differ and a.shape == b.shape and np.array_equal(a, b):
        return "two different seeds gave the same result"
    return None


# -- judges: noise ---------------------------------------------------------------------------------
def _noisy(value, outcome, function):
    out, problem = _key(value, "out", function)
    if problem:
        return None, problem
    if out.shape != outcome.args[0].shape:
        return None, "the noisy image does not have the shape of the image"
    return out.astype(np.float64), None


def _mean_var(sample, mean, std, what):
    """None when the sample's mean and variance are those of N(mean, std^2)."""
    n = sample.size
    if abs(sample.mean() - mean) > SIGMAS * std / sqrt(n):
        return f"the {what} does not have the right mean"
    if abs(sample.var() - std ** 2) > SIGMAS * std ** 2 * sqrt(2 / (n - 1)):
        return f"the {what} does not have the right standard deviation"
    return None


def _clipped(out, p_low, p_high):
    """None when the image is in [0, 1] and as many pixels sit at 0 and at 1 as clipping gives."""
    if out.min() < -TOL or out.max() > 1 + TOL:
        return "the noisy image has values outside [0, 1]: clip it"
    for at, p in ((out <= TOL, p_low), (out >= 1 - TOL, p_high)):
        sd = sqrt(float(np.sum(p * (1 - p))))
        # + 5: when only a few pixels are expected (a Poisson-like count), the normal tail is too thin.
        if abs(int(at.sum()) - float(p.sum())) > SIGMAS * sd + 5:
            return ("the number of pixels at 0 or at 1 is not what clipping the noisy values gives "
                    "(clip, do not rescale)")
    return None


def _judge_gaussian_stats(value, outcome):
    out, problem = _noisy(value, outcome, "gaussian_noise")
    if problem:
        return problem
    image, mean, std, _ = outcome.args
    return _mean_var(out - image, mean, std, "added noise")


def _judge_gaussian_clip(value, outcome):
    out, problem = _noisy(value, outcome, "gaussian_noise")
    if problem:
        return problem
    image, mean, std, _ = outcome.args
    phi = np.vectorize(_phi)
    return _clipped(out, phi((0 - image - mean) / std), 1 - phi((1 - image - mean) / std))


def _judge_speckle_stats(value, outcome):
    out, problem = _noisy(value, outcome, "speckle_noise")
    if problem:
        return problem
    image, std, _ = outcome.args
    return _mean_var((out - image) / image, 0.0, std, "relative noise (noisy - image) / image")


def _judge_speckle_clip(value, outcome):
    out, problem = _noisy(value, outcome, "speckle_noise")
    if problem:
        return problem
    image, std, _ = outcome.args
    phi = np.vectorize(_phi)
    # x (1 + n) <= 0 when n <= -1; >= 1 when n >= 1 / x - 1.
    return _clipped(out, np.full(image.shape, _phi(-1 / std)), 1 - phi((1 / image - 1) / std))


def _replaced(value, outcome):
    """(mask of replaced pixels, mask of salt among them), or (None, a reason)."""
    out, problem = _noisy(value, outcome, "salt_and_pepper")
    if problem:
        return None, problem
    image = outcome.args[0]
    changed = np.abs(out - image) > TOL
    salt, pepper = np.abs(out - 1) <= TOL, np.abs(out) <= TOL
    if np.any(changed & ~(salt | pepper)):
        return None, "a replaced value is neither 0 (pepper) nor 1 (salt)"
    if image.ndim == 3:
        if np.any(changed.any(axis=2) != changed.all(axis=2)):
            return None, ("only some channels of a pixel were replaced: a pixel turns white or black "
                          "as a whole")
        if np.any(changed.all(axis=2) & ~(salt.all(axis=2) | pepper.all(axis=2))):
            return None, "a replaced pixel is neither white nor black in all its channels"
        changed, salt = changed.all(axis=2), salt.all(axis=2)
    return (changed, salt & changed), None


def _fraction(count, n, p, what):
    if abs(count - n * p) > SIGMAS * sqrt(n * p * (1 - p)) + 1:
        return what
    return None


def _judge_sp_amount(value, outcome):
    found, problem = _replaced(value, outcome)
    if problem:
        return problem
    changed, _ = found
    return _fraction(int(changed.sum()), changed.size, outcome.args[1],
                     "the fraction of replaced pixels is not `amount`")


def _judge_sp_share(value, outcome):
    found, problem = _replaced(value, outcome)
    if problem:
        return problem
    changed, salt = found
    if not changed.any():
        return "no pixel was replaced"
    return _fraction(int(salt.sum()), int(changed.sum()), outcome.args[2],
                     "the share of salt (white) among the replaced pixels is not `salt_vs_pepper`")


def _judge_unchanged_input(value, outcome):
    _, problem = _noisy(value, outcome, "the noise function")   # nothing to judge without a noisy image
    if problem:
        return problem
    after, problem = _key(value, "image_after", "the noise function")
    if problem:
        return problem
    if after.shape != outcome.args[0].shape or not np.array_equal(after, outcome.args[0]):
        return "the function changed the image it was given: work on a copy"
    return None


# -- checks: the split ---------------------------------------------------------------------------
@pytest.mark.points(2)
def test_split_partition(submission):
    """stratified_split returns three disjoint index arrays that together hold every example once."""
    score(_calls(submission, SPLIT), _judge_partition, what="split into train, val and test")


@pytest.mark.points(2)
def test_split_cells(submission):
    """Every (label, group) cell is shared out within one example of its fractions."""
    score(_calls(submission, SPLIT, LARGE), _judge_cells, what="proportions of the (label, group) cells")


@pytest.mark.points(1)
def test_split_labels(submission):
    """Every label is in proportion in the three parts (small cells included)."""
    score(_calls(submission, SPLIT), _judge_labels, what="proportions of the labels")


@pytest.mark.points(1)
def test_split_seeded(submission):
    """The same seed gives the same split, another seed another split."""
    problem = _judge_split_seeds(submission)
    assert problem is None, f"stratified_split with a seed: {problem}"


# -- checks: augmentation -------------------------------------------------------------------------
@pytest.mark.points(2)
def test_crop_windows(submission):
    """random_crop returns a window of the requested size of the image padded with zeros."""
    score(_calls(submission, CROP), _judge_crop_windows, what="random crops")


@pytest.mark.points(1)
def test_crop_offsets(submission):
    """Over hundreds of crops, every window of the padded image occurs, uniformly (rows and columns independent)."""
    score(_calls(submission, CROP, ("offsets", "small_padding")), _judge_crop_offsets,
          what="positions of the random crops")


@pytest.mark.points(1)
def test_flip_mirror(submission):
    """random_flip returns the image or its exact left-right mirror."""
    score(_calls(submission, FLIP), _judge_flip_mirror, what="random flips")


@pytest.mark.points(1)
def test_flip_half(submission):
    """random_flip flips about half of the images (6 standard deviations of a fair coin)."""
    score(_calls(submission, FLIP, ("colour", "one_channel")), _judge_flip_half, what="how often images are flipped")


@pytest.mark.points(1)
def test_augment_images(submission):
    """augment returns, for every image of the batch in its order, a crop of its zero-padded self, mirrored or not."""
    score(_calls(submission, AUGMENT), _judge_augment_images, what="augmented batches")


@pytest.mark.points(1)
def test_augment_random(submission):
    """augment draws a crop and a flip for every image: crops move, about half the batch is flipped."""
    score(_calls(submission, AUGMENT, ("square", "non_square")), _judge_augment_random,
          what="randomness of augment over a batch")


@pytest.mark.points(1)
def test_augment_labels(submission):
    """augment returns the labels unchanged, in the same order."""
    score(_calls(submission, AUGMENT), _judge_augment_labels, what="labels returned by augment")


@pytest.mark.points(1)
def test_augmentation_seeded(submission):
    """random_crop, random_flip and augment give the same result for the same seed."""
    # Whether other seeds give other results is what the statistical checks above measure.
    judged = [(name, _judge_seeds(submission, function, valid, key, differ=False))
              for name, function, valid, key in (("random_crop", CROP, _judge_crop_windows, None),
                                                 ("random_flip", FLIP, _judge_flip_mirror, None),
                                                 ("augment", AUGMENT, _judge_augment_images, "images"))]
    problems = [f"{name}: {problem}" for name, problem in judged if problem]
    assert not problems, "with a seed, " + "; ".join(problems)


# -- checks: noise --------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_gaussian_stats(submission):
    """gaussian_noise adds noise of the given mean and standard deviation to every value."""
    score(_calls(submission, GAUSSIAN, ("stats_grey", "stats_colour")), _judge_gaussian_stats,
          what="Gaussian noise")


@pytest.mark.points(1)
def test_gaussian_clip(submission):
    """gaussian_noise clips the result to [0, 1]."""
    score(_calls(submission, GAUSSIAN, ("clip_grey", "clip_colour")), _judge_gaussian_clip,
          what="Gaussian noise near 0 and 1")


@pytest.mark.points(1)
def test_sp_amount(submission):
    """salt_and_pepper replaces a fraction `amount` of the pixels of a grey image by 0 or 1, and keeps the rest."""
    score(_calls(submission, SALT_PEPPER, ("grey_0", "grey_1")), _judge_sp_amount,
          what="salt and pepper on grey images")


@pytest.mark.points(1)
def test_sp_salt_share(submission):
    """A share `salt_vs_pepper` of the replaced pixels is salt (1), the rest pepper (0)."""
    score(_calls(submission, SALT_PEPPER, ("grey_0", "grey_1")), _judge_sp_share,
          what="salt and pepper on grey images")


@pytest.mark.points(1)
def test_sp_colour(submission):
    """On a colour image a replaced pixel turns white or black as a whole, a fraction `amount` of the pixels."""
    score(_calls(submission, SALT_PEPPER, ("colour_0", "colour_1")), _judge_sp_amount,
          what="salt and pepper on colour images")


@pytest.mark.points(2)
def test_speckle_stats(submission):
    """speckle_noise multiplies: (noisy - image) / image has mean 0 and the given standard deviation."""
    score(_calls(submission, SPECKLE, ("stats_grey", "stats_colour")), _judge_speckle_stats,
          what="speckle noise")


@pytest.mark.points(1)
def test_speckle_clip(submission):
    """speckle_noise clips the result to [0, 1]."""
    score(_calls(submission, SPECKLE, ("clip_grey", "clip_colour")), _judge_speckle_clip,
          what="speckle noise near 0 and 1")


@pytest.mark.points(1)
def test_noise_seeded(submission):
    """The three noises give the same image for the same seed, another for another seed."""
    judged = [(name, _judge_seeds(submission, function, lambda v, o, f=name: _noisy(v, o, f)[1], "out"))
              for name, function in (("gaussian_noise", GAUSSIAN), ("salt_and_pepper", SALT_PEPPER),
                                     ("speckle_noise", SPECKLE))]
    problems = [f"{name}: {problem}" for name, problem in judged if problem]
    assert not problems, "with a seed, " + "; ".join(problems)


@pytest.mark.points(1)
def test_noise_keeps_input(submission):
    """The three noises leave the image they are given unchanged."""
    outcomes = (_calls(submission, GAUSSIAN) + _calls(submission, SALT_PEPPER) + _calls(submission, SPECKLE))
    score(outcomes, _judge_unchanged_input, what="images given to the noise functions", all_or_nothing=True)
