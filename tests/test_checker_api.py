"""The check-writing API (autograder/checker/api.py): accounting, garbage refusal, messages."""
import numpy as np
import pytest

from autograder.checker.api import (Case, HarvestRequest, Outcome, PartialCredit, compare_arrays, compare_shapes,
                                    numeric_problem, score)


class AlwaysEqual:
    def __eq__(self, other):
        return True


def outcome(value=None, error=None, label="case"):
    return Outcome(label, (), {}, value=value, error=error)


def equals_one(got, case, part=None):
    value = got[part] if part else got
    return compare_arrays(value, np.ones(2))


def test_all_right_earns_everything():
    score([outcome(np.ones(2)), outcome(np.ones(2))], equals_one, what="ones")  # raises nothing


def test_partial_credit_is_the_share_of_cases_right():
    with pytest.raises(PartialCredit) as err:
        score([outcome(np.ones(2)), outcome(np.zeros(2), label="zeros")], equals_one, what="ones")
    assert err.value.fraction == 0.5
    assert str(err.value) == "ones: 1 of 2 right; for example, the zeros: wrong values"


def test_a_failed_call_loses_every_comparison_it_would_have_made():
    parts = ["a", "b", "c", "d"]
    right = outcome({p: np.ones(2) for p in parts})
    failed = outcome(error="calling f() failed: NotImplementedError")
    with pytest.raises(PartialCredit) as err:
        score([right, failed], equals_one, parts=parts, what="parts")
    assert err.value.fraction == 4 / 8
    assert "NotImplementedError" in str(err.value)


def test_all_or_nothing_gives_nothing_unless_every_case_is_right():
    with pytest.raises(AssertionError) as err:
        score([outcome(np.ones(2)), outcome(np.zeros(2))], equals_one, what="ones", all_or_nothing=True)
    assert not isinstance(err.value, PartialCredit)


def test_nothing_judged_earns_nothing():
    with pytest.raises(AssertionError, match="nothing could be checked"):
        score([], equals_one, what="ones")


@pytest.mark.parametrize("garbage", [np.full((3, 3), np.nan), np.array([1.0, np.inf]), np.ones(2, complex),
                                     np.array(["1", "2"]), AlwaysEqual(), "42", {"a": np.ones(2)}, [1.0, 1.0]])
def test_garbage_earns_nothing_from_any_comparison(garbage):
    assert numeric_problem(garbage)
    assert compare_shapes(garbage, np.shape(garbage) if isinstance(garbage, np.ndarray) else (2,))
    assert compare_arrays(garbage, np.ones(2) if not isinstance(garbage, np.ndarray) else np.ones(garbage.shape))


def test_comparisons_accept_integer_and_float_results():
    assert compare_arrays(np.array([1, 1]), np.ones(2)) is None
    assert compare_arrays(np.ones(2, np.float32), np.ones(2)) is None
    assert compare_shapes(np.ones((2, 3)), (3, 2)) == "the output has shape (2, 3), which is not the right size"


def test_cases_get_names_and_descriptions_from_the_request(tmp_path):
    request = HarvestRequest().cases("f", {"small": Case(np.ones(2), k=1), "big": Case(np.ones(9), k=3)},
                                     describe=lambda case: f"k={case.kwargs['k']}")
    request.write(tmp_path)
    again = HarvestRequest.read(tmp_path)
    assert again.calls_of("f") == ["f-small", "f-big"]
    assert [again.label(n) for n in again.calls_of("f")] == ["small", "big"]
    assert again.about("f-big") == "k=3"
    args, kwargs = again.call_args("f-big")
    assert np.array_equal(args[0], np.ones(9)) and kwargs == {"k": 3}
