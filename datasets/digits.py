"""The embedded demo dataset: scikit-learn's bundled handwritten digits (UCI ML
hand-written digits, 1,797 8x8 grayscale images, 10 classes), written as a folder
of class sub-folders of PNG files. Needs no network: the images ship inside the
scikit-learn package that TFMA already depends on."""
import os

# The digits' task semantics for the HyperRule (BiT: skip the flip where orientation is the label,
# skip the random crop where it would destroy the label). A mirrored 2, 3, 5 or 7 is another
# digit or none: no flip (--preserve-orientation). The digits fill their frame edge to edge, so
# a 128-of-160 random crop cuts the strokes that tell 7 from 1 or 8 from 0: no random crop (the
# rule's --preserve-count switch). Measured with the shipped backbone (docs/benchmarks.md,
# "Transfer that works"): 0.864 with the crop against 0.935 without.
PRESERVE_ORIENTATION = True
PRESERVE_COUNT = True


def write_digits(root, per_class=None, size=32):
    """root/<digit name>/<index>.png, upscaled (nearest) to size x size; returns the count."""
    import numpy as np
    from PIL import Image
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
