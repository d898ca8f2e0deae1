"""Example submissions of hw3/splits_augmentation: realistic answers and what they earn (autograder/examples.py)."""
from autograder.examples import Example

# -- the split ----------------------------------------------------------------------------------
# Stratified on the label only (the usual `stratify=y`): the classes are in proportion, but within a
# class day and night are shared out at random.
LABEL_ONLY = '''def stratified_split(labels, groups, fractions=(0.7, 0.15, 0.15), seed=0):
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_train = int(round(fractions[0] * len(idx)))
        n_val = int(round((fractions[0] + fractions[1]) * len(idx))) - n_train
        train += list(idx[:n_train])
        val += list(idx[n_train:n_train + n_val])
        test += list(idx[n_train + n_val:])
    return np.array(train, dtype=int), np.array(val, dtype=int), np.array(test, dtype=int)'''

# Every (label, group) cell, but each part rounded on its own and the test set taken from the end:
# when the three rounded counts add up to more than the cell an example is in val and test, when
# they add up to less one is in no part.
ROUNDING = '''def stratified_split(labels, groups, fractions=(0.7, 0.15, 0.15), seed=0):
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for label in np.unique(labels):
        for group in np.unique(groups):
            idx = rng.permutation(np.where((labels == label) & (groups == group))[0])
            n = len(idx)
            n_train = round(fractions[0] * n)
            n_val = round(fractions[1] * n)
            n_test = round(fractions[2] * n)
            train.extend(idx[:n_train])
            val.extend(idx[n_train:n_train + n_val])
            test.extend(idx[n - n_test:])
    return np.array(train, dtype=int), np.array(val, dtype=int), np.array(test, dtype=int)'''

# Right cells, but the shuffle comes from NumPy's global generator, never seeded: every call
# gives another split, whatever the seed.
SEED_IGNORED = '''def stratified_split(labels, groups, fractions=(0.7, 0.15, 0.15), seed=0):
    labels, groups = np.asarray(labels), np.asarray(groups)
    train, val, test = [], [], []
    for key in set(zip(labels.tolist(), groups.tolist())):
        idx = np.flatnonzero((labels == key[0]) & (groups == key[1]))
        np.random.shuffle(idx)
        a = int(round(fractions[0] * len(idx)))
        b = int(round((fractions[0] + fractions[1]) * len(idx)))
        train.append(idx[:a]); val.append(idx[a:b]); test.append(idx[b:])
    return np.concatenate(train), np.concatenate(val), np.concatenate(test)'''

# -- crops and flips ------------------------------------------------------------------------------
# A random window of the image itself, no padding: with size == H the "crop" is always the image.
CROP_NO_PADDING = '''def random_crop(image, size, padding=4, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    h, w = (size, size) if np.isscalar(size) else size
    top = rng.integers(0, image.shape[0] - h + 1)
    left = rng.integers(0, image.shape[1] - w + 1)
    return image[top:top + h, left:left + w]'''

# Padding right, but `rng.integers(0, high)` excludes high: the last row and column of windows
# (the crop shifted fully to the bottom or the right) never come up.
CROP_OFF_BY_ONE = '''def random_crop(image, size, padding=4, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    h, w = (size, size) if np.isscalar(size) else size
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    top = rng.integers(0, padded.shape[0] - h)
    left = rng.integers(0, padded.shape[1] - w)
    return padded[top:top + h, left:left + w]'''

# The coin is forgotten: every image is mirrored.
FLIP_ALWAYS = '''def random_flip(image, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return np.flip(image, axis=1)'''

# Vectorised over the batch, but with one crop position and one coin for the whole batch.
BATCH_WIDE = '''def augment(images, labels, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    images = np.asarray(images)
    n, h, w, c = images.shape
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    top, left = rng.integers(0, 9, size=2)
    out = padded[:, top:top + h, left:left + w]
    if rng.random() < 0.5:
        out = out[:, :, ::-1]
    return out.copy(), labels'''

# -- noise --------------------------------------------------------------------------------------
# Clipping forgotten.
GAUSSIAN_NO_CLIP = '''def gaussian_noise(image, mean=0.0, std=0.1, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return image + rng.normal(mean, std, image.shape)'''

