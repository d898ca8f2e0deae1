"""Hidden checks for inception: the Inception module, its parameter count, a network of modules in
four variants, and the trained variant A on held-out CIFAR-10.

What is judged, and on what:

* the module, through the notebook's locked helper `block_for_grading`, built with settings drawn
  here (four different branch widths, an input width that differs from `pool_proj`, with and without
  the 1x1 reductions) and run on probe images drawn here: backgrounds constant over space (0, -4 and
  +4 on every channel, and three random levels per channel), each plain, plus impulses of random
  values at four pixels far apart (two scales), and minus them; and one random image. Each output
  channel's response to an impulse (the output minus that of its plain background) tells its
  branch without knowing the weights:

      1x1    responds at the impulse's pixel only
      3x3    within one pixel of it, with different values
      5x5    up to two pixels away
      pool   the same value over the whole 3x3 neighbourhood (a stride-1 3x3 max-pooling spreads the
             pixel there, and the 1x1 convolution after it does not mix positions)

  A max-pooling can only raise a window's value, and a ReLU that is off for every probe hides a
  response, so one background is not enough: on a zero background alone, 1 module in 5 of
  PyTorch's default initialisation had a silent pooling channel, and 1 in 1,000 a 3x3 channel that
  answered at the centre only (read as 1x1). With the six backgrounds and two scales, none of
  3,000 modules was misread (CALIBRATION.md); a channel that stays silent counts as any branch.
  From the kinds, in channel order: the width of each branch, and the order of the concatenation.
* the module's parameter count (same helper) and `inception_parameters`, against the formula
  sum over convolutions of (k*k*C_in + 1)*C_out, with and without reductions.
* `build_network`, through `network_for_grading`, for a small network drawn here in the four
  variants: its parameter count against the formula, its logits' shape, and the size of its first
  convolution's output (the stem's stride).
* `model`, rebuilt from its export: variant A of the setup cell's network for the grading profile
  (its parameter count and its stem's stride), and its accuracy on the held-out half of the CIFAR-10
  test set, which the sandbox never sees, against thresholds.json (CALIBRATION.md: how measured).
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, assert_parameter_count, compare_arrays, \
    compare_shapes, numeric_problem, score

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full
# data: four variants, 30 epochs on 50,000 images, a GPU's work).
BUDGET = {"cell_timeout_s": 3600, "notebook_timeout_s": 7200}
# The reference trains in PyTorch with channels-last tensors; a correct loop without them takes
# about twice as long on a CPU, and Keras' fit about twice as long too, plus TensorFlow's import
# (CALIBRATION.md); on shared cores more: 8x, not 4x.
TIME_MULTIPLE = 8
DATASETS = ("cifar10",)

# The notebook's setup cell: standardisation, and the network of each data profile.
MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
NETWORKS = {
    "mirror": (32, ["pool", (16, 16, 24, 4, 8, 8), (24, 24, 32, 8, 16, 16)]),
    "full": (64, [(32, 48, 64, 8, 16, 16), (64, 64, 96, 16, 48, 32), "pool",
                  (96, 48, 104, 8, 24, 32), (128, 80, 160, 16, 48, 48)]),
}
MODEL_STEM_STRIDE = 2            # `model` is variant A: reductions, stem stride 2
IMAGE_SIZE = 32

BRANCHES = ("1x1", "3x3", "5x5", "pool")
BRANCH_NAMES = {"1x1": "branch 1 (1x1)", "3x3": "branch 2 (3x3)", "5x5": "branch 3 (5x5)",
                "pool": "branch 4 (pooling)"}
REACH = 2                        # the widest branch (5x5) sees 2 pixels on each side
LEVEL = 4.0                      # the backgrounds: 0, -4 and +4 on every channel, and random levels
RANDOM_LEVELS = 3
IMPULSE_SCALES = (4.0, 12.0)     # one impulse image (and its negation) per scale and background
RELATIVE_TOLERANCE = 1e-4        # a response is a change above this share of the channel's largest
BLOCK_CASES = (True, True, True, False, False)   # `reduce` of each module case
FORMULA_CASES = (True, False, True, False, True, False)
VARIANTS = ((True, 2), (True, 1), (False, 2), (False, 1))


# -- the formulas ------------------------------------------------------------------------------------
def _conv(k: int, c_in: int, c_out: int) -> int:
    return (k * k * c_in + 1) * c_out


def module_parameters(c_in, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, reduce=True, biases=True) -> int:
    conv = _conv if biases else (lambda k, a, b: k * k * a * b)
    if reduce:
        branch3 = conv(1, c_in, f3_reduce) + conv(3, f3_reduce, f3)
        branch5 = conv(1, c_in, f5_reduce) + conv(5, f5_reduce, f5)
    else:
        branch3, branch5 = conv(3, c_in, f3), conv(5, c_in, f5)
    return conv(1, c_in, f1) + branch3 + branch5 + conv(1, c_in, pool_proj)


def network_parameters(stem_filters: int, blocks, reduce: bool) -> int:
    total, channels = _conv(3, 3, stem_filters), stem_filters
    for item in blocks:
        if item != "pool":
            total += module_parameters(channels, *item, reduce=reduce)
            channels = item[0] + item[2] + item[4] + item[5]
    return total + (channels + 1) * 10


# -- inputs ------------------------------------------------------------------------------------------
def impulse_centres(h: int, w: int) -> list[tuple[int, int]]:
    """Four pixels whose 5x5 neighbourhoods are disjoint and inside the image (h, w >= 12)."""
    return [(3, 3), (3, w - 4), (h - 4, 3), (h - 4, w - 4)]


def probe_images(rng, h: int, w: int, c: int) -> np.ndarray:
    """Per background (an image constant over space: 0, -LEVEL or +LEVEL on every channel, or a random
    level per channel): the plain background, then for each scale the background plus impulses of
    random values at the centres, and the background minus them; last, one random image. NHWC float32."""
    levels = [np.zeros(c), np.full(c, -LEVEL), np.full(c, LEVEL)]
    levels += [rng.normal(size=c) * LEVEL for _ in range(RANDOM_LEVELS)]
    images = []
    for level in levels:
        background = np.broadcast_to(level, (h, w, c))
        images.append(background)
        for scale in IMPULSE_SCALES:
            impulses = np.zeros((h, w, c))
            for i, j in impulse_centres(h, w):
                impulses[i, j] = rng.normal(size=c) * scale
            images += [background + impulses, background - impulses]
    images.append(rng.normal(size=(h, w, c)))
    return np.stack(images).astype(np.float32)


def _block_case(rng, reduce: bool) -> Case:
    f1, f3, f5, pool_proj = (int(v) for v in rng.choice(np.arange(2, 10), size=4, replace=False))
    c_in = int(rng.choice([c for c in range(3, 10) if c != pool_proj]))   # a pool without 1x1 shows
    f3_reduce, f5_reduce = (int(v) for v in rng.integers(3, 7, size=2))
    h, w = (int(v) for v in rng.integers(12, 18, size=2))
    return Case(probe_images(rng, h, w, c_in), f1, f3_reduce, f3, f5_reduce, f5, pool_proj, reduce=reduce)


def _formula_case(rng, reduce: bool) -> Case:
    c_in = int(rng.integers(1, 513))
    f1, f3, f5, pool_proj = (int(v) for v in rng.integers(1, 257, size=4))
    f3_reduce, f5_reduce = (int(v) for v in rng.integers(1, 129, size=2))
    return Case(c_in, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, reduce=reduce)


def _network_config(rng) -> tuple[int, list]:
    def module():
        f1, f3, f5, pool_proj = (int(v) for v in rng.integers(2, 9, size=4))
        return [f1, int(rng.integers(2, 7)), f3, int(rng.integers(2, 5)), f5, pool_proj]

    blocks = [module(), module()]
    blocks.insert(int(rng.integers(0, 2)), "pool")      # pooled before the first module or between
    return int(rng.integers(4, 13)), blocks


def _describe_block(case: Case) -> str:
    images, *settings = case.args
    return (f"the module for {images.shape[-1]} input channels with settings {tuple(settings)}, "
            f"reduce={case.kwargs['reduce']}, on {images.shape[1]}x{images.shape[2]} images")


def _describe_formula(case: Case) -> str:
    return f"inception_parameters{case.args} with reduce={case.kwargs['reduce']}"


def _describe_network(case: Case) -> str:
    return f"the network with reduce={case.args[2]} and stem_stride={case.args[3]}"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    blocks = {f"case_{i}": _block_case(rng, reduce) for i, reduce in enumerate(BLOCK_CASES)}
    formulas = {f"case_{i}": _formula_case(rng, reduce) for i, reduce in enumerate(FORMULA_CASES)}
    stem_filters, config = _network_config(rng)
    images = rng.normal(size=(2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    networks = {f"reduce_{int(reduce)}_stride_{stride}": Case(stem_filters, config, reduce, stride, images)
                for reduce, stride in VARIANTS}
    return (HarvestRequest()
            .cases("block_for_grading", blocks, describe=_describe_block)
            .cases("inception_parameters", formulas, describe=_describe_formula)
            .cases("network_for_grading", networks, describe=_describe_network)
            .model("inception", variable="model", torch_example_shape=(1, 3, IMAGE_SIZE, IMAGE_SIZE)))


# -- reading the module's channels ----------------------------------------------------------------------
def responses(output: np.ndarray) -> np.ndarray:
    """Each impulse image's output minus its plain background's: (backgrounds * 2 * scales, H, W, C)."""
    per_level = 1 + 2 * len(IMPULSE_SCALES)
    levels = (len(output) - 1) // per_level
    return np.concatenate([output[g * per_level + 1:(g + 1) * per_level] - output[g * per_level:g * per_level + 1]
                           for g in range(levels)]).astype(np.float64)


def channel_kinds(output: np.ndarray) -> list[str]:
    """The branch of every output channel: one of BRANCHES, or "wider" (responds more than 2 pixels
    away), or "silent" (never responds)."""
    h, w = output.shape[1:3]
    resp = responses(output)
    centres = impulse_centres(h, w)
    near = np.zeros((h, w), dtype=bool)
    for i, j in centres:
        near[i - REACH:i + REACH + 1, j - REACH:j + REACH + 1] = True
    kinds = []
    for k in range(output.shape[-1]):
        maps = resp[..., k]
        tol = RELATIVE_TOLERANCE * max(float(np.max(np.abs(maps))), 1e-3)
        if np.any(np.abs(maps[:, ~near]) > tol):
            kinds.append("wider")
            continue
        radius, constant = -1, True
        for m in maps:
            for i, j in centres:
                window = m[i - REACH:i + REACH + 1, j - REACH:j + REACH + 1]
                active = np.abs(window) > tol
                if not active.any():
                    continue
                radius = max(radius, int(np.abs(np.argwhere(active) - REACH).max()))
                inner = window[1:-1, 1:-1]
                constant &= bool(inner.max() - inner.min() <= tol)
        kinds.append("silent" if radius < 0 else "1x1" if radius == 0 else "5x5" if radius == 2
                     else "pool" if constant else "3x3")
    return kinds


def _widths(case_args) -> dict[str, int]:
    _, f1, _, f3, _, f5, pool_proj = case_args
    return {"1x1": f1, "3x3": f3, "5x5": f5, "pool": pool_proj}


def _output(value, outcome):
    """(output, None) when the helper's output can be read channel by channel, else (None, reason)."""
    if not isinstance(value, dict) or "output" not in value:
        return None, "block_for_grading returned no output: do not change the helpers cell"
    output = value["output"]
    images = outcome.args[0]
    problem = numeric_problem(output)
    if problem:
        return None, problem
    if output.ndim != 4 or output.shape[:3] != images.shape[:3]:
        return None, (f"the output has shape {output.shape} for images of shape {images.shape} (channels last): "
                      "every branch must keep the height and width ('same' padding, stride 1), and the "
                      "branches must be concatenated along the channel axis")
    return output, None


