"""Example submissions of hw2/output_sizes: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

# Every wrong formula keeps the argument checks, so that it loses only what the formula breaks.
CHECKS = '''    if w < 1 or k < 1 or s < 1 or d < 1 or p < 0:
        return None
'''

# The final +1 forgotten: O = floor((W + 2P - D(K-1) - 1) / S), one too small everywhere.
PLUS_ONE_FORGOTTEN = '''def conv_output_size(w, k, s=1, p=0, d=1):
''' + CHECKS + '''    out = (w + 2 * p - d * (k - 1) - 1) // s
    return out if out > 0 else None'''

# The +1 moved inside the floor: floor((W + 2P - D(K-1)) / S); right only when S divides W + 2P - D(K-1).
PLUS_ONE_INSIDE = '''def conv_output_size(w, k, s=1, p=0, d=1):
''' + CHECKS + '''    out = (w + 2 * p - d * (k - 1) - 1 + 1) // s
    return out if out > 0 else None'''

# The textbook formula without dilation: floor((W + 2P - K) / S) + 1.
DILATION_IGNORED = '''def conv_output_size(w, k, s=1, p=0, d=1):
''' + CHECKS + '''    out = (w + 2 * p - k) // s + 1
    return out if out > 0 else None'''

# The formula and nothing else: negative "sizes" come back, and meaningless arguments are not refused.
NEGATIVE_RETURNED = '''def conv_output_size(w, k, s=1, p=0, d=1):
    return (w + 2 * p - d * (k - 1) - 1) // s + 1'''

# "Same" padding as k // 2 on both sides: right for odd kernels without dilation only.
SYMMETRIC_PADDING = '''def same_padding(k, d=1):
    return k // 2, k // 2'''

# Correct, written differently: a true division and math.floor, the effective kernel size named,
# and the larger half of the padding computed with a ceiling.
FLOAT_FLOOR = '''def conv_output_size(w, k, s=1, p=0, d=1):
    if min(w, k, s, d) < 1 or p < 0:
        return None
    effective_kernel = d * (k - 1) + 1
    if w + 2 * p < effective_kernel:
        return None
    return math.floor((w + 2 * p - effective_kernel) / s) + 1'''

CEIL_SAME = '''def same_padding(k, d=1):
    total = d * (k - 1)
    return math.floor(total / 2), math.ceil(total / 2)'''

# layer_sizes typed by hand from a table worked out on paper (correct).
BY_HAND = '''layer_sizes = [128, 64, 60, 28, 28, 14, 8, None, None]'''

EXAMPLES = [
    Example("plus_one_forgotten", "output size without the final +1 (`(W + 2P - D(K-1) - 1) // S`)",
            answers={"os_formula_solution": PLUS_ONE_FORGOTTEN},
            points={"test_sizes_stride1": 0, "test_sizes_strided": 0, "test_sizes_dilated": 0, "test_network": 0}),
    Example("plus_one_inside_floor", "the +1 inside the floor (`(W + 2P - D(K-1)) // S`): wrong when the "
            "stride does not divide `W + 2P - D(K-1)` (layer 6 of the network)",
            answers={"os_formula_solution": PLUS_ONE_INSIDE},
            points={"test_sizes_strided": 2 / 3, "test_network": 0}),
    Example("dilation_ignored", "the formula without dilation (`(W + 2P - K) // S + 1`)",
            answers={"os_formula_solution": DILATION_IGNORED},
            points={"test_sizes_dilated": 0, "test_network": 0}),
    Example("negative_size_returned", "the formula only: a negative size is returned instead of None, "
            "meaningless arguments are not refused (a stride of 0 divides by zero)",
            answers={"os_formula_solution": NEGATIVE_RETURNED},
            points={"test_nonpositive_size_is_invalid": 0, "test_invalid_arguments": 0, "test_network": 0}),
    Example("symmetric_same_padding", "`same_padding` returns `(k // 2, k // 2)`: no asymmetric padding for "
            "even kernels, dilation ignored", answers={"os_same_solution": SYMMETRIC_PADDING},
            points={"test_same_padding_even": 0, "test_same_padding_dilated": 0}),
    Example("float_floor_by_hand", "correct, written differently: `math.floor` of a true division, "
            "`math.ceil` for the padding, `layer_sizes` typed by hand",
            answers={"os_formula_solution": FLOAT_FLOOR, "os_same_solution": CEIL_SAME,
                     "os_network_solution": BY_HAND}),
]
