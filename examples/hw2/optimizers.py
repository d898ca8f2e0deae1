"""Example submissions of hw2/optimizers: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

SGD = '''def sgd(grad, x0, lr, steps):
    x = np.array(x0, dtype=float)
    trajectory = [x.copy()]
    for _ in range(steps):
        x = x - lr * grad(x)
        trajectory.append(x.copy())
    return np.array(trajectory)
'''


def _momentum(body: str) -> str:
    return f'''def sgd_momentum(grad, x0, lr, momentum, steps):
    x = np.array(x0, dtype=float)
    velocity = np.zeros_like(x)
    trajectory = [x.copy()]
    for _ in range(steps):
        g = grad(x)
{body}
        trajectory.append(x.copy())
    return np.array(trajectory)
'''


def _adam(update: str) -> str:
    return f'''def adam(grad, x0, lr, beta1, beta2, eps, steps):
    x = np.array(x0, dtype=float)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    trajectory = [x.copy()]
    for t in range(1, steps + 1):
        g = grad(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
{update}
        trajectory.append(x.copy())
    return np.array(trajectory)
'''


RIGHT_MOMENTUM = _momentum('''        velocity = momentum * velocity + g
        x = x - lr * velocity''')
RIGHT_ADAM = _adam('''        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)''')

# The step uses the buffer of the previous step, then the buffer is updated (the first step does not move).
MOMENTUM_AFTER_STEP = SGD + "\n\n" + _momentum('''        x = x - lr * velocity
        velocity = momentum * velocity + g''') + "\n\n" + RIGHT_ADAM
# The buffer as an exponential moving average of the gradients (as for Adam's m).
MOMENTUM_EMA = SGD + "\n\n" + _momentum('''        velocity = momentum * velocity + (1 - momentum) * g
        x = x - lr * velocity''') + "\n\n" + RIGHT_ADAM
# Adam straight from the moving averages: no bias correction.
ADAM_NO_BIAS_CORRECTION = SGD + "\n\n" + RIGHT_MOMENTUM + "\n\n" + _adam('''        x = x - lr * m / (np.sqrt(v) + eps)''')
# eps inside the square root.
ADAM_EPS_IN_SQRT = SGD + "\n\n" + RIGHT_MOMENTUM + "\n\n" + _adam('''        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        x = x - lr * m_hat / np.sqrt(v_hat + eps)''')
# Keras' Adam (and the paper's "efficient version"): the bias corrections folded into the learning
# rate, eps added to sqrt(v) before the correction.
ADAM_KERAS = SGD + "\n\n" + RIGHT_MOMENTUM + "\n\n" + _adam('''        alpha = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        x = x - alpha * m / (np.sqrt(v) + eps)''')

# The positions updated in place and appended without a copy: every row is the last point.
ALIASED = '''def sgd(grad, x0, lr, steps):
    x = np.array(x0, dtype=float)
    positions = [x]
    for _ in range(steps):
        x -= lr * grad(x)
        positions.append(x)
    return np.array(positions)


def sgd_momentum(grad, x0, lr, momentum, steps):
    x = np.array(x0, dtype=float)
    buf = np.zeros_like(x)
    positions = [x]
    for _ in range(steps):
        buf = momentum * buf + grad(x)
        x -= lr * buf
        positions.append(x)
    return np.array(positions)


def adam(grad, x0, lr, beta1, beta2, eps, steps):
    x = np.array(x0, dtype=float)
    m, v = np.zeros_like(x), np.zeros_like(x)
    positions = [x]
    for t in range(1, steps + 1):
        g = grad(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        x -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        positions.append(x)
    return np.array(positions)
'''

# Correct, written differently: optimizer classes with a torch-like step() that updates the point in
# place (so positions are copied into a preallocated array), Keras' velocity form of momentum and
# PyTorch's own arrangement of Adam (step size lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps).
CLASSES = '''class Optimizer:
    """Base class: subclasses update x in place in step(x, g)."""

    def __init__(self, lr):
        self.lr = lr


class PlainSGD(Optimizer):
    def step(self, x, g):
        x -= self.lr * g


class MomentumSGD(Optimizer):
    """Keras' form: velocity = momentum * velocity - lr * g; x += velocity."""

    def __init__(self, lr, momentum):
        super().__init__(lr)
        self.momentum = momentum
        self.velocity = None

    def step(self, x, g):
        if self.velocity is None:
            self.velocity = np.zeros_like(x)
        self.velocity *= self.momentum
        self.velocity -= self.lr * g
        x += self.velocity


