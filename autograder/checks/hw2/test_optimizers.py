"""Hidden checks for optimizers: sgd, sgd_momentum and adam against torch.optim, and the saddle escape.

The student's functions only see the random inputs, through the notebook's locked grading hook
`optimizers_for_grading(method, A, b, x0, settings)`, which runs one optimizer on the quadratic
f(x) = 1/2 x^T A x + b^T x (gradient A x + b) and returns its trajectory. The references are
torch.optim.SGD / SGD(momentum) / Adam, run here in the trusted process on float64 tensors.

Cases are drawn so that each usual mistake shows: every momentum case tells the buffer updated
after the step and the averaged buffer (1 - mu) g apart from PyTorch's rule, every Adam case tells
Adam without bias correction, eps inside the square root and Keras' epsilon apart (non-default eps,
checked here with NumPy before the case is kept). The saddle cases run f = x^2 - y^2 with PyTorch's
default betas and eps from a point very close to the saddle, where the gradient along y is so small
that the same three Adam mistakes change the trajectory too.
"""
import numpy as np
import pytest

from autograder.checker.api import Case, HarvestRequest, compare_arrays, numeric_problem, score

BUDGET = {"cell_timeout_s": 60, "notebook_timeout_s": 180}  # NumPy on tiny arrays: well under a second
HOOK = "optimizers_for_grading"
SADDLE_A = np.diag([2.0, -2.0])      # f(x, y) = x^2 - y^2 = 1/2 [x y] A [x y]^T
PAIRS = 3                            # saddle cases: SGD and Adam from the same start
MARGIN = 1e-4                        # a mistake must miss the reference by 100 times the tolerance


# -- NumPy versions of the right rules and of the usual mistakes (to draw telling cases and to
# -- name a mistake in a message; the grade itself compares with torch.optim) -------------------
def _run(step, A, b, x0, steps):
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    state = {}
    for t in range(1, steps + 1):
        x = step(x, A @ x + b, t, state)
        path.append(x.copy())
    return np.array(path)


def numpy_sgd(A, b, x0, s):
    return _run(lambda x, g, t, st: x - s["lr"] * g, A, b, x0, s["steps"])


def numpy_momentum(A, b, x0, s, kind="torch"):
    """kind: "torch" (b = mu b + g, then the step), "after" (step with the old buffer, then update
    it), "average" (b = mu b + (1 - mu) g)."""
    lr, mu = s["lr"], s["momentum"]

    def step(x, g, t, st):
        old = st.get("b", np.zeros_like(x))
        if kind == "after":
            st["b"] = mu * old + g
            return x - lr * old
        st["b"] = mu * old + ((1 - mu) * g if kind == "average" else g)
        return x - lr * st["b"]
    return _run(step, A, b, x0, s["steps"])


def numpy_adam(A, b, x0, s, kind="torch"):
    """kind: "torch", "no_bias_correction", "eps_in_sqrt" or "keras" (eps added to sqrt(v) before the
    bias correction, as keras.optimizers.Adam and the paper's "efficient version" write it)."""
    lr, b1, b2, eps = s["lr"], s["beta1"], s["beta2"], s["eps"]

    def step(x, g, t, st):
        st["m"] = b1 * st.get("m", np.zeros_like(x)) + (1 - b1) * g
        st["v"] = b2 * st.get("v", np.zeros_like(x)) + (1 - b2) * g * g
        m, v = st["m"], st["v"]
        if kind == "no_bias_correction":
            return x - lr * m / (np.sqrt(v) + eps)
        if kind == "keras":
            return x - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        if kind == "eps_in_sqrt":
            return x - lr * m_hat / np.sqrt(v_hat + eps)
        return x - lr * m_hat / (np.sqrt(v_hat) + eps)
    return _run(step, A, b, x0, s["steps"])


MOMENTUM_MISTAKES = {
    "after": "they match a step taken with the buffer of the previous step (the buffer must be updated "
             "first, then used)",
    "average": "they match the buffer written as an average, mu b + (1 - mu) g; PyTorch adds the whole "
               "gradient, mu b + g",
}
ADAM_MISTAKES = {
    "no_bias_correction": "they match Adam without the bias correction (m and v are divided by "
                          "1 - beta^t, with t counted from 1)",
    "eps_in_sqrt": "they match eps added inside the square root; PyTorch adds it after: sqrt(v_hat) + eps",
    "keras": "they match Keras' form, eps added to sqrt(v) before the bias correction; PyTorch adds eps "
             "to sqrt(v_hat)",
}


