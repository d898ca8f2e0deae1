"""Example submissions of hw2/pooling: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# Loops over a ceil-rounded output size, each window clipped to the image: padding is handled
# right, but the last, partial window is kept.
CEIL_MODE = '''def pool2d(x, size, stride=None, padding=0, mode="max"):
    x = np.asarray(x, dtype=float)
    stride = stride or size
    h, w = x.shape[-2:]
    out_h = -(-(h + 2 * padding - size) // stride) + 1   # round up: "don't lose the border"
    out_w = -(-(w + 2 * padding - size) // stride) + 1
    reduce = {"max": np.max, "min": np.min, "avg": np.mean}[mode]
    out = np.empty(x.shape[:-2] + (out_h, out_w))
    for i in range(out_h):
        top = i * stride - padding
        for j in range(out_w):
            left = j * stride - padding
            window = x[..., max(top, 0):top + size, max(left, 0):left + size]
            out[..., i, j] = reduce(window, axis=(-2, -1))
    return out'''

# np.pad with its default zeros for every mode: a padded zero wins the max of negative pixels (and
# the min of positive ones) and counts in the average.
ZERO_PADDING = '''def pool2d(x, size, stride=None, padding=0, mode="max"):
    x = np.asarray(x, dtype=float)
    stride = stride or size
    pad = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    x = np.pad(x, pad)
    windows = sliding_window_view(x, (size, size), axis=(-2, -1))[..., ::stride, ::stride, :, :]
    reduce = {"max": np.max, "min": np.min, "avg": np.mean}[mode]
    return reduce(windows, axis=(-2, -1))'''

# Max and min pad with infinities, but the average divides by the whole window (zeros counted):
# PyTorch's count_include_pad=True, the opposite of what the notebook asks.
AVG_COUNTS_PADDING = '''def pool2d(x, size, stride=None, padding=0, mode="max"):
    x = np.asarray(x, dtype=float)
    stride = stride or size
    fill = {"max": -np.inf, "min": np.inf, "avg": 0.0}[mode]
    pad = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    x = np.pad(x, pad, constant_values=fill)
    windows = sliding_window_view(x, (size, size), axis=(-2, -1))[..., ::stride, ::stride, :, :]
    reduce = {"max": np.max, "min": np.min, "avg": np.mean}[mode]
    return reduce(windows, axis=(-2, -1))'''

# Adaptive pooling as ordinary pooling with a window of H // H_out: right only when it divides.
EQUAL_BINS = '''def adaptive_pool2d(x, output_size, mode="avg"):
    x = np.asarray(x, dtype=float)
    out_h, out_w = (output_size, output_size) if np.isscalar(output_size) else output_size
    bin_h, bin_w = x.shape[-2] // out_h, x.shape[-1] // out_w
    reduce = {"max": np.max, "avg": np.mean}[mode]
    out = np.empty(x.shape[:-2] + (out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[..., i, j] = reduce(x[..., i * bin_h:(i + 1) * bin_h, j * bin_w:(j + 1) * bin_w], axis=(-2, -1))
    return out'''

# Correct, written differently: explicit loops, windows clipped to the image (so the padding never
# takes part), integer arithmetic for the floor; global pooling as adaptive pooling to 1x1; the
# adaptive bins with math.floor / math.ceil.
LOOPS = '''def pool2d(x, size, stride=None, padding=0, mode="max"):
    x = np.asarray(x, dtype=float)
    if stride is None:
        stride = size
    h, w = x.shape[-2], x.shape[-1]
    out_h = (h + 2 * padding - size) // stride + 1
    out_w = (w + 2 * padding - size) // stride + 1
    out = np.zeros(x.shape[:-2] + (out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * stride - padding, j * stride - padding
            patch = x[..., max(r0, 0):min(r0 + size, h), max(c0, 0):min(c0 + size, w)]
            if mode == "max":
                out[..., i, j] = patch.max(axis=(-2, -1))
            elif mode == "min":
                out[..., i, j] = patch.min(axis=(-2, -1))
            else:
                out[..., i, j] = patch.mean(axis=(-2, -1))
    return out'''

GLOBAL_AS_ADAPTIVE = '''def global_pool2d(x, mode="avg"):
    return adaptive_pool2d(x, 1, mode)[..., 0, 0]'''

ADAPTIVE_MATH = '''import math

def adaptive_pool2d(x, output_size, mode="avg"):
    x = np.asarray(x, dtype=float)
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    oh, ow = output_size
    H, W = x.shape[-2:]
    f = np.max if mode == "max" else np.mean
    rows = [(math.floor(i * H / oh), math.ceil((i + 1) * H / oh)) for i in range(oh)]
    cols = [(math.floor(j * W / ow), math.ceil((j + 1) * W / ow)) for j in range(ow)]
    return np.stack([np.stack([f(x[..., a:b, c:d], axis=(-2, -1)) for (c, d) in cols], axis=-1)
                     for (a, b) in rows], axis=-2)'''

EXAMPLES = [
    Example("keeps_partial_windows", "the output size is rounded up (ceil mode): the last, partial window "
            "is kept instead of dropped", answers={"pl_pool_solution": CEIL_MODE},
            points={"test_partial_windows": 0}),
    Example("zero_padding", "`np.pad` with zeros for every mode: padded zeros win maxima and minima "
            "and count in averages", answers={"pl_pool_solution": ZERO_PADDING},
            points={"test_padding_max_min": 0, "test_padding_avg_excludes_padding": 0}),
    Example("avg_counts_padding", "max and min padded with infinities, but the average counts the padded "
            "zeros (`count_include_pad=True`)", answers={"pl_pool_solution": AVG_COUNTS_PADDING},
            points={"test_padding_avg_excludes_padding": 0}),
    Example("adaptive_equal_bins", "adaptive pooling with equal bins of `H // H_out` rows (integer "
            "division): wrong when the output size does not divide the input size",
            answers={"pl_adaptive_solution": EQUAL_BINS}, points={"test_adaptive_odd": 0}),
    Example("loops_and_math", "correct, written differently: loops over windows clipped to the image, "
            "global pooling as adaptive pooling to 1x1, bins with `math.floor`/`math.ceil`",
            answers={"pl_pool_solution": LOOPS, "pl_global_solution": GLOBAL_AS_ADAPTIVE,
                     "pl_adaptive_solution": ADAPTIVE_MATH}),
]
