"""Example submissions of hw2/conv_backprop: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# The full convolution done as a cross-correlation with the kernel as it is (not rotated by 180
# degrees), both by hand and in the function.
NOT_ROTATED_HAND = '''U = np.array([[-4.0, 5.0], [7.0, -1.0]])
O = U.mean()
dL_dU = np.full((2, 2), (O - y) / 4)
dL_dF = conv2d_forward(X, dL_dU)
dL_dX = conv2d_forward(np.pad(dL_dU, 1), F)   # "slide the kernel over the padded gradient"'''

NOT_ROTATED = '''def conv2d_backward(x, f, d_out, stride=1, padding=0):
    x, f, d_out = (np.asarray(a, dtype=float) for a in (x, f, d_out))
    kh, kw = f.shape
    hp, wp = x.shape[0] + 2 * padding, x.shape[1] + 2 * padding
    g = np.zeros(((d_out.shape[0] - 1) * stride + 1, (d_out.shape[1] - 1) * stride + 1))
    g[::stride, ::stride] = d_out
    df = conv2d_forward(np.pad(x, padding), g)[:kh, :kw]
    full = conv2d_forward(np.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1))), f)
    dxp = np.zeros((hp, wp))
    dxp[:full.shape[0], :full.shape[1]] = full
    return dxp[padding:hp - padding, padding:wp - padding], df'''

# The gradient of the padded input is returned as it is: dx has the padded shape.
PADDING_KEPT = '''def conv2d_backward(x, f, d_out, stride=1, padding=0):
    x, f, d_out = (np.asarray(a, dtype=float) for a in (x, f, d_out))
    kh, kw = f.shape
    xp = np.pad(x, padding)
    g = np.zeros(((d_out.shape[0] - 1) * stride + 1, (d_out.shape[1] - 1) * stride + 1))
    g[::stride, ::stride] = d_out
    df = conv2d_forward(xp, g)[:kh, :kw]
    full = conv2d_forward(np.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1))), f[::-1, ::-1])
    dx = np.zeros_like(xp)
    dx[:full.shape[0], :full.shape[1]] = full
    return dx, df'''

# The formulas of Task 1 with the padding handled, but the stride forgotten in the backward pass
# (d_out is used as if every window were one pixel apart).
STRIDE_IGNORED = '''def conv2d_backward(x, f, d_out, stride=1, padding=0):
    xp = np.pad(np.asarray(x, dtype=float), padding)
    f = np.asarray(f, dtype=float)
    kh, kw = f.shape
    df = conv2d_forward(xp, d_out)
    dxp = conv2d_forward(np.pad(d_out, ((kh - 1, kh - 1), (kw - 1, kw - 1))), f[::-1, ::-1])
    return dxp[padding:dxp.shape[0] - padding, padding:dxp.shape[1] - padding], df'''

# Correct, written differently: every output pixel sends its gradient back to the window it came
# from (the "scatter" form of the chain rule), no explicit rotation or dilation.
SCATTER = '''def conv2d_backward(x, f, d_out, stride=1, padding=0):
    xp = np.pad(np.asarray(x, dtype=float), padding)
    f = np.asarray(f, dtype=float)
    kh, kw = f.shape
    dxp = np.zeros_like(xp)
    df = np.zeros_like(f)
    for i in range(d_out.shape[0]):
        for j in range(d_out.shape[1]):
            r, c = i * stride, j * stride
            df += d_out[i, j] * xp[r:r + kh, c:c + kw]
            dxp[r:r + kh, c:c + kw] += d_out[i, j] * f
    return dxp[padding:padding + x.shape[0], padding:padding + x.shape[1]], df'''

EXAMPLES = [
    Example("kernel_not_rotated", "dL/dX as the padded gradient cross-correlated with F itself, not F rotated "
            "by 180 degrees (by hand and in `conv2d_backward`); the public checks fail",
            answers={"cb_hand_solution": NOT_ROTATED_HAND, "cb_backward_solution": NOT_ROTATED},
            points={"test_worked_backward": 4 / 3, "test_dx_stride1": 0, "test_padding": 1, "test_stride": 1,
                    "test_stride_and_padding": 0}),
    Example("padding_kept", "`dx` is the gradient of the padded input: the padding is not removed",
            answers={"cb_backward_solution": PADDING_KEPT},
            points={"test_padding": 1, "test_stride_and_padding": 0}),
    Example("stride_ignored", "the backward pass ignores the stride (no zeros inserted between the entries "
            "of `d_out`)", answers={"cb_backward_solution": STRIDE_IGNORED},
            points={"test_stride": 0, "test_stride_and_padding": 0}),
    Example("scatter_loops", "correct, written differently: each output pixel adds its gradient back to "
            "its window (loops, no rotation written out)", answers={"cb_backward_solution": SCATTER}),
]