# scikit-image's way: one draw per value, so on a colour image each channel is replaced on its own
# (coloured dots, and about 3 times `amount` of the pixels touched).
SP_PER_CHANNEL = '''def salt_and_pepper(image, amount=0.05, salt_vs_pepper=0.5, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    out = np.copy(image).astype(float)
    u = rng.random(out.shape)
    out[u < amount * salt_vs_pepper] = 1.0
    out[(u >= amount * salt_vs_pepper) & (u < amount)] = 0.0
    return out'''

# Exactly round(amount * H * W) pixels, whole pixels, but salt_vs_pepper read as the share of pepper.
SP_INVERTED = '''def salt_and_pepper(image, amount=0.05, salt_vs_pepper=0.5, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    noisy = np.array(image, dtype=float)
    h, w = noisy.shape[:2]
    n = int(round(amount * h * w))
    rows, cols = np.unravel_index(rng.choice(h * w, size=n, replace=False), (h, w))
    n_pepper = int(round(salt_vs_pepper * n))
    noisy[rows[:n_pepper], cols[:n_pepper]] = 0.0
    noisy[rows[n_pepper:], cols[n_pepper:]] = 1.0
    return noisy'''

# Right noise, but written into the image it was given (`noisy = image` is not a copy).
SP_IN_PLACE = '''def salt_and_pepper(image, amount=0.05, salt_vs_pepper=0.5, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    noisy = image
    hit = rng.random(noisy.shape[:2]) < amount
    white = rng.random(noisy.shape[:2]) < salt_vs_pepper
    noisy[hit & white] = 1.0
    noisy[hit & ~white] = 0.0
    return noisy'''

# Additive instead of multiplicative: image + n.
SPECKLE_ADDITIVE = '''def speckle_noise(image, std=0.1, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    image = np.asarray(image, dtype=float)
    return np.clip(image + rng.normal(0.0, std, image.shape), 0, 1)'''

# -- correct, written differently ----------------------------------------------------------------
# Cells in a dict of lists; counts by the largest-remainder method (floors, then the leftover
# examples to the largest fractional parts).
SPLIT_LARGEST_REMAINDER = '''def stratified_split(labels, groups, fractions=(0.7, 0.15, 0.15), seed=0):
    rng = np.random.default_rng(seed)
    cells = {}
    for i, key in enumerate(zip(np.asarray(labels).tolist(), np.asarray(groups).tolist())):
        cells.setdefault(key, []).append(i)
    out = [[], [], []]
    for key in sorted(cells):
        members = rng.permutation(cells[key])
        exact = np.array(fractions, dtype=float) * len(members)
        counts = np.floor(exact).astype(int)
        leftover = len(members) - counts.sum()
        counts[np.argsort(counts - exact)[:leftover]] += 1
        start = 0
        for k in range(3):
            out[k].extend(members[start:start + counts[k]].tolist())
            start += counts[k]
    return tuple(np.array(sorted(part), dtype=np.int64) for part in out)'''

CROP_CANVAS = '''def random_crop(image, size, padding=4, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    if isinstance(size, int):
        size = (size, size)
    H, W = image.shape[:2]
    canvas = np.zeros((H + 2 * padding, W + 2 * padding) + image.shape[2:], dtype=image.dtype)
    canvas[padding:padding + H, padding:padding + W] = image
    i = int(rng.integers(H + 2 * padding - size[0] + 1))
    j = int(rng.integers(W + 2 * padding - size[1] + 1))
    return canvas[i:i + size[0], j:j + size[1]]'''

FLIP_FLIPLR = '''def random_flip(image, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return np.fliplr(image) if rng.integers(2) == 1 else image'''

AUGMENT_COMPREHENSION = '''def augment(images, labels, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    cropped = [random_crop(img, (img.shape[0], img.shape[1]), 4, rng) for img in images]
    return np.array([random_flip(img, rng) for img in cropped]), np.array(labels)'''

GAUSSIAN_STANDARD = '''def gaussian_noise(image, mean=0.0, std=0.1, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    noisy = image + mean + std * rng.standard_normal(np.shape(image))
    return np.minimum(np.maximum(noisy, 0.0), 1.0)'''