# -- judges -------------------------------------------------------------------------------------------
def _judge_output(value, outcome):
    output, problem = _output(value, outcome)
    if problem:
        return problem
    channels = sum(_widths(outcome.args).values())
    if output.shape[-1] != channels:
        return (f"the output has {output.shape[-1]} channels, not f1 + f3 + f5 + pool_proj: does every branch "
                "have its own number of filters, and the pooling branch its 1x1 convolution?")
    if np.min(output) < -1e-6:
        return "the output has negative values: every convolution is followed by a ReLU"
    return None


def _judge_widths(value, outcome):
    output, problem = _output(value, outcome)
    if problem:
        return problem
    kinds = channel_kinds(output)
    wider = kinds.count("wider")
    if wider:
        return (f"{wider} output channels respond more than 2 pixels away from a bright pixel: no branch "
                "has a kernel larger than 5x5, and every convolution has stride 1 and 'same' padding")
    widths, silent = _widths(outcome.args), kinds.count("silent")
    counted = {kind: kinds.count(kind) for kind in BRANCHES}
    c_in = outcome.args[0].shape[-1]
    if counted["pool"] == c_in != widths["pool"]:
        return (f"the pooling branch gives {c_in} channels, as many as the module's input: it needs its "
                "1x1 convolution to pool_proj channels after the max-pooling")
    for kind in BRANCHES:
        if counted[kind] > widths[kind] or counted[kind] + silent < widths[kind]:
            return (f"{BRANCH_NAMES[kind]} gives {counted[kind]} channels, not the number its setting asks for "
                    "(each branch's last convolution has its own number of filters)")
    if sum(counted.values()) + silent != sum(widths.values()):
        return "the module has channels that belong to no branch"
    return None


