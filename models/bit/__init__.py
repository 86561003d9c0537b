"""BiT model library: native ResNet-v2 (resnet_v2), official .npz weights (weights),
TF Hub load/export (hub), the model spec grammar (spec) and the classifier builder
(factory). See docs/models.md.

Importing the package (or `spec`) does not import TensorFlow; `build_classifier` and
`parse` are resolved lazily.
"""


def __getattr__(name):
    if name == "build_classifier":
        from .factory import build_classifier
        return build_classifier
    if name in ("parse", "ModelSpec", "ModelSpecError"):
        from . import spec
        return getattr(spec, name)
    raise AttributeError(name)
