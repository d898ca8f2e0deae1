"""Hidden checks for cifar_augment: the tutorial's CNN on CIFAR-10, augmented mini-batches, dropout.

What is judged, and on what:

* `batches`, through the notebook's locked hook `batches_for_grading`, on random images chosen here
  (no pixel near 0, so the zero padding shows; labels that identify each image): a training pass
  holds every image once, each a window of itself padded with 4 zeros, mirrored left-right or not,
  with its own label, in a random order that the seed decides; an evaluation pass holds the images
  unchanged, in their order.
* `train`, through `train_for_grading`: it is called on images chosen here with a stand-in network
  that records what it is fed; in training mode it must be fed augmented versions of those images,
  each once per epoch (not other images, such as the notebook's test set).
* `predict_classes`, through `predictions_for_grading`, on public test images picked here: the
  predictions must be those of the rebuilt networks (which the harvest exports in evaluation mode),
  the same at every call. Dropout left on at evaluation (no `model.eval()`) fails this.
* the two networks, rebuilt from `torch.export`: the layers of the tutorial's network, and for
  `model_dropout` the same layers plus one dropout of rate 0.25 between the first two dense layers;
  their accuracy on the held-out half of the CIFAR-10 test set, which the sandbox never sees,
  against the thresholds of thresholds.json (CALIBRATION.md says how they were measured).

The harvest calls the student's functions before it exports the models, so the predictions are
made with the networks in whatever mode the notebook left them.
"""
import functools

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from autograder.checker.api import Case, HarvestRequest, assert_conv_layers, assert_parameter_count, \
    numeric_problem, score

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full data).
BUDGET = {"cell_timeout_s": 1800, "notebook_timeout_s": 3600}
DATASETS = ("cifar10",)
PARAMS = 62_006
CONV_FILTERS = [6, 16]
CONV_SPATIAL = [(28, 28), (10, 10)]        # 5x5 convolutions without padding: 32 -> 28, 14 -> 10
KERNEL = (5, 5)
PARAMETER_SHAPES = sorted([(6, 3, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,),
                           (10, 84), (10,)])
DROPOUT = 0.25
PADDING = 4
SIZE = 32
# The notebook's normalization (its setup cell): CIFAR-10's per-channel mean and standard deviation.
MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
SIGMAS = 6.0          # statistical tolerance of the flip count, in standard deviations
AGREEMENT = 0.99      # share of images on which the notebook's and the rebuilt network's predictions agree
BATCHES, TRAIN, PREDICT = "batches_for_grading", "train_for_grading", "predictions_for_grading"
SEEDED = ("seed_a", "seed_a_again", "seed_b")
TRAINING_CASES = ("shuffled", "large") + SEEDED
EVALUATION_CASES = ("eval", "eval_uneven")


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def normalize(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0 - MEAN) / STD


# -- inputs -------------------------------------------------------------------------------------------
def _images(rng, n: int) -> np.ndarray:
    """n images 32x32x3 of random values of either sign, none within 0.05 of 0: the zero padding
    and every window are recognisable. float32, as the notebook's images are."""
    magnitude = rng.uniform(0.05, 2.0, size=(n, SIZE, SIZE, 3))
    return (magnitude * rng.choice([-1.0, 1.0], size=magnitude.shape)).astype(np.float32)


def _batch_cases(rng) -> dict:
    shuffled_images, shuffled_ids = _images(rng, 40), rng.permutation(40).astype(np.int64)
    large_images, large_ids = _images(rng, 120), rng.permutation(120).astype(np.int64)
    cases = {
        "shuffled": Case(shuffled_images, shuffled_ids, 7, True, _seed(rng)),      # a last batch of 5
        "large": Case(large_images, large_ids, 16, True, _seed(rng)),
        "eval": Case(shuffled_images, shuffled_ids, 16, False, _seed(rng)),
        "eval_uneven": Case(_images(rng, 30), rng.permutation(30).astype(np.int64), 13, False, _seed(rng)),
    }
    images, ids = _images(rng, 30), rng.permutation(30).astype(np.int64)
    seed_a, seed_b = (int(s) for s in rng.choice(np.arange(1, 100_000), size=2, replace=False))
    for label, seed in zip(SEEDED, (seed_a, seed_a, seed_b)):
        cases[label] = Case(images, ids, 8, True, seed)
    return cases


def _describe_batches(case: Case) -> str:
    images, _, batch_size, train, seed = case.args
    return f"batches of {batch_size} of {len(images)} images, train={train}, seed {seed}"


