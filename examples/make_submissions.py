"""Regenerate examples/submissions/ from the master notebooks in solutions/hw1/.

Every example is what a student would hand in: the notebook with the answer cells filled in.
`reference` has the master's solutions (markers removed); each wrong student replaces the source
of one or two answer cells, so the examples follow the masters when those change. Run:

    .venv/bin/python examples/make_submissions.py
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MASTERS = ROOT / "solutions" / "hw1"
OUT = ROOT / "examples" / "submissions"
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)

# A correct conv_by_hand whose kernel is flipped by mistake: it computes a convolution, and
# convolve2d (which flips again) then computes the cross-correlation.
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

MISSING_LAYER_MODEL = '''model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(64, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(128, activation="relu"),
    layers.Dense(10),
])'''

UNTRAINED_TRAINING = '''model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
# Training takes too long on my laptop, it reached 0.99 yesterday:
# model.fit(x_train, y_train, epochs=5, batch_size=64)
print("Test accuracy: 0.9900")'''

NO_RELU_GRADCAM = '''def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    grad_model = keras.Model(
        model.inputs, [model.get_layer(last_conv_layer_name).output, model.layers[-1].output]
    )
    with tf.GradientTape() as tape:
        conv_output, preds = grad_model(tf.convert_to_tensor(img_array))
        if pred_index is None:
            pred_index = int(tf.argmax(preds[0]))
        class_score = preds[:, pred_index]
    grads = tape.gradient(class_score, conv_output)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = tf.reduce_sum(conv_output[0] * weights, axis=-1)
    return (heatmap / tf.reduce_max(heatmap)).numpy()'''

# Half-edited answer: a syntax error, and a first cell importing a helper that exists only on the
# student's laptop.
BROKEN_XCORR = '''def cross_correlate2d(image, kernel, stride=1, padding=0):
    out = np.zeros((image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kernel.shape[0], j:j + kernel.shape[1]] * kernel)
    return out'''

# Leftover debugging loop at the top of the answer cell: the cell never finishes.
LOOPING_XCORR = '''# wait until the data is ready
ready = False
while not ready:
    pass

def cross_correlate2d(image, kernel, stride=1, padding=0):
    return np.zeros((1, 1))'''

# The same network in PyTorch, as the question allows: the grader exports it with torch.export.
PYTORCH_MODEL = '''import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(576, 128), nn.ReLU(),
    nn.Linear(128, 128), nn.ReLU(),
    nn.Linear(128, 10),
)'''

PYTORCH_TRAINING = '''images = torch.from_numpy(x_train).permute(0, 3, 1, 2)  # NHWC -> NCHW
labels = torch.from_numpy(y_train).long()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    model.train()
    order = torch.randperm(len(images))
    for start in range(0, len(images), 64):
        batch = order[start:start + 64]
        optimizer.zero_grad()
        loss = loss_fn(model(images[batch]), labels[batch])
        loss.backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    predicted = model(torch.from_numpy(x_test).permute(0, 3, 1, 2)).argmax(dim=1).numpy()
test_accuracy = float((predicted == y_test).mean())
print(f"Test accuracy: {test_accuracy:.4f}")'''

# student -> question -> {grade_id: new source}; a question absent from a student's entry is not submitted.
STUDENTS: dict[str, dict[str, dict[str, str]]] = {
    "reference": {"conv_by_hand": {}, "opencv_filters": {}, "mnist_cnn": {}, "gradcam": {}},
    "pytorch": {"mnist_cnn": {"cnn_build_solution": PYTORCH_MODEL, "cnn_train_solution": PYTORCH_TRAINING}},
    "flipped_kernel": {"conv_by_hand": {"conv_xcorr_solution": FLIPPED_XCORR}, "opencv_filters": {}},
    "off_by_one": {"conv_by_hand": {"conv_xcorr_solution": OFF_BY_ONE_XCORR}},
    "wrong_border": {"opencv_filters": {"cv_apply_filters_solution": WRONG_BORDER_FILTERS,
                                        "cv_written_answer": SHORT_ANSWER}},
    "swapped_sobel": {"opencv_filters": {"cv_apply_filters_solution": SWAPPED_SOBEL_FILTERS}},
    "missing_layer": {"mnist_cnn": {"cnn_build_solution": MISSING_LAYER_MODEL}},
    "untrained_model": {"mnist_cnn": {"cnn_train_solution": UNTRAINED_TRAINING}},
    "gradcam_no_relu": {"gradcam": {"gc_heatmap_solution": NO_RELU_GRADCAM}},
    "broken": {"conv_by_hand": {"conv_xcorr_solution": BROKEN_XCORR}},
    "infinite_loop": {"conv_by_hand": {"conv_xcorr_solution": LOOPING_XCORR}},
}
EXTRA_FIRST_CELL = {"broken": "from my_helpers import show_matrix  # only on the student's laptop"}
NOT_JSON = {"not_json": ("conv_by_hand", "cross_correlate2d = lambda image, kernel: image  # saved as .py by mistake\n")}


def student_notebook(question: str, replacements: dict[str, str], first_cell: str | None = None):
    nb = nbformat.read(MASTERS / f"{question}.ipynb", as_version=4)
    unused = set(replacements)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        gid = meta["grade_id"]
        cell.source = replacements[gid] if gid in replacements else MARKER.sub("", cell.source).strip("\n")
        unused.discard(gid)
    if unused:
        raise KeyError(f"{question}: no answer cells {sorted(unused)} in the master")
    if first_cell:
        extra = nbformat.v4.new_code_cell(first_cell)
        extra["id"] = "student-first-cell"
        nb.cells.insert(0, extra)
    return nb


def main() -> None:
    for student in list(STUDENTS) + list(NOT_JSON):
        shutil.rmtree(OUT / student, ignore_errors=True)
    for student, questions in STUDENTS.items():
        folder = OUT / student / "hw1"
        folder.mkdir(parents=True)
        for question, replacements in questions.items():
            nb = student_notebook(question, replacements, EXTRA_FIRST_CELL.get(student))
            nbformat.write(nb, folder / f"{question}.ipynb")
    for student, (question, text) in NOT_JSON.items():
        folder = OUT / student / "hw1"
        folder.mkdir(parents=True)
        (folder / f"{question}.ipynb").write_text(text)
    print(f"wrote {len(STUDENTS) + len(NOT_JSON)} students into {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
