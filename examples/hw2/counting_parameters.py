"""Example submissions of hw2/counting_parameters: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

def _functions(conv_bias: str, conv3d_kernel: str, batchnorm: str) -> str:
    """An answer cell of the counting functions: `conv_bias` is the term added per filter or unit."""
    return f'''def conv1d_params(c_in, c_out, k, bias=True):
    return (k * c_in{conv_bias}) * c_out


def conv2d_params(c_in, c_out, k, bias=True):
    return (k * k * c_in{conv_bias}) * c_out


def conv3d_params(c_in, c_out, k, bias=True):
    return ({conv3d_kernel} * c_in{conv_bias}) * c_out


def dense_params(n_in, n_out, bias=True):
    return (n_in{conv_bias}) * n_out


def batchnorm_params(features):
    {batchnorm}


def activation_memory(shape, bytes_per_value=4):
    return int(np.prod(shape)) * bytes_per_value'''


WITH_BIAS = " + (1 if bias else 0)"
# Weights only: every layer's bias is forgotten (the `bias` argument is ignored).
NO_BIAS_FUNCTIONS = _functions("", "k * k * k", "return 2 * features, 2 * features")
# Conv3D counted with a square kernel (k**2), copied from conv2d_params.
CONV3D_SQUARE_FUNCTIONS = _functions(WITH_BIAS, "k * k", "return 2 * features, 2 * features")
# The moving mean and variance counted as trainable: 4 trainable values per feature, none non-trainable.
BN_ALL_TRAINABLE_FUNCTIONS = _functions(WITH_BIAS, "k ** 3", "return 4 * features, 0  # gamma, beta, mean, variance")

# Correct, written differently: every count read from a Keras layer built on the spot.
KERAS_FUNCTIONS = '''import math
import keras
from keras import layers


def _built(layer, input_shape):
    layer.build(input_shape)
    return layer.count_params()


def conv1d_params(c_in, c_out, k, bias=True):
    return _built(layers.Conv1D(c_out, k, use_bias=bias), (None, 100, c_in))


def conv2d_params(c_in, c_out, k, bias=True):
    return _built(layers.Conv2D(c_out, k, use_bias=bias), (None, 32, 32, c_in))


def conv3d_params(c_in, c_out, k, bias=True):
    return _built(layers.Conv3D(c_out, k, use_bias=bias), (None, 16, 16, 16, c_in))


def dense_params(n_in, n_out, bias=True):
    return _built(layers.Dense(n_out, use_bias=bias), (None, n_in))


def batchnorm_params(features):
    bn = layers.BatchNormalization()
    bn.build((None, features))
    trainable = sum(math.prod(w.shape) for w in bn.trainable_weights)
    return trainable, sum(math.prod(w.shape) for w in bn.non_trainable_weights)


def activation_memory(shape, bytes_per_value=4):
    return math.prod(shape) * bytes_per_value'''

KERAS_CONV1X1 = '''def conv1x1(x, w, b):
    return np.einsum("hwc,cd->hwd", x, w) + b'''

EXAMPLES = [
    Example("keras_counting", "nothing: every count read from a Keras layer built on the spot, "
            "`conv1x1` with `np.einsum`",
            answers={"cp_functions_solution": KERAS_FUNCTIONS, "cp_conv1x1_solution": KERAS_CONV1X1}),
    Example("biases_forgotten", "no bias in any convolution or dense layer; the worked numbers computed "
            "with those functions",
            answers={"cp_functions_solution": NO_BIAS_FUNCTIONS},
            points={"test_conv2d_params": 0.5, "test_conv3d_params": 0.25, "test_conv1d_params": 0.25,
                    "test_dense_params": 0.25, "test_conv1d_model": 0, "test_one_by_one_models": 0,
                    "test_memory_table": 4 / 3, "test_batchnorm_model": 2 / 3}),
    Example("conv3d_square_kernel", "`conv3d_params` uses $k^2$ instead of $k^3$",
            answers={"cp_functions_solution": CONV3D_SQUARE_FUNCTIONS},
            points={"test_conv3d_params": 0}),
    Example("bn_statistics_trainable", "batch normalisation: the moving mean and variance counted as "
            "trainable (4F trainable, 0 non-trainable)",
            answers={"cp_functions_solution": BN_ALL_TRAINABLE_FUNCTIONS},
            points={"test_batchnorm_params": 0, "test_batchnorm_model": 1 / 3}),
]
