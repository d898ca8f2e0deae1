"""Example submissions of hw1/opencv_filters: realistic answers and exactly what they earn (see autograder/examples.py)."""
from autograder.examples import Example

WRONG_BORDER_FILTERS = '''def apply_filters(gray):
    src = gray.astype(np.float32)
    kernels = {
        "box_blur": np.ones((3, 3), np.float32) / 9,
        "edges": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
        "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
        "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
    }
    # zero padding, "like in the convolution exercise"
    return {name: cv2.filter2D(src, cv2.CV_32F, k, borderType=cv2.BORDER_CONSTANT) for name, k in kernels.items()}'''

SWAPPED_SOBEL_FILTERS = '''def apply_filters(gray):
    src = gray.astype(np.float32)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    return {
        "box_blur": cv2.filter2D(src, cv2.CV_32F, np.ones((3, 3), np.float32) / 9),
        "edges": cv2.filter2D(src, cv2.CV_32F, np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32)),
        "sobel_y": cv2.filter2D(src, cv2.CV_32F, sobel),    # x and y mixed up
        "sobel_x": cv2.filter2D(src, cv2.CV_32F, sobel.T),
    }'''

SHORT_ANSWER = '''Box blur smooths the image, the edge filter finds edges, Sobel x finds vertical edges and
Sobel y horizontal ones. The blur sums to 1 so brightness stays the same.'''

EXAMPLES = [
    Example("wrong_border", "`BORDER_CONSTANT` (zero padding); a short written answer",
            answers={"cv_apply_filters_solution": WRONG_BORDER_FILTERS, "cv_written_answer": SHORT_ANSWER},
            points={"test_border_handling": 0, "test_structured_images": 0}),
    Example("swapped_sobel", "`sobel_x` and `sobel_y` swapped",
            answers={"cv_apply_filters_solution": SWAPPED_SOBEL_FILTERS},
            points={"test_sobel_x": 0, "test_sobel_y": 0, "test_border_handling": 1.1667,
                    "test_structured_images": 0.6667}),
]
