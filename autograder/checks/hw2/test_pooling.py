"""Hidden checks for pooling: pool2d, global_pool2d and adaptive_pool2d against torch.nn.functional.

References are computed here, in the trusted process, on float64 tensors: max_pool2d, avg_pool2d
with count_include_pad=False, -max_pool2d(-x) for the minimum, adaptive_max_pool2d and
adaptive_avg_pool2d (ceil_mode=False everywhere: partial windows are dropped, as the notebook says).
Cases are drawn so that each usual mistake shows: padding cases where zeros would change a max or a
min, sizes where the last window is partial, odd sizes for adaptive pooling.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, numeric_problem, score

BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}  # NumPy on small arrays: well under a second


# -- references ---------------------------------------------------------------------------------
def _tensor(x):
    import torch

    return torch.tensor(np.array(x, dtype=float))


def torch_pool(x, size, stride=None, padding=0, mode="max", ceil_mode=False, count_include_pad=False):
    """PyTorch's pooling of a (H, W) or (C, H, W) array, same layout back."""
    import torch.nn.functional as F

    t = _tensor(x)
    t = t[None] if t.dim() == 2 else t
    stride = size if stride is None else stride
    if mode == "max":
        out = F.max_pool2d(t, size, stride, padding, ceil_mode=ceil_mode)
    elif mode == "min":
        out = -F.max_pool2d(-t, size, stride, padding, ceil_mode=ceil_mode)
    else:
        out = F.avg_pool2d(t, size, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    out = out.numpy()
    return out[0] if np.ndim(x) == 2 else out


def _zero_padded(x, size, stride, padding, mode):
    """The pooling of the input padded with zeros (the mistake)."""
    pad = [(0, 0)] * (np.ndim(x) - 2) + [(padding, padding)] * 2
    return torch_pool(np.pad(x, pad), size, stride, 0, mode)


def torch_global(x, mode):
    import torch.nn.functional as F

    t = _tensor(x)
    t = t[None] if t.dim() == 2 else t
    out = (F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d)(t, 1)[..., 0, 0].numpy()
    return out.reshape(()) if np.ndim(x) == 2 else out


def torch_adaptive(x, output_size, mode):
    import torch.nn.functional as F

    t = _tensor(x)
    t = t[None] if t.dim() == 2 else t
    size = tuple(output_size) if isinstance(output_size, (list, tuple)) else (output_size, output_size)
    out = (F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d)(t, size).numpy()
    return out[0] if np.ndim(x) == 2 else out


def _equal_bins(x, output_size, mode):
    """Adaptive pooling with equal bins of H // H_out rows starting at i * (H // H_out) (the mistake)."""
    oh, ow = (output_size, output_size) if np.ndim(output_size) == 0 else output_size
    h, w = np.shape(x)[-2:]
    bh, bw = h // oh, w // ow
    reduce = np.max if mode == "max" else np.mean
    out = np.empty(np.shape(x)[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[..., i, j] = reduce(np.asarray(x)[..., i * bh:(i + 1) * bh, j * bw:(j + 1) * bw], axis=(-2, -1))
    return out


# -- cases --------------------------------------------------------------------------------------
def _window_case(rng, *, mode, padding=0, partial=False, channels=0):
    """A random input for pool2d; partial: the last window sticks out along at least one axis."""
    while True:
        size = int(rng.integers(2, 5))
        stride = int(rng.integers(1, size + 1)) if rng.random() < 0.6 else size
        if padding > size // 2:
            padding = size // 2
        h, w = int(rng.integers(size, 13)), int(rng.integers(size, 13))
        spans = [(n + 2 * padding - size) % stride for n in (h, w)]
        if partial != any(spans):
            continue
        shape = (channels, h, w) if channels else (h, w)
        x = rng.normal(size=shape)
        if padding and compare_arrays(torch_pool(x, size, stride, padding, mode),
                                      _zero_padded(x, size, stride, padding, mode)) is None:
            continue  # zeros in the padding would not change anything here: draw again
        kwargs = {"stride": stride, "padding": padding, "mode": mode}
        if stride == size and rng.random() < 0.5:
            del kwargs["stride"]  # the default stride
        return Case(x, size, **kwargs)


def _pool_cases(rng) -> dict[str, Case]:
    cases = {}
    for mode in ("max", "avg", "min"):
        for i in range(2):
            cases[f"{mode}_{i}"] = _window_case(rng, mode=mode)
            cases[f"{mode}_padded_{i}"] = _window_case(rng, mode=mode, padding=int(rng.integers(1, 3)))
        cases[f"{mode}_partial"] = _window_case(rng, mode=mode, partial=True)
        cases[f"{mode}_channels"] = _window_case(rng, mode=mode, channels=int(rng.integers(2, 5)))
    return cases


def _global_cases(rng) -> dict[str, Case]:
    cases = {}
    for mode in ("max", "avg"):
        cases[f"{mode}_2d"] = Case(rng.normal(size=tuple(int(n) for n in rng.integers(2, 10, size=2))), mode)
        cases[f"{mode}_3d"] = Case(rng.normal(size=(int(rng.integers(2, 6)),) + tuple(
            int(n) for n in rng.integers(2, 10, size=2))), mode)
    return cases


def _adaptive_cases(rng) -> dict[str, Case]:
    cases = {}
    # Divisible: every bin has H / H_out rows.
    for i, (mode, out, channels, square) in enumerate((("avg", (2, 3), 3, False), ("max", 2, 0, True),
                                                       ("max", (3, 2), 2, False))):
        oh, ow = (out, out) if square else out
        shape = (oh * int(rng.integers(1, 4)), ow * int(rng.integers(1, 4)))
        x = rng.normal(size=((channels,) if channels else ()) + shape)
        cases[f"divisible_{i}"] = Case(x, out if square else list(out), mode=mode)
    # Not divisible: odd sizes, bins of different sizes that overlap.
    for i, (mode, channels, square, overlap) in enumerate((("avg", 2, True, False), ("max", 0, False, False),
                                                           ("avg", 3, False, True), ("max", 2, True, True))):
        while True:
            h = int(rng.choice([5, 7, 9, 11]))
            w = h if square else int(rng.integers(5, 13))
            lowest = (h // 2 + 1, w // 2 + 1) if overlap else (2, 2)  # more than half: bins overlap
            oh, ow = int(rng.integers(lowest[0], h)), int(rng.integers(lowest[1], w))
            ow = oh if square else ow
            if h % oh == 0 or w % ow == 0:
                continue
            x = rng.normal(size=((channels,) if channels else ()) + (h, w))
            out = oh if square else [oh, ow]
            if compare_arrays(_equal_bins(x, out, mode), torch_adaptive(x, out, mode)) is not None:
                break  # equal bins would give other values here, as they nearly always do
        cases[f"odd_{i}"] = Case(x, out, mode=mode)
    return cases


def _describe_pool(case: Case) -> str:
    x, size = case.args
    kw = case.kwargs
    return (f"{kw['mode']} pooling of a {'x'.join(map(str, np.shape(x)))} input, window {size}, "
            f"stride {kw.get('stride', size)}, padding {kw['padding']}")


def _describe_global(case: Case) -> str:
    x, mode = case.args
    return f"global {mode} pooling of a {'x'.join(map(str, np.shape(x)))} input"


def _describe_adaptive(case: Case) -> str:
    x, out = case.args
    return f"adaptive {case.kwargs['mode']} pooling of a {'x'.join(map(str, np.shape(x)))} input to {out}"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return (HarvestRequest()
            .cases("pool2d", _pool_cases(rng), describe=_describe_pool)
            .cases("global_pool2d", _global_cases(rng), describe=_describe_global)
            .cases("adaptive_pool2d", _adaptive_cases(rng), describe=_describe_adaptive))


# -- judges -------------------------------------------------------------------------------------
def _judge_pool(got, outcome):
    x, size = outcome.args
    kw = dict(outcome.kwargs)
    problem = compare_arrays(got, torch_pool(x, size, **kw))
    if problem is None or numeric_problem(got):
        return problem
    stride, padding, mode = kw.get("stride", size), kw["padding"], kw["mode"]
    if padding and mode == "avg" and compare_arrays(got, torch_pool(x, size, stride, padding, "avg",
                                                                    count_include_pad=True)) is None:
        return "wrong values: they match an average that counts the padded zeros"
    if padding and compare_arrays(got, _zero_padded(x, size, stride, padding, mode)) is None:
        return "wrong values: they match an input padded with zeros (a padded cell must never win)"
    if got.shape == torch_pool(x, size, stride, padding, mode, ceil_mode=True).shape:
        return "the output keeps the last, partial window: windows that stick out past the padded input are dropped"
    return problem


def _judge_global(got, outcome):
    x, mode = outcome.args
    reference = torch_global(x, mode)
    if reference.ndim == 0 and isinstance(got, np.ndarray) and got.size == 1:
        got = got.reshape(())
    return compare_arrays(got, reference)


def _judge_adaptive(got, outcome):
    x, out = outcome.args
    mode = outcome.kwargs["mode"]
    problem = compare_arrays(got, torch_adaptive(x, out, mode))
    if problem == "wrong values" and compare_arrays(got, _equal_bins(x, out, mode)) is None:
        return "wrong values: they match bins of equal size H // H_out, which miss the last rows or columns"
    return problem


def _calls(submission, function, prefix):
    return [o for o in submission.calls(function) if o.label.startswith(prefix)]


def _unpadded(submission, mode):
    return [o for o in _calls(submission, "pool2d", f"{mode}_") if o.label in (f"{mode}_0", f"{mode}_1")]


# -- checks -------------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_max_pool(submission):
    """pool2d max pooling matches PyTorch's max_pool2d (no padding, windows that fit)."""
    score(_unpadded(submission, "max"), _judge_pool, what="max pooling")


@pytest.mark.points(1)
def test_avg_pool(submission):
    """pool2d average pooling matches PyTorch's avg_pool2d (no padding, windows that fit)."""
    score(_unpadded(submission, "avg"), _judge_pool, what="average pooling")


@pytest.mark.points(1)
def test_min_pool(submission):
    """pool2d min pooling matches -max_pool2d(-x) (no padding, windows that fit)."""
    score(_unpadded(submission, "min"), _judge_pool, what="min pooling")


@pytest.mark.points(1)
def test_padding_max_min(submission):
    """With padding, max and min pooling ignore the padded cells."""
    cases = _calls(submission, "pool2d", "max_padded_") + _calls(submission, "pool2d", "min_padded_")
    score(cases, _judge_pool, what="max and min pooling with padding")


@pytest.mark.points(1)
def test_padding_avg_excludes_padding(submission):
    """With padding, average pooling counts only the real pixels (count_include_pad=False)."""
    score(_calls(submission, "pool2d", "avg_padded_"), _judge_pool, what="average pooling with padding")


@pytest.mark.points(2)
def test_partial_windows(submission):
    """A last window that sticks out past the padded input is dropped (ceil_mode=False), for every mode."""
    cases = [o for o in submission.calls("pool2d") if o.label.endswith("_partial")]
    score(cases, _judge_pool, what="inputs whose last window is partial")


@pytest.mark.points(1)
def test_channels(submission):
    """pool2d pools each channel of a (C, H, W) input on its own, for every mode."""
    cases = [o for o in submission.calls("pool2d") if o.label.endswith("_channels")]
    score(cases, _judge_pool, what="(C, H, W) inputs")


@pytest.mark.points(1)
def test_global(submission):
    """global_pool2d (max and average) on (H, W) and (C, H, W) inputs."""
    score(submission.calls("global_pool2d"), _judge_global, what="global pooling")


@pytest.mark.points(1)
def test_adaptive_divisible(submission):
    """adaptive_pool2d when the output size divides the input size (max and average)."""
    score(_calls(submission, "adaptive_pool2d", "divisible_"), _judge_adaptive, what="adaptive pooling")


@pytest.mark.points(2)
def test_adaptive_odd(submission):
    """adaptive_pool2d on odd sizes the output size does not divide (bins of different sizes)."""
    score(_calls(submission, "adaptive_pool2d", "odd_"), _judge_adaptive, what="adaptive pooling, odd sizes")
