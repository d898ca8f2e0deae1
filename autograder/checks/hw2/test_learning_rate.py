"""Hidden checks for learning_rate: sgd_step, diagnose_curve on generated loss curves, and the four rates.

- sgd_step is called (through the notebook's locked hook, which also returns what is left in the `w`
  it was given) on random weights and mini-batches, and compared with the NumPy formula here.
- diagnose_curve is called on loss curves drawn here, of every regime, at random lengths (20 to 300
  steps) and scales (first value from 1e-2 to 1e4). Each drawn curve is measured with the
  notebook's own definitions and drawn again unless it keeps the margins the notebook promises
  (`_measures`, `_keeps_promises`); so any classifier whose thresholds lie in the promised gaps is
  right on every case. Noisy healthy curves all end on a step up (a single-step test misreads
  them); half of the oscillating curves end on a step up, half on a step down; half of the
  diverging curves end in NaN (overflow, or a loss that turns NaN), where `nan > x` is False.
- The four learning rates are read as numbers only: the training is redone here, with a correct
  sgd_step on the notebook's data and mini-batches (same seeds), and each curve is diagnosed by
  the reference classifier (`reference_diagnosis`, the master's, thresholds inside the gaps).
"""
from functools import lru_cache

import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, compare_shapes, numeric_problem, score

STEP_HOOK = "sgd_step_for_grading"
RATES_HOOK = "learning_rates_for_grading"
DIAGNOSE = "diagnose_curve"
DIAGNOSES = ("diverging", "oscillating", "too_slow", "healthy")
RATE_REGIMES = {"far_too_high": "diverging", "too_high": "oscillating", "good": "healthy", "too_low": "too_slow"}


# -- references -----------------------------------------------------------------------------------
def reference_step(w, X_batch, y_batch, lr):
    """w - lr * X^T (X w - y) / m, computed as the master does (so the curves are the same bits)."""
    residual = X_batch @ w - y_batch
    gradient = X_batch.T @ residual / len(residual)
    return w - lr * gradient