def _runs(kinds: list[str]) -> list[str]:
    out = []
    for kind in kinds:
        if kind in BRANCHES and (not out or out[-1] != kind):
            out.append(kind)
    return out


def _judge_order(value, outcome):
    output, problem = _output(value, outcome)
    if problem:
        return problem
    runs = _runs(channel_kinds(output))
    if runs == list(BRANCHES):
        return None
    if sorted(runs) == sorted(BRANCHES):
        return ("the branches are concatenated in the order " + ", ".join(runs)
                + ": concatenate them as 1x1, 3x3, 5x5, pool")
    if len(runs) > len(set(runs)):
        return "the channels of different branches are interleaved: concatenate whole branches, one after the other"
    missing = [BRANCH_NAMES[kind] for kind in BRANCHES if kind not in runs]
    return "no output channel behaves like " + " or ".join(missing)


def _judge_block_parameters(value, outcome):
    if not isinstance(value, dict) or "parameters" not in value:
        return "block_for_grading returned no parameter count: do not change the helpers cell"
    images, *settings = outcome.args
    reduce = outcome.kwargs["reduce"]
    c_in = images.shape[-1]
    got = value["parameters"]
    problem = compare_arrays(got, module_parameters(c_in, *settings, reduce=reduce), rtol=0, atol=0.5)
    if problem != "wrong values":
        return problem
    count = int(got)
    if count == module_parameters(c_in, *settings, reduce=not reduce):
        return (f"your module has {count:,} parameters with reduce={reduce}, the count of the module "
                f"{'without' if reduce else 'with'} 1x1 reductions: does it follow `reduce`?")
    if count == module_parameters(c_in, *settings, reduce=reduce) - _conv(1, c_in, settings[-1]):
        return f"your module has {count:,} parameters: the pooling branch lacks its 1x1 convolution"
    return f"your module has {count:,} parameters with reduce={reduce}: compare it branch by branch with the formula"