def _telling(reference, variants) -> bool:
    """Every variant misses the reference by far more than the tolerance."""
    return all(compare_arrays(v, reference, rtol=MARGIN, atol=MARGIN) is not None for v in variants)


# -- cases ----------------------------------------------------------------------------------------
def _quadratic(rng, d, saddle):
    """A random symmetric A (eigenvalues of both signs when saddle), b and a start."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    signs = rng.choice([-1.0, 1.0], size=d)
    if saddle:
        signs[:2] = [1.0, -1.0]
    else:
        signs[:] = 1.0
    eigenvalues = signs * rng.uniform(0.2, 2.0, size=d)
    A = q @ np.diag(eigenvalues) @ q.T
    return (A + A.T) / 2, rng.normal(size=d), rng.normal(size=d)


def _settings(rng, method):
    s = {"lr": float(rng.uniform(0.01, 0.3)), "steps": int(rng.integers(3, 21))}
    if method == "momentum":
        s["momentum"] = float(rng.uniform(0.5, 0.95))
    if method == "adam":
        s |= {"lr": float(rng.uniform(0.05, 0.3)), "steps": int(rng.integers(5, 26)),
              "beta1": float(rng.uniform(0.5, 0.95)), "beta2": float(rng.uniform(0.9, 0.9999)),
              "eps": float(10 ** rng.uniform(-3, -1))}
    return s


def _random_case(rng, method, saddle):
    while True:
        A, b, x0 = _quadratic(rng, int(rng.integers(2, 6)), saddle)
        s = _settings(rng, method)
        if method == "momentum":
            variants = [numpy_momentum(A, b, x0, s, kind) for kind in MOMENTUM_MISTAKES]
            if not _telling(numpy_momentum(A, b, x0, s), variants):
                continue
        if method == "adam":
            variants = [numpy_adam(A, b, x0, s, kind) for kind in ADAM_MISTAKES]
            if not _telling(numpy_adam(A, b, x0, s), variants):
                continue
        return Case(method, A, b, x0, s)


def _escape(path) -> int | None:
    """The first step at which |y| > 1 (None if it never happens)."""
    out = np.flatnonzero(np.abs(np.asarray(path)[:, 1]) > 1)
    return int(out[0]) if out.size else None


def _saddle_pair(rng):
    """A start very close to the saddle of x^2 - y^2; SGD and Adam (PyTorch's default betas and
    eps), run until a few steps after SGD leaves."""
    b = np.zeros(2)
    while True:
        x0 = np.array([rng.uniform(0.5, 1.5) * rng.choice([-1, 1]), 10 ** rng.uniform(-5, -4) * rng.choice([-1, 1])])
        lr = float(rng.uniform(0.02, 0.1))
        sgd_escape = _escape(numpy_sgd(SADDLE_A, b, x0, {"lr": lr, "steps": 1000}))
        s_adam = {"lr": lr, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "steps": sgd_escape + 5}
        adam = numpy_adam(SADDLE_A, b, x0, s_adam)
        adam_escape = _escape(adam)
        if adam_escape is None or adam_escape > sgd_escape - 5:
            continue
        if not _telling(adam, [numpy_adam(SADDLE_A, b, x0, s_adam, kind) for kind in ADAM_MISTAKES]):
            continue
        return (Case("sgd", SADDLE_A, b, x0, {"lr": lr, "steps": sgd_escape + 5}),
                Case("adam", SADDLE_A, b, x0, s_adam))


def _cases(rng) -> dict[str, Case]:
    cases = {}
    for method, count in (("sgd", 4), ("momentum", 4), ("adam", 5)):
        for i in range(count):
            cases[f"{method}_{i}"] = _random_case(rng, method, saddle=i % 2 == 0)
    for i in range(PAIRS):
        cases[f"saddle_sgd_{i}"], cases[f"saddle_adam_{i}"] = _saddle_pair(rng)
    return cases


def _describe(case: Case) -> str:
    method, A, _, x0, s = case.args
    name = {"sgd": "sgd", "momentum": "sgd_momentum", "adam": "adam"}[method]
    hyper = ", ".join(f"{k} {v:.3g}" for k, v in s.items() if k not in ("lr", "steps"))
    where = "f = x^2 - y^2 from near its saddle" if A.shape == (2, 2) and np.array_equal(A, SADDLE_A) \
        else f"a quadratic in dimension {len(x0)}"
    return f"{name} on {where}, lr {s['lr']:.3g}{', ' + hyper if hyper else ''}, {s['steps']} steps"


def harvest(rng: np.random.Generator) -> HarvestRequest:
    return HarvestRequest().cases(HOOK, _cases(rng), describe=_describe)


# -- references -----------------------------------------------------------------------------------
def torch_trajectory(method, A, b, x0, s) -> np.ndarray:
    """torch.optim on f(x) = 1/2 x^T A x + b^T x, float64: the start, then one row per step."""
    import torch

    A_t, b_t = torch.tensor(A, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    if method == "sgd":
        optimizer = torch.optim.SGD([x], lr=s["lr"])
    elif method == "momentum":
        optimizer = torch.optim.SGD([x], lr=s["lr"], momentum=s["momentum"])
    else:
        optimizer = torch.optim.Adam([x], lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"])
    path = [x.detach().clone()]
    for _ in range(s["steps"]):
        with torch.no_grad():
            x.grad = A_t @ x + b_t
        optimizer.step()
        path.append(x.detach().clone())
    return torch.stack(path).numpy()


_CACHE: dict = {}


def _torch_for(outcome) -> np.ndarray:
    """The reference of a case, computed once per case (the escape check reuses those of the saddle)."""
    method, A, b, x0, s = outcome.args
    key = (method, A.tobytes(), b.tobytes(), x0.tobytes(), tuple(sorted(s.items())))
    if key not in _CACHE:
        _CACHE[key] = torch_trajectory(method, A, b, x0, s)
    return _CACHE[key]


def _close(got, expected):
    return compare_arrays(got, expected, rtol=1e-6, atol=1e-6)


def _judge(got, outcome):
    method, A, b, x0, s = outcome.args
    problem = _close(got, _torch_for(outcome))
    if problem is None:
        return None
    if numeric_problem(got) is None and np.shape(got) == (s["steps"] + 1, len(x0)):
        if len(got) > 1 and np.all(got == got[-1]):
            return ("wrong values: every row of the trajectory is the same point; was an array updated in "
                    "place (x -= ...) appended without a copy?")
        if not np.allclose(got[0], x0):
            return "wrong values: the first row of the trajectory must be the start x0"
        mistakes = ({"momentum": (numpy_momentum, MOMENTUM_MISTAKES), "adam": (numpy_adam, ADAM_MISTAKES)}
                    .get(method, (None, {})))
        for kind, words in mistakes[1].items():
            if _close(got, mistakes[0](A, b, x0, s, kind)) is None:
                return "wrong values: " + words
        return "wrong values: the trajectory differs from torch.optim's"
    if numeric_problem(got) is None:
        return "the trajectory should have one row per step plus the start, and one column per coordinate"
    return problem


def _calls(submission, method):
    return [o for o in submission.calls(HOOK) if o.label.startswith(method + "_")]


@pytest.mark.points(1)
def test_sgd(submission):
    """sgd: the trajectory matches torch.optim.SGD on random quadratics (saddles included)."""
    score(_calls(submission, "sgd"), _judge, what="SGD trajectories")


@pytest.mark.points(2)
def test_sgd_momentum(submission):
    """sgd_momentum: the trajectory matches torch.optim.SGD with momentum (buffer b = mu b + g, then the step)."""
    score(_calls(submission, "momentum"), _judge, what="SGD with momentum trajectories")


@pytest.mark.points(3)
def test_adam(submission):
    """adam: the trajectory matches torch.optim.Adam (bias correction, eps after the square root)."""
    score(_calls(submission, "adam"), _judge, what="Adam trajectories")


@pytest.mark.points(2)
def test_adam_escapes_saddle(submission):
    """On f = x^2 - y^2 from near its saddle, your Adam leaves the saddle (|y| > 1) in fewer steps than your SGD."""
    outcomes = {o.label: o for o in submission.calls(HOOK) if o.label.startswith("saddle_")}

    def judge(adam_path, adam_outcome):
        sgd_outcome = outcomes[adam_outcome.label.replace("adam", "sgd")]
        if not sgd_outcome.ok:
            return "sgd: " + sgd_outcome.error
        for name, path, outcome in (("sgd", sgd_outcome.value, sgd_outcome), ("adam", adam_path, adam_outcome)):
            problem = _judge(path, outcome)
            if problem:
                return f"{name} does not reproduce torch.optim here, so its escape cannot be measured ({problem})"
        sgd_escape, adam_escape = _escape(sgd_outcome.value), _escape(adam_path)
        if adam_escape is None or (sgd_escape is not None and adam_escape >= sgd_escape):
            return "Adam did not leave the saddle before SGD"
        return None

    adam_outcomes = [o for label, o in outcomes.items() if label.startswith("saddle_adam_")]
    score(adam_outcomes, judge, what="escapes from the saddle")