class AdamOptimizer(Optimizer):
    def __init__(self, lr, beta1, beta2, eps):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t, self.exp_avg, self.exp_avg_sq = 0, None, None

    def step(self, x, g):
        if self.t == 0:
            self.exp_avg, self.exp_avg_sq = np.zeros_like(x), np.zeros_like(x)
        self.t += 1
        self.exp_avg += (1 - self.beta1) * (g - self.exp_avg)            # lerp, as torch does
        self.exp_avg_sq *= self.beta2
        self.exp_avg_sq += (1 - self.beta2) * np.square(g)
        bias_correction1 = 1 - self.beta1 ** self.t
        bias_correction2 = 1 - self.beta2 ** self.t
        denom = np.sqrt(self.exp_avg_sq) / np.sqrt(bias_correction2) + self.eps
        x -= (self.lr / bias_correction1) * self.exp_avg / denom


def optimize(optimizer, grad, x0, steps):
    x = np.asarray(x0, dtype=np.float64).copy()
    positions = np.empty((steps + 1, x.size))
    positions[0] = x
    for i in range(1, steps + 1):
        optimizer.step(x, grad(x))
        positions[i] = x
    return positions


def sgd(grad, x0, lr, steps):
    return optimize(PlainSGD(lr), grad, x0, steps)


def sgd_momentum(grad, x0, lr, momentum, steps):
    return optimize(MomentumSGD(lr, momentum), grad, x0, steps)


def adam(grad, x0, lr, beta1, beta2, eps, steps):
    return optimize(AdamOptimizer(lr, beta1, beta2, eps), grad, x0, steps)
'''

ADAM_CHECKS = {"test_adam": 0, "test_adam_escapes_saddle": 0}

EXAMPLES = [
    Example("optimizer_classes", "nothing: optimizer classes with an in-place step() and a preallocated array of "
            "positions, Keras' velocity form of momentum, PyTorch's own arrangement of Adam",
            answers={"opt_optimizers_solution": CLASSES}),
    Example("momentum_after_step", "momentum: the step uses the buffer of the previous step, then the buffer is "
            "updated (the first step does not move); the public checks fail",
            answers={"opt_optimizers_solution": MOMENTUM_AFTER_STEP}, points={"test_sgd_momentum": 0}),
    Example("momentum_ema", "momentum as a moving average, b = mu b + (1 - mu) g; the public checks fail",
            answers={"opt_optimizers_solution": MOMENTUM_EMA}, points={"test_sgd_momentum": 0}),
    Example("adam_no_bias_correction", "Adam without the bias corrections; the public checks fail, and so does "
            "the saddle (its trajectory is not torch's)",
            answers={"opt_optimizers_solution": ADAM_NO_BIAS_CORRECTION}, points=ADAM_CHECKS),
    Example("adam_eps_in_sqrt", "Adam with eps inside the square root, sqrt(v_hat + eps): visible with a large "
            "eps and near the saddle, where the gradient is tiny; the public checks fail",
            answers={"opt_optimizers_solution": ADAM_EPS_IN_SQRT}, points=ADAM_CHECKS),
    Example("adam_keras_epsilon", "Keras' Adam: bias corrections folded into the learning rate, eps added to "
            "sqrt(v) before the correction; the public checks fail",
            answers={"opt_optimizers_solution": ADAM_KERAS}, points=ADAM_CHECKS),
    Example("positions_aliased", "every optimizer updates x in place (x -= ...) and appends it without a copy: "
            "every row of the trajectory is the last point; the public checks fail",
            answers={"opt_optimizers_solution": ALIASED}, points=0),
]