def _judge_formula(got, outcome):
    reduce = outcome.kwargs["reduce"]
    got = got.reshape(()) if isinstance(got, np.ndarray) and got.size == 1 else got
    problem = compare_arrays(got, module_parameters(*outcome.args, reduce=reduce), rtol=0, atol=0.5)
    if problem != "wrong values":
        return problem
    if compare_arrays(got, module_parameters(*outcome.args, reduce=reduce, biases=False), rtol=0, atol=0.5) is None:
        return "the biases are missing: every convolution has one per filter"
    if compare_arrays(got, module_parameters(*outcome.args, reduce=not reduce), rtol=0, atol=0.5) is None:
        return f"this is the count of the module {'without' if reduce else 'with'} reductions: follow `reduce`"
    return "wrong count: add (k*k*C_in + 1)*C_out over the module's convolutions"


def _network_value(value, key):
    if not isinstance(value, dict) or key not in value:
        return None, "network_for_grading returned nothing to check: do not change the helpers cell"
    return value[key], None


def _judge_network(value, outcome):
    stem_filters, blocks, reduce, stride, images = outcome.args
    logits, problem = _network_value(value, "logits")
    if problem:
        return problem
    problem = compare_shapes(logits, (len(images), 10))
    if problem:
        return "the network should give 10 logits per image: " + problem
    count, problem = _network_value(value, "parameters")
    if problem:
        return problem
    problem = compare_arrays(count, network_parameters(stem_filters, blocks, reduce), rtol=0, atol=0.5)
    if problem == "wrong values":
        return (f"{int(count):,} parameters: compare the stem (3x3 convolution, stem_filters filters), the "
                "modules (with `reduce`) and the head (global average pooling, one dense layer to 10) with the specification")
    return problem


