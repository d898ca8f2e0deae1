"""Hidden checks for gradcam_torch: the student's heatmaps, made with hooks, against a Grad-CAM computed here.

The student's PyTorch model arrives as a torch.export program: a graph of ATen operators whose nodes
remember the module they ran in (`nn_module_stack`). The grader finds there the last convolution and
the module it belongs to, runs the graph with that convolution's output as a leaf tensor, takes the
gradient of the class score with respect to it, and compares that Grad-CAM with the heatmaps the
student's make_gradcam_heatmap returned inside the sandbox for the same images. The student's hooks
are counted before and after those calls (hooks_for_grading, in the notebook's locked last cell).
Checks that need only the heatmaps (non-negative, normalised) keep their marks when the model cannot
be rebuilt.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, ExportedGradCam, HarvestRequest, StudentError, compare_arrays, \
    compare_shapes, conv_nodes, defined_calls, has_positive_value, module_of, numeric_problem, score

# Time limits derive from timings.json (calibrate); this holds where none were measured (the full data).
BUDGET = {"cell_timeout_s": 900, "notebook_timeout_s": 1800}
DATASETS = ("mnist",)
N_PREDICTED = 8     # calls with pred_index=None (the predicted class)
# Calls with a class chosen here: never the digit's own, so rarely the predicted one. Eight, because
# some have no positive evidence (no defined heatmap: up to 13 % of them on an untrained model).
N_CHOSEN = 8


def harvest(rng: np.random.Generator) -> HarvestRequest:
    import data

    x, y = data.load_heldout("mnist")
    picks = rng.choice(len(x), size=N_PREDICTED + N_CHOSEN, replace=False)
    images = [(x[i].astype(np.float32) / 255.0)[np.newaxis, np.newaxis] for i in picks]   # (1, 1, 28, 28)
    cases = {f"predicted_{i}": Case(img) for i, img in enumerate(images[:N_PREDICTED])}
    cases |= {f"chosen_{i}": Case(img, pred_index=(int(y[pick]) + int(rng.integers(1, 10))) % 10)
              for i, (img, pick) in enumerate(zip(images[N_PREDICTED:], picks[N_PREDICTED:]))}
    describe = lambda case: "an image, for " + ("its predicted class" if not case.kwargs  # noqa: E731
                                                 else f"class {case.kwargs['pred_index']}")
    # Calls run in this order: the hooks are counted before and after every heatmap.
    return (HarvestRequest()
            .cases("hooks_for_grading", {"before": Case()})
            .cases("gradcam_for_grading", cases, describe=describe)
            .cases("hooks_for_grading", {"after": Case()})
            .model("cnn", variable="model", torch_example_shape=(1, 1, 28, 28))
            .value("last_conv", variable="last_conv_layer_name"))


# -- the rebuilt model ---------------------------------------------------------------------------

_SETUPS = {}
_REFERENCES = {}


def _graph_module(submission):
    model = submission.model("cnn")
    if model.framework != "torch":
        raise StudentError("this question grades a PyTorch model, and `model` is not one")
    return model.torch_module


def _setup(submission) -> ExportedGradCam:
    """The grader's Grad-CAM at the model's last convolution; StudentError when the model cannot be used."""
    key = id(submission)
    if key not in _SETUPS:
        graph_module = _graph_module(submission)
        convs = conv_nodes(graph_module)
        if not convs:
            raise StudentError("your model has no convolutional layer")
        _SETUPS[key] = ExportedGradCam(graph_module, convs[-1])
    return _SETUPS[key]


def _reference(submission, outcome):
    key = (id(submission), outcome.label)
    if key not in _REFERENCES:
        _REFERENCES[key] = _setup(submission)(outcome.args[0], outcome.kwargs.get("pred_index"))
    return _REFERENCES[key]


def _defined(submission, outcomes):
    return defined_calls(outcomes, lambda outcome: _reference(submission, outcome))


def _calls(submission, prefix=""):
    return [o for o in submission.calls("gradcam_for_grading") if o.label.startswith(prefix)]


# -- the checks ----------------------------------------------------------------------------------

@pytest.mark.points(1)
def test_last_conv_layer_name(submission):
    """last_conv_layer_name names the last convolutional layer of the model."""
    name = submission.value("last_conv")
    if not isinstance(name, str):
        raise StudentError("last_conv_layer_name must be a string")
    convs = [module_of(node) for node in conv_nodes(_graph_module(submission))]
    assert name in convs, f"'{name}' is not a convolutional layer of your model"
    assert name == convs[-1], f"'{name}' is a convolutional layer, but not the last one"


@pytest.mark.points(1)
def test_heatmap_shape(submission):
    """The heatmap has the spatial size of the last conv layer's feature maps."""
    spatial = _setup(submission).spatial
    score(_defined(submission, _calls(submission)), lambda got, outcome: compare_shapes(got, spatial),
          what="heatmap shape (the feature maps of the last convolutional layer)")


