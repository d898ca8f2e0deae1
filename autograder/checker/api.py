"""What a hidden-check file imports: the contract of a check file and the helpers to write one.

A check file, `autograder/checks/<homework>/test_<question>.py`:

    DATASETS = ("mnist",)                 # student-visible data the sandbox receives (default: none)
    BUDGET = {"memory_mb": 2048}          # optional Limits fields; time limits derive from the
                                          # reference's timings (calibrate, autograder/budgets.py)

    def harvest(rng) -> HarvestRequest:   # what to ask the student's kernel for, inputs drawn from rng
        return HarvestRequest().cases("my_function", {"small": Case(x, k=2), ...})

    @pytest.mark.points(2)
    def test_something(submission):
        '''Title shown to students (first docstring line).'''
        score(submission.calls("my_function"), judge, what="what is being checked")

`score` gives partial credit per case (or none unless every case is right, `all_or_nothing=True`);
a call that failed loses every comparison it would have made. A judge returns None when a value is
right, else a short reason in a student's words that never contains an expected value. Comparison
helpers (`compare_arrays`, `compare_shapes`) refuse NaN, infinities, non-numeric and complex values
before comparing anything, shape included. `StudentError` (its text is shown) and plain `assert`
messages fail a check; any other exception is a grader fault, reported as such.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from autograder.checker.exported_gradcam import ExportedGradCam, conv_nodes, defined_calls, has_positive_value, \
    module_of, module_outputs
from autograder.protocol.harvest_request import Case, HarvestRequest

__all__ = ["Case", "HarvestRequest", "ExportedGradCam", "conv_nodes", "defined_calls", "has_positive_value", "module_of",
           "module_outputs", "Outcome", "PartialCredit", "StudentError",
           "compare_arrays", "compare_shapes", "numeric_problem", "score"]


class StudentError(Exception):
    """A failure caused by the submission (missing function, call raised...); its text is shown."""


class PartialCredit(AssertionError):
    """Part of a check's cases passed: the check earns that fraction of its points."""

    def __init__(self, earned: int, total: int, message: str):
        super().__init__(message)
        self.fraction = earned / total if total else 0.0


@dataclass
class Outcome:
    """One call of a student function on a case the checks chose."""
    label: str
    args: tuple
    kwargs: dict
    value: Any = None           # what the function returned: an array, or a dict of arrays
    error: str | None = None    # why there is no value (the call raised, returned a non-array...)
    about: str = field(default="")  # the case in words, for messages

    @property
    def ok(self) -> bool:
        return self.error is None


def numeric_problem(value) -> str | None:
    """Why `value` cannot be judged as a numeric result, or None when it can."""
    if isinstance(value, dict) or not isinstance(value, np.ndarray):
        return f"returned {type(value).__name__}, not an array of numbers"
    if value.dtype.kind not in "biuf":
        return f"returned an array of {value.dtype}, not of real numbers"
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        return "returned NaN or infinite values"
    return None


def compare_shapes(got, expected_shape: Sequence[int]) -> str | None:
    """None when `got` is a finite numeric array of the expected shape."""
    problem = numeric_problem(got)
    if problem:
        return problem
    if tuple(got.shape) != tuple(expected_shape):
        return f"the output has shape {tuple(got.shape)}, which is not the right size"
    return None


def compare_arrays(got, expected, *, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """None when `got` is a finite numeric array equal to `expected` within the tolerances."""
    expected = np.asarray(expected)
    problem = compare_shapes(got, expected.shape)
    if problem:
        return problem
    if not np.allclose(got.astype(np.float64), expected, rtol=rtol, atol=atol):
        return "wrong values"
    return None


Judge = Callable[..., "str | None"]


def score(outcomes: Iterable[Outcome], judge: Judge, *, what: str, parts: Sequence[Any] | None = None,
          all_or_nothing: bool = False) -> None:
    """Credit for the share of (case, part) comparisons the judge accepts; raises unless all pass.

    judge(value, outcome) -> None | reason, or judge(value, outcome, part) when `parts` is given (for
    example the keys of a returned dict): each case then counts once per part, and a failed call
    counts as failing every part. Nothing judged earns nothing.
    """
    outcomes = list(outcomes)
    total = len(outcomes) * (len(parts) if parts else 1)
    problems: list[str] = []
    for outcome in outcomes:
        where = outcome.about or "the " + outcome.label.replace("_", " ")
        if not outcome.ok:
            problems += [f"{where}: {outcome.error}"] * (len(parts) if parts else 1)
            continue
        for part in parts or [None]:
            reason = judge(outcome.value, outcome) if parts is None else judge(outcome.value, outcome, part)
            if reason:
                problems.append(f"{where}: {reason}")
    if total == 0:
        raise AssertionError(f"{what}: nothing could be checked")
    if not problems:
        return
    right = total - len(problems)
    message = f"{what}: {right} of {total} right; for example, {problems[0]}"
    if all_or_nothing:
        raise AssertionError(message)
    raise PartialCredit(right, total, message)


# -- architecture, for the questions that specify a network layer by layer -----------------------

def assert_parameter_count(model, expected: int, name: str = "your model",
                           compare_with: str = "the architecture table") -> None:
    """`model` (a rebuilt model) has `expected` parameters, every one trainable."""
    total, trainable = model.count_params()
    assert total == expected, f"{name} has {total:,} parameters: compare it layer by layer with {compare_with}"
    assert trainable == total, f"only {trainable:,} of the {total:,} parameters of {name} are trainable"


def assert_conv_layers(model, filters: Sequence[int], spatial: Sequence[tuple[int, int]], name: str = "your model",
                       kernel: tuple[int, int] = (3, 3)) -> None:
    """`model`'s convolutions, in order: `kernel`-sized, with these filter counts, and feature maps of
    these spatial sizes (which padding and the pooling layers' places decide)."""
    convs = model.conv_layers()
    assert len(convs) == len(filters), f"{name} has {len(convs)} convolutional layers, not as specified"
    whose = "" if name == "your model" else f" of {name}"
    for i, (conv, count, size) in enumerate(zip(convs, filters, spatial), start=1):
        assert tuple(conv["kernel_size"]) == tuple(kernel), f"convolution {i}{whose} has a {conv['kernel_size']} kernel"
        assert conv["filters"] == count, f"convolution {i}{whose} has {conv['filters']} filters, not as specified"
        got = tuple(conv["output_shape"][:2])
        assert got == tuple(size), \
            f"convolution {i}{whose} outputs {got[0]}x{got[1]} feature maps: check the padding and where the pooling is"
