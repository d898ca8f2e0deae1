"""Example submissions of hw2/batch_norm: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example


def _forward(statistics: str, update: str, check_one: str = "") -> str:
    """A batchnorm_forward: `statistics` chooses what normalises, `update` the running estimates."""
    return f'''def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1, -1] + [1] * (x.ndim - 2)
    n = x.size // x.shape[1]
{check_one}    batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
{statistics}
{update}
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape), new_mean, new_var'''


CHECK_ONE = '''    if training and n == 1:
        raise ValueError("need more than one value per channel to train")
'''
RIGHT_STATISTICS = '''    mean, var = (batch_mean, batch_var) if training else (running_mean, running_var)'''
BATCH_STATISTICS = '''    mean, var = batch_mean, batch_var       # the statistics of the batch, in both modes'''


def _update(keep: str, new: str, variance: str) -> str:
    return f'''    if training:
        new_mean = {keep} * running_mean + {new} * batch_mean
        new_var = {keep} * running_var + {new} * {variance}
    else:
        new_mean, new_var = running_mean.copy(), running_var.copy()'''


UNBIASED = "batch_var * n / (n - 1)"
RIGHT_UPDATE = _update("(1 - momentum)", "momentum", UNBIASED)

# The running variance updated with the biased batch variance (as Keras does).
BIASED_RUNNING = _forward(RIGHT_STATISTICS, _update("(1 - momentum)", "momentum", "batch_var"), CHECK_ONE)
# The momentum used the Keras way round: the old estimate gets weight `momentum`.
KERAS_MOMENTUM = _forward(RIGHT_STATISTICS, _update("momentum", "(1 - momentum)", UNBIASED), CHECK_ONE)
# Evaluation mode normalises with the batch statistics too (the running estimates are kept, unused).
BATCH_STATS_AT_INFERENCE = _forward(BATCH_STATISTICS, RIGHT_UPDATE, CHECK_ONE)
# Right formulas, but a batch of one is not refused (its output is beta, its running variance NaN).
NO_ERROR_FOR_ONE = _forward(RIGHT_STATISTICS, RIGHT_UPDATE)

# Correct, written differently: channels moved last and flattened to a (n, C) matrix, ddof=1.
CHANNELS_LAST = '''def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    moved = np.moveaxis(np.asarray(x, dtype=float), 1, -1)      # (..., C)
    flat = moved.reshape(-1, moved.shape[-1])                  # (n, C)
    if training:
        if flat.shape[0] < 2:
            raise ValueError("Expected more than 1 value per channel when training")
        mean, var = flat.mean(axis=0), flat.var(axis=0)
        new_mean = running_mean + momentum * (mean - running_mean)
        new_var = running_var + momentum * (flat.var(axis=0, ddof=1) - running_var)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = np.copy(running_mean), np.copy(running_var)
    out = gamma * (moved - mean) / np.sqrt(var + eps) + beta
    return np.moveaxis(out, -1, 1), new_mean, new_var'''

EXAMPLES = [
    Example("channels_last", "nothing: channels moved last, statistics of a (n, C) matrix, `ddof=1` for the "
            "running variance, the update written as `running + m (batch - running)`",
            answers={"bn_forward_solution": CHANNELS_LAST}),
    Example("biased_running_var", "running variance updated with the biased batch variance (divided by n)",
            answers={"bn_forward_solution": BIASED_RUNNING}, points={"test_running_var": 0}),
    Example("keras_momentum", "momentum the Keras way round: running = m running + (1 - m) batch",
            answers={"bn_forward_solution": KERAS_MOMENTUM},
            points={"test_running_mean": 0, "test_running_var": 0}),
    Example("batch_stats_at_inference", "evaluation mode normalises with the statistics of the batch",
            answers={"bn_forward_solution": BATCH_STATS_AT_INFERENCE}, points={"test_eval_output": 0}),
    Example("no_error_for_one", "a batch of one in training mode is not refused (returns beta, NaN running variance)",
            answers={"bn_forward_solution": NO_ERROR_FOR_ONE}, points={"test_batch_of_one": 0}),
]