def _windows(curve):
    """The notebook's definitions: k, L_end (mean of the last k) and L_mid (mean of k around T/2)."""
    steps = len(curve)
    k = max(2, steps // 10)
    start = steps // 2 - k // 2
    return k, curve[-k:].mean(), curve[start:start + k].mean()


def reference_diagnosis(losses) -> str:
    """The master's diagnose_curve (thresholds 2 % and 20 %, inside the notebook's gaps)."""
    curve = np.asarray(losses, dtype=float)
    if not np.all(np.isfinite(curve)):
        return "diverging"
    _, end, middle = _windows(curve)
    if end > curve[0]:
        return "diverging"
    total_drop = curve[0] - curve.min()
    mean_rise = np.maximum(np.diff(curve[len(curve) // 2:]), 0).mean()
    if mean_rise > 0.02 * total_drop:
        return "oscillating"
    if middle - end > 0.2 * (curve[0] - end):
        return "too_slow"
    return "healthy"


@lru_cache(maxsize=1)
def _regression():
    """The notebook's data (its locked setup cell, same seed)."""
    data_rng = np.random.default_rng(0)
    n = 256
    X = np.column_stack([data_rng.normal(0, 1, n), data_rng.normal(0, 3, n)])
    y = X @ np.array([4.0, -0.5]) + data_rng.normal(0, 1.0, n)
    return X, y


@lru_cache(maxsize=16)
def reference_curve(lr: float) -> np.ndarray:
    """The notebook's train(lr) (200 steps, batches of 16, seed 1) with a correct sgd_step."""
    X, y = _regression()
    n = len(y)
    mse = lambda w: 0.5 * np.mean((X @ w - y) ** 2)  # noqa: E731
    rng = np.random.default_rng(1)
    w = np.zeros(X.shape[1])
    losses = [mse(w)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(200):
            batch = rng.choice(n, size=16, replace=False)
            w = reference_step(w, X[batch], y[batch], lr)
            losses.append(mse(w))
    return np.array(losses)


# -- generated loss curves --------------------------------------------------------------------------
def _measures(curve) -> dict:
    """What the notebook's promises are about, for a finite curve."""
    steps = len(curve)
    _, end, middle = _windows(curve)
    drop = curve[0] - curve.min()
    half = curve[steps // 2:]
    return {"rise": np.maximum(np.diff(half), 0).mean() / drop,
            "late": (middle - end) / (curve[0] - end),
            "late_points": (curve[steps // 2] - curve[-1]) / (curve[0] - curve[-1]),
            "end": end, "drop": drop, "half_max": half.max()}


def _keeps_promises(curve, regime: str, noisy: bool = False) -> bool:
    """The curve is far from every boundary the notebook states (drawn again otherwise)."""
    if regime == "diverging":
        finite = np.isfinite(curve)
        if not finite.all():
            return bool(np.isnan(curve[-1]) and (curve[finite] > 0).all())
        k = max(2, len(curve) // 10)
        return bool((curve > 0).all() and curve[-k:].min() > 3 * curve[0])
    if not (np.isfinite(curve).all() and (curve > 0).all()):
        return False
    m = _measures(curve)
    below = m["half_max"] < curve[0] - 0.25 * m["drop"]   # never back up near the start
    if regime == "oscillating":
        return bool(below and 0.065 < m["rise"] < 0.19)
    if regime == "too_slow":
        return bool(below and m["rise"] == 0 and m["late"] > 0.36 and m["late_points"] > 0.36)
    rise_ok = 0.002 < m["rise"] < 0.009 if noisy else m["rise"] == 0
    return bool(below and rise_ok and m["late"] < 0.045 and m["late_points"] < 0.08)


def _length(rng) -> int:
    return int(np.exp(rng.uniform(np.log(20), np.log(300))))


def _fast_shape(rng, steps: int) -> np.ndarray:
    """A healthy decrease from 1: most of it early, flat at the end."""
    t = np.arange(steps, dtype=float)
    kind = rng.choice(["exponential", "power", "plateau"])
    if kind == "exponential":
        return np.exp(-t / (steps * rng.uniform(1 / 40, 1 / 10)))
    if kind == "power":
        return (1 + t / (steps * rng.uniform(1 / 100, 1 / 30))) ** -rng.uniform(1.5, 3)
    centre, width = steps * rng.uniform(0.05, 0.15), steps * rng.uniform(0.01, 0.03)
    s = 1 / (1 + np.exp((t - centre) / width))      # a short plateau, then a drop
    return (s - s[-1]) / (s[0] - s[-1])


def _slow_shape(rng, steps: int) -> np.ndarray:
    """A decrease from 1 that is still going on at the end."""
    u = np.arange(steps, dtype=float) / (steps - 1)
    kind = rng.choice(["linear", "exponential", "power", "accelerating"])
    if kind == "linear":
        return 1 - rng.uniform(0.2, 0.9) * u
    if kind == "exponential":
        return np.exp(-u / rng.uniform(1.2, 6))
    if kind == "power":
        return (1 + u / rng.uniform(1.5, 5)) ** -rng.uniform(0.5, 1.5)
    return 1 - rng.uniform(0.2, 0.9) * u ** rng.uniform(1.2, 2)


def _bounces(rng, steps: int) -> np.ndarray:
    """Non-negative bounces of height about 1 (0 at the first step)."""
    t = np.arange(steps)
    kind = rng.choice(["zigzag", "uniform", "spikes", "wave"])
    if kind == "zigzag":
        u = (t % 2 == rng.integers(2)) * rng.uniform(0.4, 1.0, steps)
    elif kind == "uniform":
        u = rng.uniform(0, 1, steps)
    elif kind == "spikes":
        u = (rng.random(steps) < rng.uniform(0.25, 0.5)) * rng.uniform(0.5, 1.0, steps)
    else:
        u = (1 + np.sin(2 * np.pi * t / rng.uniform(3, 8) + rng.uniform(0, 2 * np.pi))) / 2
        u = u * rng.uniform(0.7, 1.0, steps)
    u[0] = 0.0
    return u


def _start_and_floor(rng):
    start = 10 ** rng.uniform(-2, 4)
    return start, start * rng.uniform(0.05, 0.6)


def _healthy(rng, noisy: bool) -> np.ndarray:
    while True:
        steps = _length(rng)
        start, floor = _start_and_floor(rng)
        curve = floor + (start - floor) * _fast_shape(rng, steps)
        if noisy:
            sigma = (start - floor) * rng.uniform(0.004, 0.014)   # an average rise of 0.2 % to 0.8 %
            noise = rng.normal(0, sigma, steps)
            noise[0] = 0.0
            if noise[-1] < noise[-2]:
                noise[-2:] = noise[-2:][::-1]                    # end on a step up
            curve = curve + noise
            if not curve[-1] > curve[-2]:
                continue
        if _keeps_promises(curve, "healthy", noisy):
            return curve


def _too_slow(rng) -> np.ndarray:
    while True:
        steps = _length(rng)
        start, floor = _start_and_floor(rng)
        curve = floor + (start - floor) * _slow_shape(rng, steps)
        if _keeps_promises(curve, "too_slow"):
            return curve


def _oscillating(rng, ends_up: bool) -> np.ndarray:
    while True:
        steps = _length(rng)
        start, floor = _start_and_floor(rng)
        trend = floor + (start - floor) * _fast_shape(rng, steps)
        bounces = _bounces(rng, steps)
        if (bounces[-1] > bounces[-2]) != ends_up:
            continue
        target, low, high = rng.uniform(0.07, 0.18), 0.0, 2.0 * (start - floor)
        for _ in range(50):      # the height of the bounces that gives the target average rise
            height = (low + high) / 2
            if _measures(trend + height * bounces)["rise"] < target:
                low = height
            else:
                high = height
        curve = trend + height * bounces
        if (curve[-1] > curve[-2]) == ends_up and _keeps_promises(curve, "oscillating"):
            return curve


NAN_ENDINGS = ("overflow", "drop_then_overflow", "sudden_nan")


def _diverging(rng, kind: str) -> np.ndarray:
    while True:
        steps = _length(rng)
        start, floor = _start_and_floor(rng)
        t = np.arange(steps, dtype=float)
        if kind in ("growth", "overflow"):
            onset, base = 0, np.full(steps, start)
        else:                                   # it goes down first, then blows up
            onset = int(steps * rng.uniform(0.2, 0.6))
            base = floor + (start - floor) * _fast_shape(rng, steps)
        after = np.maximum(t - onset, 0)
        with np.errstate(over="ignore", invalid="ignore"):
            if kind in ("overflow", "drop_then_overflow"):
                top = onset + (steps - onset) * rng.uniform(0.4, 0.9)   # where it passes 1e308
                exponent = np.log10(base) + after * (309 - np.log10(base[int(top)])) / (top - onset)
                curve = 10.0 ** exponent
                first_inf = int(np.argmax(~np.isfinite(curve)))
                curve[first_inf + 1:] = np.nan
            elif kind == "sudden_nan":
                curve = floor + (start - floor) * _fast_shape(rng, steps)
                curve[int(steps * rng.uniform(0.3, 0.9)):] = np.nan
            else:
                growth = 10 ** rng.uniform(1, 30)
                curve = base * growth ** (after / (steps - 1 - onset)) * np.exp(rng.normal(0, 0.02, steps))
                curve[0] = start
        if np.isnan(curve[-1]) == (kind in NAN_ENDINGS) and _keeps_promises(curve, "diverging"):
            return curve


def _curves(rng) -> dict[str, Case]:
    cases = {}
    finite = [str(rng.choice(["growth", "drop_then_growth"])) for _ in range(3)]
    for i, kind in enumerate(finite + list(NAN_ENDINGS)):
        cases[f"diverging-{i}"] = Case(_diverging(rng, kind))
    for i in range(6):
        cases[f"oscillating-{i}"] = Case(_oscillating(rng, ends_up=i % 2 == 0))
    for i in range(4):
        cases[f"too_slow-{i}"] = Case(_too_slow(rng))
    for i in range(4):
        cases[f"healthy-{i}"] = Case(_healthy(rng, noisy=False))
    for i in range(6):
        cases[f"noisy-{i}"] = Case(_healthy(rng, noisy=True))
    return cases


def _describe_curve(case: Case) -> str:
    curve = case.args[0]
    return f"a loss curve of {len(curve)} steps starting at {curve[0]:.3g}"


# -- sgd_step cases ---------------------------------------------------------------------------------
def _steps(rng) -> dict[str, Case]:
    cases = {}
    for i in range(8):
        d, m = int(rng.integers(1, 7)), int(rng.integers(2, 33))
        X_batch = rng.normal(size=(m, d)) * rng.uniform(0.5, 3, size=d)
        cases[f"step_{i}"] = Case(rng.normal(size=d) * 2, X_batch, rng.normal(size=m) * 3,
                                  float(10 ** rng.uniform(-3, 0)))
    return cases


def _describe_step(case: Case) -> str:
    w, X_batch, _, lr = case.args
    return f"w of length {len(w)}, a batch of {len(X_batch)} examples, lr {lr:.3g}"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return (HarvestRequest()
            .cases(STEP_HOOK, _steps(rng), describe=_describe_step)
            .cases(DIAGNOSE, _curves(rng), describe=_describe_curve)
            .cases(RATES_HOOK, {"rates": Case()}, describe=lambda case: "your learning_rates"))


# -- judges -----------------------------------------------------------------------------------------
def _step_result(got):
    if not isinstance(got, dict) or "new_w" not in got or "w_after" not in got:
        return None, "sgd_step did not return the new weights"
    return got, None


def _judge_step(got, outcome):
    got, problem = _step_result(got)
    if problem:
        return problem
    w, X_batch, y_batch, lr = outcome.args
    problem = compare_arrays(got["new_w"], reference_step(w, X_batch, y_batch, lr))
    if problem == "wrong values":
        summed = w - lr * X_batch.T @ (X_batch @ w - y_batch)
        if compare_arrays(got["new_w"], summed) is None:
            return "wrong values: the gradient is summed over the batch; it is the mean (divide by m)"
    return problem


def _judge_keeps_w(got, outcome):
    got, problem = _step_result(got)
    if problem:
        return problem
    w, X_batch, y_batch, lr = outcome.args
    problem = compare_shapes(got["new_w"], w.shape)
    if problem:
        return problem
    step = got["new_w"].astype(float) - w
    downhill = reference_step(w, X_batch, y_batch, lr) - w
    if not step @ downhill > (1 - 1e-6) * np.linalg.norm(step) * np.linalg.norm(downhill):
        return "the new weights are not a step against the gradient, so this could not be judged"
    if compare_shapes(got["w_after"], w.shape) or not np.array_equal(got["w_after"], w):
        return "sgd_step changed the array w it was given: compute the new weights in a new array"
    return None


def _judge_diagnosis(regime: str):
    def judge(got, outcome):
        if type(got) is not str:
            return "diagnose_curve should return one of the strings 'diverging', 'oscillating', 'too_slow', 'healthy'"
        if got not in DIAGNOSES:
            return f"diagnose_curve returned {got[:40]!r}, which is not one of the four diagnoses"
        if got != regime:
            return f"diagnose_curve returned {got!r}"
        return None
    return judge


def _judge_rate(got, outcome, key):
    if not isinstance(got, dict):
        return "learning_rates should be a dict of four numbers"
    if key not in got:
        return f"learning_rates has no key {key!r}"
    value = got[key]
    if numeric_problem(value) or value.size != 1:
        return f"learning_rates[{key!r}] is not a number"
    lr = float(value.reshape(()))
    if not lr > 0:
        return f"learning_rates[{key!r}] is not a positive number"
    diagnosis = reference_diagnosis(reference_curve(lr))
    if diagnosis != RATE_REGIMES[key]:
        return f"with learning_rates[{key!r}] the training curve is {diagnosis.replace('_', ' ')}"
    return None


def _curves_of(submission, group: str):
    return [o for o in submission.calls(DIAGNOSE) if o.label.rsplit("-", 1)[0] == group]


# -- checks -----------------------------------------------------------------------------------------
@pytest.mark.points(2)
def test_sgd_step(submission):
    """sgd_step returns w - lr times the mean gradient over the batch, for random shapes and batches."""
    score(submission.calls(STEP_HOOK), _judge_step, what="sgd_step")


@pytest.mark.points(1)
def test_sgd_step_keeps_w(submission):
    """sgd_step returns a new array and leaves the w it was given unchanged."""
    score(submission.calls(STEP_HOOK), _judge_keeps_w, what="sgd_step and its input w", all_or_nothing=True)


@pytest.mark.points(2)
def test_diverging(submission):
    """diagnose_curve says 'diverging' for curves that blow up, including those that end in inf or NaN."""
    score(_curves_of(submission, "diverging"), _judge_diagnosis("diverging"), what="diverging curves")


@pytest.mark.points(2)
def test_oscillating(submission):
    """diagnose_curve says 'oscillating' for curves that keep bouncing, whichever way their last step goes."""
    score(_curves_of(submission, "oscillating"), _judge_diagnosis("oscillating"), what="oscillating curves")


@pytest.mark.points(1)
def test_too_slow(submission):
    """diagnose_curve says 'too_slow' for curves still going down steadily at the end."""
    score(_curves_of(submission, "too_slow"), _judge_diagnosis("too_slow"), what="too slow curves")


@pytest.mark.points(1)
def test_healthy(submission):
    """diagnose_curve says 'healthy' for smooth curves that drop quickly, then flatten."""
    score(_curves_of(submission, "healthy"), _judge_diagnosis("healthy"), what="healthy curves")


@pytest.mark.points(1)
def test_healthy_noisy(submission):
    """diagnose_curve says 'healthy' for healthy curves with mini-batch noise (single steps go up)."""
    score(_curves_of(submission, "noisy"), _judge_diagnosis("healthy"), what="noisy healthy curves")


@pytest.mark.points(2)
def test_learning_rates(submission):
    """Each of the four learning rates gives its regime when the grader trains with it."""
    score(submission.calls(RATES_HOOK), _judge_rate, parts=list(RATE_REGIMES), what="learning rates")
