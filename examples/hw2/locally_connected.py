"""Example submissions of hw2/locally_connected: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# Correct, written differently: windows from sliding_window_view, moved to (row, column, channel) order.
WINDOWS_FORWARD = '''from numpy.lib.stride_tricks import sliding_window_view


def locally_connected2d(x, weights, bias):
    out_h, out_w, _, filters = weights.shape
    kh, kw = x.shape[1] - out_h + 1, x.shape[2] - out_w + 1
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))       # (N, out_h, out_w, C_in, kh, kw)
    windows = np.moveaxis(windows, 3, -1)                          # (N, out_h, out_w, kh, kw, C_in)
    windows = windows.reshape(*windows.shape[:3], -1)
    return np.einsum("nijk,ijkf->nijf", windows, weights) + bias'''

# The same without moving the channel axis: sliding_window_view puts the window axes last, so the
# window is flattened channel first.
WINDOWS_CHANNEL_FIRST_FORWARD = WINDOWS_FORWARD.replace(
    "    windows = np.moveaxis(windows, 3, -1)                          # (N, out_h, out_w, kh, kw, C_in)\n", "")

# Correct, in PyTorch: unfold, then the window reordered from (channel, row, column) to (row, column, channel).
TORCH_LAYER = '''import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)


class LocallyConnected2D(nn.Module):
    def __init__(self, in_shape, filters, kernel_size):
        super().__init__()
        h, w, self.c_in = in_shape
        self.kh, self.kw = kernel_size
        self.out_h, self.out_w = h - self.kh + 1, w - self.kw + 1
        fan_in = self.kh * self.kw * self.c_in
        self.kernel = nn.Parameter(torch.randn(self.out_h, self.out_w, fan_in, filters) / fan_in ** 0.5)
        self.bias = nn.Parameter(torch.zeros(self.out_h, self.out_w, filters))

    def forward(self, x):                                   # x: (N, C_in, H, W)
        n = x.shape[0]
        cols = F.unfold(x, (self.kh, self.kw))              # (N, C_in*kh*kw, L), channel first
        cols = cols.view(n, self.c_in, self.kh * self.kw, -1).transpose(1, 2).reshape(n, -1, cols.shape[-1])
        cols = cols.transpose(1, 2).reshape(n, self.out_h, self.out_w, -1)
        out = torch.einsum("nijk,ijkf->nijf", cols, self.kernel) + self.bias
        return out.permute(0, 3, 1, 2)                      # (N, F, out_h, out_w)'''

TORCH_MODEL = '''model = nn.Sequential(
    nn.Conv2d(1, 20, 7), nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(20, 10, 5), nn.ReLU(),
    LocallyConnected2D((7, 7, 10), 2, (3, 3)), nn.ReLU(),
    nn.Flatten(),
    nn.Linear(5 * 5 * 2, 10),
)
model_params = sum(p.numel() for p in model.parameters())'''

# unfold's channel-first windows used as they come.
TORCH_UNFOLD_ORDER_LAYER = TORCH_LAYER.replace(
    "        cols = cols.view(n, self.c_in, self.kh * self.kw, -1).transpose(1, 2).reshape(n, -1, cols.shape[-1])\n", "")

# A convolution: the kernel of position (0, 0) used everywhere, and counted once.
SHARED_FORWARD = '''def locally_connected2d(x, weights, bias):
    n, h, w, c_in = x.shape
    out_h, out_w, _, filters = weights.shape
    kh, kw = h - out_h + 1, w - out_w + 1
    kernel = weights[0, 0]          # one kernel for the whole image
    out = np.zeros((n, out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = x[:, i:i + kh, j:j + kw, :].reshape(n, -1) @ kernel + bias[0, 0]
    return out'''

SHARED_COUNT = '''def lc_param_count(in_h, in_w, c_in, kh, kw, filters):
    return kh * kw * c_in * filters + filters'''

# One bias per filter (as in a convolution), in the count and in the layer.
BIAS_PER_FILTER_COUNT = '''def lc_param_count(in_h, in_w, c_in, kh, kw, filters):
    out_h, out_w = in_h - kh + 1, in_w - kw + 1
    return out_h * out_w * kh * kw * c_in * filters + filters'''

BIAS_PER_FILTER_LAYER = '''import keras
from keras import layers, ops


class LocallyConnected2D(keras.layers.Layer):
    def __init__(self, in_shape, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        h, w, self.c_in = in_shape
        self.kh, self.kw = kernel_size
        self.out_h, self.out_w = h - self.kh + 1, w - self.kw + 1
        self.kernel = self.add_weight(shape=(self.out_h, self.out_w, self.kh * self.kw * self.c_in, filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(filters,), initializer="zeros")   # one per filter, as in Conv2D

    def call(self, x):
        rows = []
        for i in range(self.out_h):
            row = [ops.matmul(ops.reshape(x[:, i:i + self.kh, j:j + self.kw, :], (-1, self.kh * self.kw * self.c_in)),
                              self.kernel[i, j]) for j in range(self.out_w)]
            rows.append(ops.stack(row, axis=1))
        return ops.stack(rows, axis=1) + self.bias'''


EXAMPLES = [
    Example("pytorch", "nothing: the layer and the model in PyTorch (`unfold`, window reordered), the forward "
            "pass with `sliding_window_view`",
            answers={"lc_forward_solution": WINDOWS_FORWARD, "lc_layer_solution": TORCH_LAYER,
                     "lc_model_solution": TORCH_MODEL}),
    Example("shared_weights", "a plain convolution: every position uses the kernel of position (0, 0), "
            "and the count is a convolution's",
            answers={"lc_forward_solution": SHARED_FORWARD, "lc_count_solution": SHARED_COUNT},
            points={"test_forward_values": 0, "test_weights_not_shared": 0, "test_param_count_formula": 0}),
    Example("window_channel_first", "NumPy forward pass: `sliding_window_view` windows flattened channel first "
            "(the window order transposed)",
            answers={"lc_forward_solution": WINDOWS_CHANNEL_FIRST_FORWARD},
            points={"test_forward_values": 0}),
    Example("torch_unfold_order", "PyTorch layer: `unfold`'s channel-first windows used without reordering",
            answers={"lc_layer_solution": TORCH_UNFOLD_ORDER_LAYER, "lc_model_solution": TORCH_MODEL},
            points={"test_layer_forward": 0}),
    Example("bias_per_filter", "one bias per filter instead of per position and filter, in the count and in "
            "the Keras layer (so the model has 11,022 parameters)",
            answers={"lc_count_solution": BIAS_PER_FILTER_COUNT, "lc_layer_solution": BIAS_PER_FILTER_LAYER},
            points={"test_param_count_formula": 0, "test_layer_forward": 0, "test_model_parameter_count": 0}),
]
