"""Example submissions of hw2/minibatches: realistic answers and exactly what they earn (see autograder/examples.py).

Partial credit is per case (see the check file): `coverage` has 9 cases (5 without drop_last, 4 with),
`sizes` 7 (of which `divisible`, `batch_one` and `plain_divisible` have no partial batch), `drop_last` 6
(of which `drop_divisible` and `drop_whole` have none), `fresh_shuffle` 4 (of which `batch_one` has
batches of one example).
"""
from autograder.examples import Example

SIGNATURE = "def minibatch_indices(n, batch_size, epoch, seed, shuffle=True, drop_last=False):\n"

# Seeded with the seed only: the same permutation in every epoch (the epoch is ignored).
SAME_PERMUTATION = SIGNATURE + '''    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]'''

# n // batch_size batches, whatever drop_last says: the partial batch is always lost.
ALWAYS_DROPS = SIGNATURE + '''    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if shuffle else np.arange(n)
    num_batches = n // batch_size
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(num_batches)]'''

# drop_last ignored the other way: the partial batch is always kept.
NEVER_DROPS = SIGNATURE + '''    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]'''

# "Random indices" drawn with rng.choice, whose replace=True default repeats some examples and misses others.
WITH_REPLACEMENT = SIGNATURE + '''    rng = np.random.default_rng(seed + epoch)
    if shuffle:
        order = rng.choice(n, size=n)
    else:
        order = np.arange(n)
    stop = (n // batch_size) * batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]'''

# Shuffles whatever shuffle says.
IGNORES_SHUFFLE = SIGNATURE + '''    order = np.random.default_rng([seed, epoch]).permutation(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and n % batch_size != 0:
        batches = batches[:-1]
    return batches'''

# Fixed, consecutive batches; only the order of the batches is shuffled each epoch (so the partial
# batch is not always last either).
SHUFFLES_BATCHES_ONLY = SIGNATURE + '''    batches = [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if drop_last and n % batch_size:
        batches = batches[:-1]
    if shuffle:
        rng = np.random.default_rng([seed, epoch])
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches'''

# Correct, written differently: a generator, rng.shuffle in place, np.array_split at multiples of the
# batch size, a generator seeded with seed + epoch.
GENERATOR = SIGNATURE + '''    indices = np.arange(n)
    if shuffle:
        rng = np.random.default_rng(seed + epoch)
        rng.shuffle(indices)
    for batch in np.array_split(indices, range(batch_size, n, batch_size)):
        if drop_last and len(batch) < batch_size:
            break
        yield batch'''

# Correct, the PyTorch way: torch.randperm with a seeded torch.Generator, Tensor.split.
TORCH = '''import torch


''' + SIGNATURE + '''    if shuffle:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=g)
    else:
        perm = torch.arange(n)
    batches = list(perm.split(batch_size))
    if drop_last and len(batches[-1]) < batch_size:
        batches.pop()
    return batches'''

SWAPPED = '''curve_regimes = {"A": "minibatch", "B": "batch", "C": "stochastic"}'''

EXAMPLES = [
    Example("generator_array_split", "nothing: a generator, `rng.shuffle` seeded with `seed + epoch`, "
            "`np.array_split` at multiples of the batch size",
            answers={"mb_iterator_solution": GENERATOR}),
    Example("torch_randperm", "nothing: `torch.randperm` with a seeded `torch.Generator`, `Tensor.split`, "
            "tensors as batches", answers={"mb_iterator_solution": TORCH}),
    Example("same_permutation", "generator seeded with `seed` only: the same permutation every epoch",
            answers={"mb_iterator_solution": SAME_PERMUTATION},
            points={"test_epochs_differ": 0, "test_fresh_shuffle": 0}),
    Example("always_drops_last", "`n // batch_size` batches whatever `drop_last` says: the partial batch "
            "is always lost", answers={"mb_iterator_solution": ALWAYS_DROPS},
            points={"test_coverage": 2 * 6 / 9, "test_sizes": 3 / 7}),
    Example("never_drops_last", "`drop_last` ignored: the partial batch is always kept",
            answers={"mb_iterator_solution": NEVER_DROPS}, points={"test_drop_last": 2 / 6}),
    Example("with_replacement", "indices drawn with `rng.choice(n, size=n)` (replace=True): duplicates and "
            "missing examples", answers={"mb_iterator_solution": WITH_REPLACEMENT}, points={"test_coverage": 0}),
    Example("ignores_shuffle_flag", "always shuffles, even with `shuffle=False`",
            answers={"mb_iterator_solution": IGNORES_SHUFFLE}, points={"test_unshuffled": 0}),
    Example("shuffles_batches_only", "fixed consecutive batches, only their order shuffled each epoch "
            "(the partial batch lands anywhere)", answers={"mb_iterator_solution": SHUFFLES_BATCHES_ONLY},
            points={"test_fresh_shuffle": 1 / 4, "test_sizes": 5 / 7}),
    Example("regimes_swapped", "batch and stochastic gradient descent swapped in `curve_regimes`",
            answers={"mb_regimes_solution": SWAPPED}, points={"test_curve_regimes": 1}),
]
