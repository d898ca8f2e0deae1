"""Small redistributable photos for image-filtering questions, shipped in data/fixtures.

See data/fixtures/README.md for sources and licences (astronaut: public domain, NASA;
camera: CC0). Both are 256x256 downscales of the scikit-image sample images.
"""

from __future__ import annotations

import numpy as np

from .config import FIXTURES

PHOTOS = ("astronaut", "camera")


def load_photo(name: str = "astronaut", grayscale: bool = True) -> np.ndarray:
    """uint8 (H, W) grayscale, or (H, W, 3) RGB with ``grayscale=False``.

    "camera" is a grey photo; in RGB its three channels are equal.
    """
    import cv2

    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {PHOTOS}")
    path = FIXTURES / f"{name}.png"
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path} is missing or unreadable; reinstall the course repository")
    return img if grayscale else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