@pytest.mark.points(1)
def test_heatmap_non_negative(submission):
    """The heatmap has no negative values (ReLU of the weighted sum)."""
    def judge(got, outcome):
        problem = numeric_problem(got)
        if problem:
            return problem
        return None if got.size and got.min() >= -1e-6 else "the heatmap has negative values: did you apply the ReLU?"
    score(_defined(submission, _calls(submission)), judge, what="non-negative heatmaps", all_or_nothing=True)


@pytest.mark.points(1)
def test_heatmap_normalised(submission):
    """The heatmap is normalised so that its maximum is 1."""
    def judge(got, outcome):
        problem = numeric_problem(got)
        if problem:
            return problem
        return None if got.size and abs(got.max() - 1) < 1e-3 else "the maximum is not 1: divide by the maximum"
    # A heatmap without a positive value cannot be normalised (a wrong layer or class may give one
    # where the grader's has evidence): the other checks judge it.
    judged = [o for o in _defined(submission, _calls(submission)) if not o.ok or has_positive_value(o.value)]
    score(judged, judge, what="normalised heatmaps")


def _agrees(submission, for_the_class_only=False):
    """Judge: the heatmap equals the grader's Grad-CAM. for_the_class_only: after a ReLU and a
    division by the maximum of its own, so that a missing ReLU or normalisation (which the checks
    above judge) costs nothing more there."""
    def judge(got, outcome):
        if for_the_class_only and numeric_problem(got) is None and got.size:
            got = np.maximum(got.astype(np.float64), 0)
            got = got / got.max() if got.max() > 0 else got
        return compare_arrays(got, _reference(submission, outcome), rtol=0, atol=2e-3)
    return judge


@pytest.mark.points(3)
def test_matches_reference_gradcam(submission):
    """Heatmaps for the predicted class match Grad-CAM computed at the last conv layer of your rebuilt model."""
    score(_defined(submission, _calls(submission, "predicted_")), _agrees(submission),
          what="Grad-CAM for the predicted class", all_or_nothing=True)


@pytest.mark.points(1)
def test_pred_index_respected(submission):
    """With pred_index given, the heatmap explains that class, not the predicted one."""
    score(_defined(submission, _calls(submission, "chosen_")), _agrees(submission, for_the_class_only=True),
          what="Grad-CAM for a given class", all_or_nothing=True)


@pytest.mark.points(1)
def test_hooks_removed(submission):
    """make_gradcam_heatmap removes its hooks: repeated calls leave no hook behind."""
    calls = _calls(submission)
    failed = [o for o in calls if not o.ok]
    if failed:
        raise StudentError(f"make_gradcam_heatmap failed ({failed[0].error}), so its hooks could not be judged")
    if not any(has_positive_value(o.value) for o in calls):   # a function that does nothing leaves no hook
        raise StudentError("make_gradcam_heatmap returned no heatmap with a positive value, so its hooks "
                           "could not be judged")
    counts = {}
    for outcome in submission.calls("hooks_for_grading"):
        if not outcome.ok:
            raise StudentError(f"the hooks on `model` could not be counted: {outcome.error}")
        problem = numeric_problem(outcome.value)
        if problem or outcome.value.size != 1:
            raise StudentError(f"the hooks on `model` could not be counted: hooks_for_grading() {problem or 'returned several numbers'}")
        counts[outcome.label] = int(outcome.value)
    added = counts["after"] - counts["before"]
    assert added <= 0, (f"after {len(calls)} calls of make_gradcam_heatmap, {added} more hooks are registered "
                        "on the model: remove each one (handle.remove()) before returning")
