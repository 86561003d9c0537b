"""The embedded demo dataset: scikit-learn's bundled handwritten digits (UCI ML
hand-written digits, 1,797 8x8 grayscale images, 10 classes), written as a folder
of class sub-folders of PNG files. Needs no network: the images ship inside the
scikit-learn package that TFMA already depends on."""
import os

import numpy as np
from PIL import Image


def write_digits(root, per_class=None, size=32):
    """root/<digit name>/<index>.png, upscaled (nearest) to size x size; returns the count."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    written = {}
    for index, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        label = names[target]
        if per_class is not None and written.get(label, 0) >= per_class:
            continue
        img = Image.fromarray((pixels * (255.0 / 16.0)).astype(np.uint8), mode="L")
        folder = os.path.join(root, label)
        os.makedirs(folder, exist_ok=True)
        img.resize((size, size), Image.NEAREST).save(os.path.join(folder, f"{index:04d}.png"))
        written[label] = written.get(label, 0) + 1
    return sum(written.values())