def _judge_stem(value, outcome):
    stride = outcome.args[3]
    size, problem = _network_value(value, "stem_size")
    if problem:
        return problem
    problem = compare_arrays(size, [IMAGE_SIZE // stride] * 2, rtol=0, atol=0)
    if problem == "wrong values":
        return (f"with stem_stride={stride} the first convolution outputs {tuple(int(s) for s in size)} feature "
                "maps: its stride should be stem_stride, with 'same' padding")
    return problem


# -- the checks -----------------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_block_output(submission):
    """The module keeps the height and width, outputs f1 + f3 + f5 + pool_proj channels, after ReLUs."""
    score(submission.calls("block_for_grading"), _judge_output, what="the module's output")


@pytest.mark.points(2)
def test_branch_widths(submission):
    """Each branch of the module gives the number of channels its setting asks for."""
    score(submission.calls("block_for_grading"), _judge_widths, what="the branches' channels")


@pytest.mark.points(1)
def test_concatenation_order(submission):
    """The branches are concatenated along the channels in the order 1x1, 3x3, 5x5, pool."""
    score(submission.calls("block_for_grading"), _judge_order, what="the order of the branches")


@pytest.mark.points(2)
def test_block_parameters(submission):
    """The module has the parameters of the formula, with and without the 1x1 reductions."""
    score(submission.calls("block_for_grading"), _judge_block_parameters, what="the module's parameters")


@pytest.mark.points(2)
def test_parameter_formula(submission):
    """inception_parameters counts the module's parameters, with and without the 1x1 reductions."""
    score(submission.calls("inception_parameters"), _judge_formula, what="inception_parameters")


@pytest.mark.points(2)
def test_network_variants(submission):
    """build_network gives each of the four variants its parameters and 10 logits."""
    score(submission.calls("network_for_grading"), _judge_network, what="the four variants")


@pytest.mark.points(1)
def test_stem_stride(submission):
    """The stem's stride is stem_stride: 32x32 feature maps with stride 1, 16x16 with stride 2."""
    score(submission.calls("network_for_grading"), _judge_stem, what="the stem's output")


@pytest.mark.points(1)
def test_model_architecture(submission, profile):
    """`model` is variant A of the setup cell's network: reductions, stem stride 2."""
    model = submission.model("inception")
    stem_filters, blocks = NETWORKS[profile]
    assert_parameter_count(model, network_parameters(stem_filters, blocks, reduce=True), name="`model`",
                           compare_with="variant A, build_network(STEM_FILTERS, BLOCKS, reduce=True, stem_stride=2)")
    convs = model.conv_layers()
    assert convs, "`model` has no convolution"
    stem = tuple(convs[0]["output_shape"][:2])
    assert stem == (IMAGE_SIZE // MODEL_STEM_STRIDE,) * 2, (
        f"the first convolution of `model` outputs {stem[0]}x{stem[1]} feature maps: variant A's stem has stride 2")


_accuracy_cache: dict = {}


def _heldout_accuracy(submission, heldout) -> float:
    if id(submission) not in _accuracy_cache:
        x, y = heldout("cifar10")
        scores = submission.model("inception").predict((x.astype(np.float32) / 255.0 - MEAN) / STD)
        assert scores.shape == (len(x), 10), (
            f"the model's output has shape {scores.shape[1:]} per image, not one score per class")
        assert np.all(np.isfinite(scores)), "the model's outputs on held-out images are not all finite"
        _accuracy_cache[id(submission)] = float(np.mean(np.argmax(scores, axis=1) == y))
    return _accuracy_cache[id(submission)]


@pytest.mark.points(1)
def test_model_learned(submission, heldout, thresholds):
    """The trained model classifies held-out images far better than chance."""
    acc = _heldout_accuracy(submission, heldout)
    assert acc >= thresholds["inception_learned"], (
        f"accuracy on held-out images is {acc:.3f}, close to guessing: was the model trained, and is `model` the trained one?")


@pytest.mark.points(2)
def test_heldout_accuracy(submission, heldout, thresholds):
    """Accuracy on held-out images reaches the level the reference training achieves."""
    acc = _heldout_accuracy(submission, heldout)
    assert acc >= thresholds["inception_accuracy"], (
        f"accuracy on held-out images is {acc:.3f}, too low for this network and setting: train as Task 4 says "
        "(Adam 3e-3, batches of 64, EPOCHS epochs, flips, He initialisation) on standardised images")
