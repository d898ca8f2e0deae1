"""Example submissions of hw2/learning_rate: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# The gradient of the batch loss summed over the examples instead of averaged: every step is m times
# too long (the values are wrong, but it is still a step against the gradient that leaves w alone).
SUMMED_GRADIENT = '''def sgd_step(w, X_batch, y_batch, lr):
    errors = X_batch @ w - y_batch
    grad = X_batch.T @ errors          # sum over the batch
    return w - lr * grad'''

# Right values, but the update is done in place, as optimizers do: the caller's w changes too.
IN_PLACE = '''def sgd_step(w, X_batch, y_batch, lr):
    w = np.asarray(w, dtype=float)
    error = X_batch @ w - y_batch
    grad = X_batch.T @ error / X_batch.shape[0]
    w -= lr * grad                     # update the weights in place
    return w'''


def _diagnose(diverging: str, oscillating: str) -> str:
    """The master's diagnose_curve with its divergence and oscillation tests replaced."""
    return f'''def diagnose_curve(losses):
    curve = np.asarray(losses, dtype=float)
    steps = len(curve)
    window = max(2, steps // 10)
    first, last = curve[0], curve[-window:].mean()
{diverging}
{oscillating}
    middle = curve[steps // 2 - window // 2: steps // 2 - window // 2 + window].mean()
    if middle - last > 0.2 * (first - last):
        return "too_slow"
    return "healthy"'''


RIGHT_DIVERGING = '''    if not np.all(np.isfinite(curve)) or last > first:
        return "diverging"'''
RIGHT_OSCILLATING = '''    rises = np.maximum(np.diff(curve[steps // 2:]), 0)
    if rises.mean() > 0.02 * (first - curve.min()):
        return "oscillating"'''

# Divergence judged from the last value against the first: a curve that ends in NaN passes
# (`nan > first` is False) and, every later comparison with NaN being False too, is "healthy".
LAST_VS_FIRST = _diagnose('''    if curve[-1] > curve[0]:           # the loss ended higher than it started
        return "diverging"''', RIGHT_OSCILLATING)

# Oscillation judged from the last step only: a noisy healthy curve whose last step goes up is
# called oscillating, an oscillating curve whose last step goes down is not.
LAST_STEP_UP = _diagnose(RIGHT_DIVERGING, '''    if curve[-1] > curve[-2]:          # still going up and down at the end
        return "oscillating"''')

# "too_high" taken just past 2 / lambda_max: the loss spikes so much that it ends above its start.
TOO_HIGH_DIVERGES = '''learning_rates = {"far_too_high": 1.0, "too_high": 0.25, "good": 0.05, "too_low": 0.0005}'''

# Correct, written differently: the gradient as a loop over the examples of the batch, other rates
# inside each regime, and a diagnosis from a centred moving average (noise measured as the mean
# distance to it).
LOOP_STEP = '''def sgd_step(w, X_batch, y_batch, lr):
    grad = np.zeros(len(w))
    for x_i, y_i in zip(X_batch, y_batch):
        grad += (np.dot(x_i, w) - y_i) * x_i
    grad /= len(y_batch)
    return np.array(w, dtype=float) - lr * grad'''

OTHER_RATES = '''learning_rates = dict(far_too_high=1.0, too_high=0.17, good=0.08, too_low=0.001)'''

MOVING_AVERAGE = '''def diagnose_curve(losses):
    losses = np.array(losses, dtype=np.float64)
    if np.isnan(losses).any() or np.isinf(losses).any():
        return "diverging"
    n = len(losses)
    w = max(3, n // 10) | 1                       # an odd window, so that it can be centred
    smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
    centre = losses[w // 2: w // 2 + len(smooth)]
    if smooth[-1] > losses[0]:
        return "diverging"
    scale = losses[0] - losses.min()
    half = len(smooth) // 2
    wiggle = np.abs(centre[half:] - smooth[half:]).mean() / scale
    if wiggle > 0.02:
        return "oscillating"
    if (smooth[half] - smooth[-1]) / (losses[0] - smooth[-1]) > 0.15:
        return "too_slow"
    return "healthy"'''

EXAMPLES = [
    Example("loop_and_moving_average", "nothing: the gradient as a loop over the batch, other rates inside each "
            "regime, a diagnosis from a centred moving average",
            answers={"lr_step_solution": LOOP_STEP, "lr_rates_solution": OTHER_RATES,
                     "lr_diagnose_solution": MOVING_AVERAGE}),
    Example("summed_gradient", "sgd_step sums the gradient over the batch instead of averaging it",
            answers={"lr_step_solution": SUMMED_GRADIENT}, points={"test_sgd_step": 0}),
    Example("in_place_update", "sgd_step updates w in place (`w -= lr * grad`): right values, but the caller's "
            "w changes", answers={"lr_step_solution": IN_PLACE}, points={"test_sgd_step_keeps_w": 0}),
    Example("last_vs_first", "diverging judged by `curve[-1] > curve[0]` only: curves ending in NaN are missed",
            answers={"lr_diagnose_solution": LAST_VS_FIRST}, points={"test_diverging": 1}),
    Example("last_step_up", "oscillating judged from the last step only: noisy healthy curves called oscillating, "
            "oscillating curves ending on a step down missed",
            answers={"lr_diagnose_solution": LAST_STEP_UP}, points={"test_oscillating": 1, "test_healthy_noisy": 0}),
    Example("too_high_diverges", "the \"too_high\" rate is past the edge: its curve diverges instead of oscillating",
            answers={"lr_rates_solution": TOO_HIGH_DIVERGES}, points={"test_learning_rates": 1.5}),
]
