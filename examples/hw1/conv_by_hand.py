"""Example submissions of hw1/conv_by_hand: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# Computes a convolution: the kernel is flipped by mistake, so convolve2d (which flips again)
# computes a cross-correlation.
FLIPPED_XCORR = '''def cross_correlate2d(image, kernel, stride=1, padding=0):
    image = np.asarray(image, dtype=float)
    kernel = np.flip(np.asarray(kernel, dtype=float))  # "the kernel is always flipped", isn't it?
    if padding > 0:
        image = np.pad(image, padding)
    kh, kw = kernel.shape
    out_h = (image.shape[0] - kh) // stride + 1
    out_w = (image.shape[1] - kw) // stride + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
    return out'''

# The +1 of the output-size formula moved inside the floor division: right for stride 1 only.
OFF_BY_ONE_XCORR = '''def cross_correlate2d(image, kernel, stride=1, padding=0):
    image = np.pad(np.asarray(image, dtype=float), padding)
    kernel = np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape
    out_h = (image.shape[0] - kh + 1) // stride
    out_w = (image.shape[1] - kw + 1) // stride
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = (image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel).sum()
    return out'''

# Half-edited answer: a syntax error.
BROKEN_XCORR = '''def cross_correlate2d(image, kernel, stride=1, padding=0):
    out = np.zeros((image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kernel.shape[0], j:j + kernel.shape[1]] * kernel)
    return out'''

# A leftover debugging loop at the top of the answer cell: the cell never finishes.
LOOPING_XCORR = '''# wait until the data is ready
ready = False
while not ready:
    pass

def cross_correlate2d(image, kernel, stride=1, padding=0):
    return np.zeros((1, 1))'''

EXAMPLES = [
    Example("flipped_kernel", "`cross_correlate2d` flips the kernel (computes a convolution; `convolve2d` then "
            "computes a cross-correlation); the public worked-example check fails",
            answers={"conv_xcorr_solution": FLIPPED_XCORR},
            points={"test_cross_correlation_values": 0, "test_convolution_values": 0,
                    "test_non_square_and_even_kernels": 0}),
    Example("off_by_one", "output size `(n + 2p - k + 1) // s`: right for stride 1, wrong for some strided cases",
            answers={"conv_xcorr_solution": OFF_BY_ONE_XCORR},
            points={"test_output_shapes": 1.25, "test_cross_correlation_values": 2.5,
                    "test_convolution_values": 1.875, "test_non_square_and_even_kernels": 0}),
    Example("broken", "an added first cell imports a module that exists only on the student's laptop; "
            "the answer cell has a syntax error",
            answers={"conv_xcorr_solution": BROKEN_XCORR},
            first_cell="from my_helpers import show_matrix  # only on the student's laptop", points=0),
    Example("infinite_loop", "`while not ready: pass` at the top of the answer cell (cell time limit)",
            answers={"conv_xcorr_solution": LOOPING_XCORR}, status="timed out", points=0),
    Example("not_json", "the notebook was saved as Python text, not JSON", status="invalid", points=0,
            raw="cross_correlate2d = lambda image, kernel: image  # saved as .py by mistake\n"),
]
