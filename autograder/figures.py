"""The pictures of the course's pages, drawn at build time from public code and data only.

`python -m autograder build` calls `generate()` before jupyter-book runs; the PNGs land in
book/figures/ (git-ignored) and the master notebooks' prompts show them with MyST `{figure}`
directives (`../../book/figures/<name>.png`, relative to assignments/<hw>/ and solutions/<hw>/).

Nothing here runs, imports or reproduces a reference solution, and no figure shows what a task
must compute: the filters are applied to another photo than the task's, the digits are training
data students load themselves, and the Grad-CAM overlay is a made-up heatmap, labelled as one.

A figure that cannot be drawn (e.g. MNIST is neither cached nor reachable) becomes a placeholder
PNG that says so: a page never references a missing file, and the build never fails here.

    python -m autograder.figures [folder]      draw them without building the site
"""
from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Callable

import numpy as np

# name -> what the figure shows (its placeholder says this when it cannot be drawn)
FIGURES = {
    "filters_camera.png": "the four kernels of the OpenCV exercise applied to the camera photo",
    "mnist_samples.png": "sample digits of the course's MNIST training set",
    "gradcam_illustration.png": "an illustration of a Grad-CAM overlay (made-up heatmap)",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display at build time
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    # No date or version in the file: the same data gives the same bytes, build after build.
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def _data():
    """The course's public data package; from this repository when it is not installed."""
    try:
        import data
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        import data
    return data


def _correlate(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """3x3 cross-correlation with reflected borders (OpenCV's default, BORDER_REFLECT_101)."""
    padded = np.pad(img.astype(np.float64), 1, mode="reflect")
    h, w = img.shape
    return sum(kernel[m, n] * padded[m:m + h, n:n + w] for m in range(3) for n in range(3))


def filters_camera() -> bytes:
    """The camera photo, a detail of it, and what each kernel of the exercise does to that detail
    (the exercise itself filters the astronaut photo)."""
    plt = _pyplot()
    photo = _data().load_photo("camera").astype(np.float64)
    top, left, size = 40, 88, 96  # the cameraman's head, hand and camera
    detail = photo[top:top + size, left:left + size]
    kernels = {
        "box blur": np.ones((3, 3)) / 9,
        "edges": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
        "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
        "Sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
    }
    fig, axes = plt.subplots(2, 3, figsize=(9, 6.6), layout="constrained")
    axes[0, 0].imshow(photo, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].add_patch(plt.Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor="red", linewidth=1.5))
    axes[0, 0].set_title("camera photo (detail in red)")
    axes[0, 1].imshow(detail, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[0, 1].set_title("detail")
    for ax, (name, kernel) in zip([axes[0, 2], *axes[1]], kernels.items()):
        out = _correlate(photo, kernel)[top:top + size, left:left + size]
        if name == "box blur":
            ax.imshow(out, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:  # signed responses: mid-grey is 0, white positive, black negative
            limit = float(np.abs(out).max()) or 1.0
            ax.imshow(out, cmap="gray", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(name)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("The kernels on another photo: edges and Sobel shown with grey = 0, white > 0, black < 0",
                 fontsize=10)
    return _png(fig)


def _digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    (x_train, y_train), _ = _data().load_mnist()
    # The first training digit of each class, then the next ones in order: every class is shown.
    order = [int(np.flatnonzero(y_train == c)[0]) for c in range(10)]
    order += [i for i in range(len(y_train)) if i not in order][:count - len(order)]
    return x_train[order[:count]], y_train[order[:count]]


def mnist_samples() -> bytes:
    """A grid of training digits from load_mnist(), each with its label."""
    plt = _pyplot()
    images, labels = _digits(24)
    fig, axes = plt.subplots(3, 8, figsize=(8, 3.4), layout="constrained")
    for ax, img, label in zip(axes.flat, images, labels):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"label {int(label)}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Training digits from load_mnist(): 28 x 28 pixels, values 0-255", fontsize=10)
    return _png(fig)


def _drawn_digit() -> np.ndarray:
    """A 28x28 "7" drawn with lines, for when MNIST is not available."""
    import cv2

    img = np.zeros((28, 28), np.uint8)
    cv2.line(img, (7, 7), (21, 7), 255, 2, cv2.LINE_AA)
    cv2.line(img, (21, 7), (12, 23), 255, 2, cv2.LINE_AA)
    return img


def gradcam_illustration() -> bytes:
    """What a Grad-CAM overlay looks like: a made-up smooth 7x7 heatmap (two Gaussian bumps), not a
    model's, upsampled to 28x28 and overlaid on a digit with a colormap."""
    import cv2

    plt = _pyplot()
    try:
        digit = _digits(20)[0][18]  # the second 7 of the training set
    except Exception:
        digit = _drawn_digit()
    grid = np.arange(7, dtype=np.float64)
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    made_up = (np.exp(-((rows - 1.6) ** 2 + (cols - 3.4) ** 2) / 2.5)
               + 0.6 * np.exp(-((rows - 4.6) ** 2 + (cols - 3.0) ** 2) / 1.8))
    made_up /= made_up.max()
    upsampled = cv2.resize(made_up.astype(np.float32), (28, 28), interpolation=cv2.INTER_LINEAR)
    fig, axes = plt.subplots(1, 3, figsize=(8, 3.2), layout="constrained")
    axes[0].imshow(digit, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[0].set_title("input digit (28 x 28)")
    shown = axes[1].imshow(made_up, cmap="jet", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title("MADE-UP heatmap (7 x 7)")
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    axes[2].imshow(digit, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[2].imshow(upsampled, cmap="jet", vmin=0, vmax=1, alpha=0.45, interpolation="bilinear")
    axes[2].set_title("upsampled and overlaid")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Illustration only: a made-up heatmap, not computed by any model (red = 1, blue = 0)", fontsize=10)
    return _png(fig)


def placeholder(what: str, why: str) -> bytes:
    """A small PNG that says which figure is missing and why."""
    plt = _pyplot()
    fig = plt.figure(figsize=(6, 1.4))
    fig.text(0.5, 0.62, f"Figure not available: {what}.", ha="center", va="center", fontsize=10)
    fig.text(0.5, 0.3, f"({why[:90]})", ha="center", va="center", fontsize=8, color="dimgray")
    return _png(fig)


def _grey_png(width: int = 240, height: int = 40) -> bytes:
    """A plain light-grey PNG written with the standard library alone."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xdd" * width for _ in range(height))  # filter byte 0, one grey byte a pixel
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


DRAW: dict[str, Callable[[], bytes]] = {
    "filters_camera.png": filters_camera,
    "mnist_samples.png": mnist_samples,
    "gradcam_illustration.png": gradcam_illustration,
}


def generate(folder: Path, log: Callable[[str], None] = lambda message: None) -> dict[str, str]:
    """Draw every figure into `folder`; returns name -> "drawn" | "unchanged" | "placeholder: <why>".

    Never raises for a figure: one that cannot be drawn is replaced by a placeholder. A file whose
    bytes would not change is left alone, so Sphinx does not copy it again."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, draw in DRAW.items():
        try:
            png, status = draw(), "drawn"
        except Exception as err:  # missing data, no network, a broken install: the site still builds
            why = f"{type(err).__name__}: {err}".splitlines()[0]
            try:
                png, status = placeholder(FIGURES[name], why), f"placeholder: {why}"
            except Exception:  # no matplotlib at all: a plain grey image, so the page still builds
                png, status = _grey_png(), f"placeholder (blank): {why}"
            log(f"figure {name}: {status}")
        path = folder / name
        if path.exists() and path.read_bytes() == png:
            status = "unchanged" if status == "drawn" else status
        else:
            path.write_bytes(png)
        report[name] = status
    return report


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "book" / "figures"
    for figure, outcome in generate(target, log=print).items():
        print(f"{target / figure}: {outcome}")