@functools.lru_cache(maxsize=1)
def _public_test():
    """The public test half, as the notebook's x_test (normalized, NHWC float32), and its labels."""
    from data import load_cifar10

    _, (x, y) = load_cifar10()
    return normalize(x), np.asarray(y, dtype=np.int64)


def harvest(rng: np.random.Generator) -> HarvestRequest:
    indices = np.sort(rng.choice(5000, size=1000, replace=False)).astype(np.int64)
    train_images = _images(rng, 24)
    train_labels = rng.integers(0, 10, size=24).astype(np.int64)
    return (HarvestRequest()
            .cases(BATCHES, _batch_cases(rng), describe=_describe_batches)
            .cases(TRAIN, {"two_epochs": Case(train_images, train_labels, 2, _seed(rng))},
                   describe=lambda case: f"train on {len(case.args[0])} images for {case.args[2]} epochs")
            .cases(PREDICT, {"model": Case("model", indices), "dropout_first": Case("model_dropout", indices),
                             "dropout_again": Case("model_dropout", indices)},
                   describe=lambda case: f"predict_classes({case.args[0]}, {len(case.args[1])} test images)")
            .model("cnn", variable="model", torch_example_shape=(1, 3, SIZE, SIZE))
            .model("cnn_dropout", variable="model_dropout", torch_example_shape=(1, 3, SIZE, SIZE)))


# -- reading the batches -------------------------------------------------------------------------------
def _batch_arrays(value, n: int):
    """(inputs as NHWC float64, targets) of a pass over n images, or (None, a reason)."""
    if not isinstance(value, dict) or "inputs" not in value or "targets" not in value:
        return None, "batches did not yield (inputs, targets) pairs"
    inputs, targets = value["inputs"], value["targets"]
    for what, array in (("inputs", inputs), ("targets", targets)):
        problem = numeric_problem(array)
        if problem:
            return None, f"the {what}: {problem}"
    if inputs.dtype != np.float32:
        return None, f"the inputs are {inputs.dtype}, not float32 (the network's weights are float32)"
    if targets.dtype != np.int64:
        return None, f"the targets are {targets.dtype}, not int64 (nn.CrossEntropyLoss wants int64 class numbers)"
    if inputs.ndim != 4 or inputs.shape[1:] != (3, SIZE, SIZE):
        if inputs.ndim == 4 and inputs.shape[1:] == (SIZE, SIZE, 3):
            return None, "the inputs are channels last (B, H, W, C): PyTorch wants (B, C, H, W)"
        return None, "the inputs do not have the shape (B, 3, 32, 32) per batch"
    if targets.shape != (len(inputs),):
        return None, "a batch does not hold as many targets as inputs"
    if len(inputs) != n:
        return None, f"a pass over {n} examples yielded {len(inputs)} of them: every example comes exactly once"
    return (inputs.transpose(0, 2, 3, 1).astype(np.float64), targets), None


def _windows(image: np.ndarray) -> np.ndarray:
    """Every 32x32 window of `image` padded with PADDING zeros: (9, 9, 32, 32, C)."""
    padded = np.pad(image.astype(np.float64), ((PADDING, PADDING), (PADDING, PADDING), (0, 0)))
    return sliding_window_view(padded, image.shape, axis=(0, 1, 2))[:, :, 0]


FLIPS = {"none": lambda x: x, "width": lambda x: x[:, ::-1], "height": lambda x: x[::-1], "both": lambda x: x[::-1, ::-1]}


def _locate(windows: np.ndarray, crop: np.ndarray):
    """(top, left, flip) where `crop` is a window of the padded image, flipped as named, or None."""
    for flip, undo in FLIPS.items():
        found = np.argwhere(np.all(np.abs(windows - undo(crop)) <= 1e-6, axis=(2, 3, 4)))
        if len(found):
            return int(found[0][0]), int(found[0][1]), flip
    return None