SP_EXACT_COUNT = '''def salt_and_pepper(image, amount=0.05, salt_vs_pepper=0.5, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    img = np.array(image, dtype=np.float64)
    flat = img.reshape(img.shape[0] * img.shape[1], -1)   # one row per pixel
    chosen = rng.choice(len(flat), size=int(round(amount * len(flat))), replace=False)
    is_salt = rng.random(len(chosen)) < salt_vs_pepper
    flat[chosen[is_salt]] = 1.0
    flat[chosen[~is_salt]] = 0.0
    return flat.reshape(img.shape)'''

SPECKLE_FACTOR = '''def speckle_noise(image, std=0.1, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    factor = 1.0 + rng.normal(loc=0.0, scale=std, size=np.shape(image))
    return np.clip(np.asarray(image, dtype=np.float64) * factor, 0.0, 1.0)'''

EXAMPLES = [
    Example("differently_written", "nothing: largest-remainder counts in a dict of cells, a zero canvas for "
            "the padding, `np.fliplr`, list comprehensions, exactly round(amount HW) pixels, x (1 + n)",
            answers={"sa_split_solution": SPLIT_LARGEST_REMAINDER, "sa_crop_solution": CROP_CANVAS,
                     "sa_flip_solution": FLIP_FLIPLR, "sa_augment_solution": AUGMENT_COMPREHENSION,
                     "sa_gaussian_solution": GAUSSIAN_STANDARD, "sa_salt_pepper_solution": SP_EXACT_COUNT,
                     "sa_speckle_solution": SPECKLE_FACTOR}),
    Example("label_only_split", "the split is stratified on the label only: day and night are not kept in "
            "proportion within a class", answers={"sa_split_solution": LABEL_ONLY},
            points={"test_split_cells": 0}),
    Example("rounding_each_part", "each part of a cell rounded on its own, test taken from the end: examples "
            "in two parts or in none", answers={"sa_split_solution": ROUNDING},
            points={"test_split_partition": 0}),
    Example("split_seed_ignored", "the shuffle uses NumPy's global generator, never seeded: the seed changes "
            "nothing and the same seed gives another split", answers={"sa_split_solution": SEED_IGNORED},
            points={"test_split_seeded": 0}),
    Example("crop_without_padding", "the crop is a window of the unpadded image: with size == H it never "
            "moves", answers={"sa_crop_solution": CROP_NO_PADDING},
            points={"test_crop_offsets": 0, "test_augment_random": 0}),
    Example("crop_high_excluded", "`rng.integers(0, H + 2p - h)` excludes its high end: the crop never "
            "reaches the bottom or right border", answers={"sa_crop_solution": CROP_OFF_BY_ONE},
            points={"test_crop_offsets": 0}),
    Example("flip_every_image", "random_flip always mirrors the image (no coin)",
            answers={"sa_flip_solution": FLIP_ALWAYS}, points={"test_flip_half": 0, "test_augment_random": 0}),
    Example("one_draw_per_batch", "augment vectorised with one crop position and one flip for the whole "
            "batch", answers={"sa_augment_solution": BATCH_WIDE}, points={"test_augment_random": 0}),
    Example("gaussian_not_clipped", "Gaussian noise added but not clipped to [0, 1]",
            answers={"sa_gaussian_solution": GAUSSIAN_NO_CLIP}, points={"test_gaussian_clip": 0}),
    Example("salt_pepper_per_channel", "salt and pepper drawn per value, as scikit-image does: on colour "
            "images channels are replaced one by one", answers={"sa_salt_pepper_solution": SP_PER_CHANNEL},
            points={"test_sp_colour": 0}),
    Example("salt_pepper_inverted", "`salt_vs_pepper` read as the share of pepper",
            answers={"sa_salt_pepper_solution": SP_INVERTED}, points={"test_sp_salt_share": 0}),
    Example("salt_pepper_in_place", "salt and pepper written into the image it is given (`noisy = image`)",
            answers={"sa_salt_pepper_solution": SP_IN_PLACE}, points={"test_noise_keeps_input": 0}),
    Example("speckle_additive", "speckle computed as image + n (additive) instead of image + image n",
            answers={"sa_speckle_solution": SPECKLE_ADDITIVE},
            points={"test_speckle_stats": 0, "test_speckle_clip": 0}),
]
