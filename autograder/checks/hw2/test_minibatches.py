"""Hidden checks for minibatches: minibatch_indices by its properties, and the three loss curves.

The notebook's locked hook calls `minibatch_indices` for a list of epochs and returns, per epoch,
the concatenated indices (`order_<epoch>`) and the batch sizes (`sizes_<epoch>`). No random stream
is expected: every check is a property (coverage, sizes, order without shuffling, reproducibility,
epochs and seeds that differ, a fresh shuffle of the examples each epoch). Case sizes are drawn so
that chance cannot decide a check: at least 20 examples and 8 batches where orders are compared.
Each classic mistake loses its own check: the same permutation every epoch (epochs differ, fresh
shuffle), only the order of the batches shuffled (fresh shuffle), indices drawn with replacement
(coverage), the partial batch always dropped (coverage, sizes) or never dropped (drop_last),
shuffle=False ignored (unshuffled order).
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, numeric_problem, score

EPOCHS = [0, 1, 2, 3]
SHUFFLED = ("divisible", "remainder", "batch_one", "whole", "large")          # drop_last=False
DROPPING = ("drop_remainder", "drop_divisible", "drop_large", "drop_whole", "drop_too_big")
PLAIN = ("plain_divisible", "plain_remainder", "plain_drop")                  # shuffle=False
FRESH = ("divisible", "remainder", "batch_one", "large")                      # n >= 20, many batches
REPEATS = {"repeat_remainder": "remainder", "repeat_large": "large"}          # same call, epochs reversed
OTHER_SEEDS = {"other_seed_remainder": "remainder", "other_seed_large": "large"}
LABEL_SEED = 5                                   # the notebook's `np.random.default_rng(5).permutation(3)`
REGIMES = ("batch", "minibatch", "stochastic")   # the order of the notebook's `runs`


# -- cases ------------------------------------------------------------------------------------------
def _seed(rng) -> int:
    return int(rng.integers(0, 2 ** 31 - 1))


def _case(n, batch_size, seed, *, shuffle=True, drop_last=False, epochs=EPOCHS) -> Case:
    return Case(int(n), int(batch_size), list(epochs), int(seed), shuffle=shuffle, drop_last=drop_last)


def _divisible(rng, batches=(8, 12)):
    b = int(rng.integers(3, 9))
    return b * int(rng.integers(batches[0], batches[1] + 1)), b


def _remainder(rng, batches=(8, 12)):
    b = int(rng.integers(3, 9))
    return b * int(rng.integers(batches[0], batches[1] + 1)) + int(rng.integers(1, b)), b


def _large(rng):
    while True:
        n, b = int(rng.integers(300, 601)), int(rng.choice([16, 32]))
        if n % b:
            return n, b


def harvest(rng: np.random.Generator) -> HarvestRequest:
    cases = {
        "divisible": _case(*_divisible(rng), _seed(rng)),
        "remainder": _case(*_remainder(rng), _seed(rng)),
        "batch_one": _case(int(rng.integers(20, 61)), 1, _seed(rng)),
        "whole": _case(n := int(rng.integers(8, 31)), n + int(rng.integers(1, 6)), _seed(rng)),
        "large": _case(*_large(rng), _seed(rng)),
        "drop_remainder": _case(*_remainder(rng, (3, 8)), _seed(rng), drop_last=True),
        "drop_divisible": _case(*_divisible(rng, (3, 8)), _seed(rng), drop_last=True),
        "drop_large": _case(*_large(rng), _seed(rng), drop_last=True),
        "drop_whole": _case(n := int(rng.integers(8, 31)), n, _seed(rng), drop_last=True),
        "drop_too_big": _case(n := int(rng.integers(3, 16)), n + int(rng.integers(1, 6)), _seed(rng), drop_last=True),
        "plain_divisible": _case(*_divisible(rng, (2, 6)), _seed(rng), shuffle=False),
        "plain_remainder": _case(*_remainder(rng, (2, 6)), _seed(rng), shuffle=False),
        "plain_drop": _case(*_remainder(rng, (2, 6)), _seed(rng), shuffle=False, drop_last=True),
    }
    for label, original in REPEATS.items():
        n, b, epochs, seed = cases[original].args
        cases[label] = _case(n, b, seed, epochs=epochs[::-1])
    for label, original in OTHER_SEEDS.items():
        n, b, epochs, seed = cases[original].args
        other = _seed(rng)
        while other == seed:
            other = _seed(rng)
        cases[label] = _case(n, b, other)
    describe = lambda c: (f"n={c.args[0]}, batch_size={c.args[1]}, seed={c.args[3]}, "  # noqa: E731
                          f"shuffle={c.kwargs['shuffle']}, drop_last={c.kwargs['drop_last']}")
    return (HarvestRequest()
            .cases("minibatch_indices_for_grading", cases, describe=describe)
            .cases("curve_regimes_for_grading", {"labels": Case()}, describe=lambda c: "curve_regimes"))


# -- reading the hook's output ------------------------------------------------------------------------
def _epoch(value, epoch):
    """(order, sizes) of one epoch as int64 arrays, or (None, a reason)."""
    if not isinstance(value, dict):
        return None, "minibatch_indices did not give batches that could be read"
    order, sizes = value.get(f"order_{epoch}"), value.get(f"sizes_{epoch}")
    if order is None or sizes is None:
        return None, "an epoch is missing from the result"
    for array in (order, sizes):
        problem = numeric_problem(array)
        if problem:
            return None, problem
    if order.size and order.dtype.kind not in "iu":
        return None, "the batches should hold integer indices (positions of examples), not other numbers"
    if order.ndim != 1 or sizes.ndim != 1 or int(sizes.sum()) != order.size:
        return None, "the batches could not be read as 1-D arrays of indices"
    return (order.astype(np.int64), sizes.astype(np.int64)), None


def _epochs(value, outcome):
    """[(epoch, order, sizes)] of every epoch of the case, or a reason."""
    found = []
    for epoch in outcome.args[2]:
        read, problem = _epoch(value, epoch)
        if problem:
            return None, problem
        found.append((epoch,) + read)
    return found, None


def _full_sizes(n, b):
    return [b] * (n // b) + ([n % b] if n % b else [])


def _calls(submission, labels):
    outcomes = {o.label: o for o in submission.calls("minibatch_indices_for_grading")}
    return [outcomes[label] for label in labels if label in outcomes]


def _by_label(submission):
    return {o.label: o for o in submission.calls("minibatch_indices_for_grading")}


# -- judges -------------------------------------------------------------------------------------------
def _judge_coverage(value, outcome):
    epochs, problem = _epochs(value, outcome)
    if problem:
        return problem
    n, drop_last = outcome.args[0], outcome.kwargs["drop_last"]
    for _, order, _ in epochs:
        if order.size and (order.min() < 0 or order.max() >= n):
            return "an index is outside 0, ..., n - 1"
        if np.unique(order).size != order.size:
            return ("an example appears twice in the same epoch: draw a permutation of the examples, "
                    "not indices with replacement")
        if not drop_last and order.size != n:
            return "some examples are missing from an epoch: every example must be used once per epoch"
    return None


def _judge_sizes(value, outcome):
    epochs, problem = _epochs(value, outcome)
    if problem:
        return problem
    n, b = outcome.args[:2]
    for _, _, sizes in epochs:
        if sizes.tolist() != _full_sizes(n, b):
            if n % b and sizes.tolist() == [b] * (n // b):
                return "the last, partial batch is missing: it is kept unless drop_last=True"
            return ("wrong batch sizes: every batch holds batch_size examples, except a last, smaller one "
                    "with the examples left over")
    return None


def _judge_drop_last(value, outcome):
    epochs, problem = _epochs(value, outcome)
    if problem:
        return problem
    n, b = outcome.args[:2]
    for _, _, sizes in epochs:
        if sizes.tolist() != [b] * (n // b):
            if sizes.tolist() == _full_sizes(n, b):
                return "with drop_last=True the last, partial batch must be left out"
            return "wrong batch sizes with drop_last=True: only full batches of batch_size examples are kept"
    return None


def _judge_unshuffled(value, outcome):
    epochs, problem = _epochs(value, outcome)
    if problem:
        return problem
    n, b = outcome.args[:2]
    for _, order, _ in epochs:
        if order.size not in (n, n - n % b) or not np.array_equal(order, np.arange(order.size)):
            return "with shuffle=False the batches should take the examples in order: 0, 1, 2, ..."
    return None


def _pairs(value, outcome, other_value, other_outcome):
    """The epochs of two outcomes side by side, or a reason."""
    if not other_outcome.ok:
        return None, "the first call could not be compared: " + other_outcome.error[:300]
    mine, problem = _epochs(value, outcome)
    theirs, other_problem = _epochs(other_value, other_outcome)
    if problem or other_problem:
        return None, problem or other_problem
    theirs = {epoch: (order, sizes) for epoch, order, sizes in theirs}
    return [(epoch, order, sizes) + theirs[epoch] for epoch, order, sizes in mine if epoch in theirs], None


def _partition(order, sizes):
    bounds = np.cumsum(sizes)[:-1]
    return {frozenset(batch.tolist()) for batch in np.split(order, bounds)}


def _successors(order):
    """The pairs (example, the example after it), the last one followed by the first."""
    return set(zip(order.tolist(), np.roll(order, -1).tolist()))


def _judge_fresh(value, outcome):
    epochs, problem = _epochs(value, outcome)
    if problem:
        return problem
    n, b = outcome.args[:2]
    for (_, before, before_sizes), (_, after, after_sizes) in zip(epochs, epochs[1:]):
        if np.array_equal(before, after):
            return "an epoch repeats the order of the previous one: draw a new permutation every epoch"
        if 1 < b < n and _partition(before, before_sizes) == _partition(after, after_sizes):
            return ("the same examples share a batch in every epoch: shuffle the examples themselves, "
                    "not only the order of the batches")
        if len(_successors(before) & _successors(after)) >= n / 2:
            return ("the order of an epoch is the previous one moved around: draw a new permutation of "
                    "the examples every epoch")
    return None


# -- checks -------------------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_coverage(submission):
    """Shuffled epochs hold every example exactly once (at most once with drop_last=True)."""
    score(_calls(submission, SHUFFLED + DROPPING[:-1]), _judge_coverage, what="examples in each epoch")


@pytest.mark.points(1)
def test_sizes(submission):
    """Batches hold batch_size examples, and a last, partial batch is kept."""
    score(_calls(submission, SHUFFLED + PLAIN[:2]), _judge_sizes, what="batch sizes")


@pytest.mark.points(1)
def test_drop_last(submission):
    """drop_last=True leaves out the last, partial batch (no batch at all when batch_size > n)."""
    score(_calls(submission, DROPPING + PLAIN[2:]), _judge_drop_last, what="batch sizes with drop_last=True")


@pytest.mark.points(1)
def test_unshuffled(submission):
    """shuffle=False gives the examples in order 0, 1, ..., n - 1."""
    score(_calls(submission, PLAIN), _judge_unshuffled, what="batches without shuffling")


@pytest.mark.points(1)
def test_reproducible(submission):
    """The same seed and epoch give the same batches, whatever was called before."""
    originals = _by_label(submission)

    def judge(value, outcome):
        original = originals[REPEATS[outcome.label]]
        pairs, problem = _pairs(value, outcome, original.value, original)
        if problem:
            return problem
        for _, order, sizes, first_order, first_sizes in pairs:
            if not (np.array_equal(order, first_order) and np.array_equal(sizes, first_sizes)):
                return ("calling minibatch_indices again with the same seed and epoch gave other batches: "
                        "create the random generator inside the function, from the seed and the epoch")
        return None
    score(_calls(submission, tuple(REPEATS)), judge, what="the same seed and epoch, called again")


@pytest.mark.points(1)
def test_epochs_differ(submission):
    """Different epochs, same seed: different orders."""
    def judge(value, outcome):
        epochs, problem = _epochs(value, outcome)
        if problem:
            return problem
        orders = [order for _, order, _ in epochs]
        for i, first in enumerate(orders):
            if any(np.array_equal(first, later) for later in orders[i + 1:]):
                return ("two epochs gave the same order: each epoch needs a new permutation, so the "
                        "epoch must change the random generator as well as the seed")
        return None
    score(_calls(submission, FRESH), judge, what="orders of successive epochs")


@pytest.mark.points(1)
def test_fresh_shuffle(submission):
    """Each epoch reshuffles the examples: which ones share a batch and which follow each other change."""
    score(_calls(submission, FRESH), _judge_fresh, what="a new shuffle every epoch")


@pytest.mark.points(1)
def test_seeds_differ(submission):
    """Different seeds, same epoch: different orders."""
    originals = _by_label(submission)

    def judge(value, outcome):
        original = originals[OTHER_SEEDS[outcome.label]]
        pairs, problem = _pairs(value, outcome, original.value, original)
        if problem:
            return problem
        if any(np.array_equal(order, first_order) for _, order, _, first_order, _ in pairs):
            return "another seed gave the same order: the seed should decide the permutation"
        return None
    score(_calls(submission, tuple(OTHER_SEEDS)), judge, what="orders for two seeds")


def _regimes_of_curves() -> dict:
    """The regime behind each label, from the notebook's fixed seed (as its locked cell draws it)."""
    shown = np.random.default_rng(LABEL_SEED).permutation(len(REGIMES))
    return {label: REGIMES[k] for label, k in zip("ABC", shown)}


@pytest.mark.points(3)
def test_curve_regimes(submission):
    """curve_regimes names the regime (batch, minibatch, stochastic) behind each curve A, B and C."""
    regimes = _regimes_of_curves()

    def judge(value, outcome, label):
        if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
            return "curve_regimes should map 'A', 'B' and 'C' to the strings 'batch', 'minibatch' or 'stochastic'"
        got = value["ABC".index(label)]
        if got not in REGIMES:
            return f"curve {label}: {got[:40]!r} is not one of 'batch', 'minibatch', 'stochastic'"
        return None if got == regimes[label] else f"curve {label} was not produced by that regime"
    score(submission.calls("curve_regimes_for_grading"), judge, parts=["A", "B", "C"], what="regimes of the curves")