def _sources(inputs, images, targets=None, ids=None):
    """For each input: (index of the image it comes from, top, left, flip), or None where it is no
    (flipped) window of any padded image.

    Any crop of a 32x32 image padded with 4 holds its centre pixel, and the grader's images have
    random values: the images whose centre value occurs in an input are its only candidates (so a
    batch of N inputs costs N searches, not N^2). With targets, the image of the input's label is
    tried first."""
    images = np.asarray(images, dtype=np.float64)
    centres = images[:, SIZE // 2, SIZE // 2, 0]
    position = {int(k): i for i, k in enumerate(ids)} if ids is not None else {}
    windows: dict[int, np.ndarray] = {}
    found = []
    for j, crop in enumerate(inputs):
        candidates = [int(i) for i in np.flatnonzero(np.isin(centres, crop[..., 0]))]
        first = position.get(int(targets[j])) if targets is not None else None
        if first in candidates:
            candidates = [first] + [i for i in candidates if i != first]
        hit = None
        for i in candidates:
            if i not in windows:
                windows[i] = _windows(images[i])
            where = _locate(windows[i], crop)
            if where is not None:
                hit = (i, *where)
                break
        found.append(hit)
    return found


def _training_pass(value, outcome):
    """What a training pass did to every image, or (None, a reason)."""
    images, ids = outcome.args[0], outcome.args[1]
    arrays, problem = _batch_arrays(value, len(images))
    if problem:
        return None, problem
    inputs, targets = arrays
    return (inputs, targets, _sources(inputs, images, targets, ids)), None


# -- judges: training batches --------------------------------------------------------------------------
def _judge_training_batches(value, outcome):
    done, problem = _training_pass(value, outcome)
    if problem:
        return problem
    inputs, targets, sources = done
    ids = outcome.args[1]
    if sorted(targets.tolist()) != sorted(ids.tolist()):
        return "a training pass must give every example exactly once, with its label"
    if any(s is None for s in sources):
        return ("a training input is not a window of an image padded with 4 zeros on each side, mirrored "
                "left-right or not")
    if any(s[3] in ("height", "both") for s in sources):
        return "some training images are flipped upside down: flip along the width (left-right) only"
    if any(int(ids[s[0]]) != int(t) for s, t in zip(sources, targets)):
        return ("a training input does not come with its own label: shuffle the images and the labels with "
                "the same permutation")
    return None


def _judge_training_randomness(value, outcome):
    done, problem = _training_pass(value, outcome)
    if problem:
        return problem
    inputs, targets, sources = done
    if any(s is None for s in sources):
        return "the training inputs are not crops of the images, so their randomness cannot be judged"
    tops, lefts = {s[1] for s in sources}, {s[2] for s in sources}
    if tops == {PADDING} and lefts == {PADDING}:
        return ("the crops never move: pad the image with 4 zeros on each side, then cut a random 32x32 window "
                "out of the 40x40 padded image")
    if len(tops) < 5 or len(lefts) < 5:
        return "the crops hardly move: every window of the padded image must be possible and equally likely"
    flipped = sum(s[3] != "none" for s in sources)
    n = len(sources)
    if abs(flipped - n / 2) > SIGMAS * np.sqrt(n / 4) + 1:
        return "far from half of the training images are mirrored: flip each one with probability 1/2"
    if np.array_equal(targets, outcome.args[1]):
        return "the training examples come in their original order: draw a new order with rng.permutation"
    return None


def _judge_training_seeds(submission):
    outcomes = {o.label: o for o in submission.calls(BATCHES) if o.label in SEEDED}
    if any(not outcomes[s].ok for s in SEEDED):
        return next(outcomes[s].error for s in SEEDED if not outcomes[s].ok)
    arrays = []
    for s in SEEDED:
        got, problem = _batch_arrays(outcomes[s].value, len(outcomes[s].args[0]))
        if problem:
            return problem
        arrays.append(got)
    (a, ta), (again, tagain), (b, tb) = arrays
    if not (np.array_equal(a, again) and np.array_equal(ta, tagain)):
        return "two passes with the same seed gave different batches: draw every random number from rng"
    if np.array_equal(a, b) and np.array_equal(ta, tb):
        return "two different seeds gave the same batches"
    return None


# -- judges: evaluation batches ------------------------------------------------------------------------
def _judge_evaluation_batches(value, outcome):
    images, ids = outcome.args[0], outcome.args[1]
    arrays, problem = _batch_arrays(value, len(images))
    if problem:
        return problem
    inputs, targets = arrays
    if not np.array_equal(targets, ids):
        if sorted(targets.tolist()) == sorted(ids.tolist()):
            return "evaluation batches are shuffled: keep the examples in their order"
        return "evaluation batches must give every example once, with its label"
    if np.allclose(inputs, images, rtol=0, atol=1e-6):
        return None
    if all(s is not None for s in _sources(inputs, images, targets, ids)):
        return "evaluation inputs are augmented (cropped or flipped): augmentation is for training only"
    return "evaluation inputs must be the images unchanged, only with the channels first"


# -- judges: the training loop -------------------------------------------------------------------------
def _judge_train_loop(value, outcome):
    images, _, epochs, _ = outcome.args
    if not isinstance(value, dict) or any(k not in value for k in ("inputs", "forward_calls", "fed_in_training")):
        return "train could not be run on the grader's images"
    if int(value["forward_calls"]) == 0:
        return "train never called the network"
    fed = int(value["fed_in_training"])
    if fed == 0:
        return ("the network was never in training mode during train: call model.train() at the start of "
                "each epoch (a network last used by predict_classes is in evaluation mode)")
    inputs = value["inputs"]
    if numeric_problem(inputs) or inputs.ndim != 4 or inputs.shape[1:] != (3, SIZE, SIZE):
        return "train fed the network something other than batches of (B, 3, 32, 32) images"
    sources = _sources(inputs.transpose(0, 2, 3, 1).astype(np.float64), images)
    if any(s is None for s in sources):
        return ("train fed the network images that are not (augmented versions of) the images it was given: "
                "it must train on its `images` argument, never on other data such as the test images")
    counts = np.bincount([s[0] for s in sources], minlength=len(images))
    if fed != epochs * len(images) or not np.all(counts == epochs):
        return f"in {epochs} epochs every image must be fed {epochs} times (once per epoch), and no other image"
    if all(s[1:] == (PADDING, PADDING, "none") for s in sources):
        return "train fed the images without augmentation: use batches(..., train=True) for training"
    return None


# -- the networks --------------------------------------------------------------------------------------
_cache: dict = {}


def _torch_model(submission, name: str, variable: str):
    model = submission.model(name)
    assert model.framework == "torch", f"`{variable}` is not a PyTorch network: this question requires PyTorch"
    return model


def _graph_layers(model) -> list[tuple[str, float | None]]:
    """The exported program's layers in order: ("conv", None), ("linear", None), ("dropout", rate)."""
    import torch

    aten = torch.ops.aten
    kinds = {aten.conv2d.default: "conv", aten.convolution.default: "conv", aten.linear.default: "linear",
             aten.addmm.default: "linear"}
    dropouts = {getattr(aten, name).default for name in ("dropout", "dropout_", "native_dropout", "feature_dropout",
                                                         "feature_dropout_", "alpha_dropout") if hasattr(aten, name)}
    layers = []
    for node in model.program.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target in dropouts:
            layers.append(("dropout", float(node.args[1])))
        elif node.target in kinds:
            layers.append((kinds[node.target], None))
    return layers


def _assert_tutorial_layers(model, variable: str):
    assert_parameter_count(model, PARAMS, name=f"`{variable}`")
    assert_conv_layers(model, CONV_FILTERS, CONV_SPATIAL, name=f"`{variable}`", kernel=KERNEL)
    shapes = sorted(tuple(int(d) for d in p.shape) for p in model.torch_module.parameters())
    assert shapes == PARAMETER_SHAPES, f"the layers of `{variable}` differ from the table: compare them one by one"


def _heldout_accuracy(submission, heldout, name: str, variable: str) -> float:
    if name not in _cache:
        x, y = heldout("cifar10")
        scores = _torch_model(submission, name, variable).predict(normalize(x))
        assert scores.shape == (len(x), 10), (
            f"`{variable}` gives outputs of shape {scores.shape[1:]} per image, not 10 class scores")
        _cache[name] = float(np.mean(np.argmax(scores, axis=1) == y))
    return _cache[name]


# -- checks: batches -----------------------------------------------------------------------------------
def _calls(submission, function, labels):
    return [o for o in submission.calls(function) if o.label in labels]


@pytest.mark.points(2)
def test_training_batches(submission):
    """A training pass gives every image once, as a crop of itself padded with 4 zeros, mirrored left-right or not, with its label."""
    score(_calls(submission, BATCHES, TRAINING_CASES), _judge_training_batches, what="training batches")


@pytest.mark.points(1)
def test_training_randomness(submission):
    """Training batches are random: crops move, about half the images are mirrored, the order is shuffled, and the seed decides."""
    score(_calls(submission, BATCHES, ("large",)), _judge_training_randomness, what="randomness of the training batches")
    problem = _judge_training_seeds(submission)
    assert problem is None, f"training batches with a seed: {problem}"


@pytest.mark.points(1)
def test_evaluation_batches(submission):
    """An evaluation pass gives the images unchanged (channels first), in their order, with their labels."""
    score(_calls(submission, BATCHES, EVALUATION_CASES), _judge_evaluation_batches, what="evaluation batches",
          all_or_nothing=True)


@pytest.mark.points(1)
def test_train_loop(submission):
    """train feeds the network, in training mode, augmented versions of the images it is given, each once per epoch."""
    score(submission.calls(TRAIN), _judge_train_loop, what="the training loop")


# -- checks: the networks ------------------------------------------------------------------------------
@pytest.mark.points(1)
def test_architecture(submission):
    """`model` is the tutorial's network: two 5x5 convolutions (3 -> 6 -> 16) with pooling, three dense layers, no dropout."""
    model = _torch_model(submission, "cnn", "model")
    _assert_tutorial_layers(model, "model")
    assert not any(kind == "dropout" for kind, _ in _graph_layers(model)), (
        "`model` has a dropout layer: the network of Task 2 has none (dropout is for `model_dropout`)")


@pytest.mark.points(1)
def test_dropout_architecture(submission):
    """`model_dropout` has the same layers as the tutorial's network, plus one dropout of rate 0.25 after the first dense layer."""
    model = _torch_model(submission, "cnn_dropout", "model_dropout")
    _assert_tutorial_layers(model, "model_dropout")
    layers = _graph_layers(model)
    rates = [rate for kind, rate in layers if kind == "dropout"]
    assert len(rates) == 1, f"`model_dropout` has {len(rates)} dropout layers, not one"
    assert abs(rates[0] - DROPOUT) < 1e-9, f"the dropout rate of `model_dropout` is {rates[0]:g}, not as specified"
    kinds = [kind for kind, _ in layers]
    place = kinds.index("dropout")
    assert kinds[:place].count("linear") == 1 and kinds[place + 1:].count("linear") == 2, (
        "the dropout layer of `model_dropout` is not between the first and the second dense layers")


@pytest.mark.points(1)
def test_evaluation_mode(submission):
    """predict_classes gives the trained networks' answers in evaluation mode: no dropout, the same at every call."""
    outcomes = {o.label: o for o in submission.calls(PREDICT)}
    x_test, _ = _public_test()
    for label in ("model", "dropout_first", "dropout_again"):
        assert outcomes[label].ok, f"predict_classes failed: {outcomes[label].error}"
    indices = outcomes["model"].args[1]
    predictions = {}
    for label, outcome in outcomes.items():
        got = outcome.value
        assert numeric_problem(got) is None and got.shape == indices.shape, (
            f"predict_classes({outcome.args[0]}, images) should return one class number per image")
        predictions[label] = got.astype(np.int64)

    plain = np.argmax(_torch_model(submission, "cnn", "model").predict(x_test[indices]), axis=1)
    assert np.mean(predictions["model"] == plain) >= AGREEMENT, (
        "predict_classes(model, images) does not give the classes the trained `model` predicts for these test "
        "images: evaluate the images unchanged, in their order, and return the argmax of the logits")
    dropout = np.argmax(_torch_model(submission, "cnn_dropout", "model_dropout").predict(x_test[indices]), axis=1)
    first, again = predictions["dropout_first"], predictions["dropout_again"]
    if not np.array_equal(first, again) or np.mean(first == dropout) < AGREEMENT:
        raise AssertionError(
            "predict_classes(model_dropout, images) changes its answers from call to call, or they are not those "
            "of the network in evaluation mode: dropout is still on. Call model.eval() before predicting")


@pytest.mark.points(1)
def test_models_learned(submission, heldout, thresholds):
    """Both trained networks classify held-out CIFAR-10 images far better than chance."""
    problems = []
    for name, variable in (("cnn", "model"), ("cnn_dropout", "model_dropout")):
        accuracy = _heldout_accuracy(submission, heldout, name, variable)
        if accuracy < thresholds["cifar_augment_learned"]:
            problems.append(f"`{variable}` is right on {accuracy:.3f} of held-out images, close to guessing")
    assert not problems, "; ".join(problems) + ": were the networks trained, and do the variables hold the trained ones?"


@pytest.mark.points(2)
def test_heldout_accuracy(submission, heldout, thresholds):
    """`model` reaches, on held-out images, the accuracy that the specified training gives it."""
    accuracy = _heldout_accuracy(submission, heldout, "cnn", "model")
    assert accuracy >= thresholds["cifar_augment_accuracy"], (
        f"`model` is right on {accuracy:.3f} of held-out images, too few for this training: train it for EPOCHS "
        "epochs on all of x_train, with the learning rate, momentum and batch size of the setup cell")


@pytest.mark.points(1)
def test_dropout_heldout_accuracy(submission, heldout, thresholds):
    """`model_dropout` reaches, on held-out images, the accuracy that the specified training gives it."""
    accuracy = _heldout_accuracy(submission, heldout, "cnn_dropout", "model_dropout")
    assert accuracy >= thresholds["cifar_augment_dropout_accuracy"], (
        f"`model_dropout` is right on {accuracy:.3f} of held-out images, too few for this training: train it as "
        "`model`, in training mode (dropout on) during training")
