"""BiT model library: native ResNet-v2 (resnet_v2), official .npz weights (weights),
TF Hub load/export (hub), the model spec grammar (spec) and the classifier builder
(factory). See docs/models.md.

Importing the package (or `spec`) does not import TensorFlow; `build_classifier` and
`parse` are resolved lazily.
"""


def __getattr__(name):
    if name == "build_classifier":
        from bit_tfx.components.bit_model.factory import build_classifier
        return build_classifier
    if name in ("parse", "ModelSpec", "ModelSpecError"):
        from bit_tfx.components.bit_model import spec
        return getattr(spec, name)
    raise AttributeError(name)
