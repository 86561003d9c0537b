"""Build a downstream classifier from any model spec: backbone + NEW zero-initialised head.

Why one builder: whatever the backbone source (TF Hub module, official .npz, random
init), the trainer gets the same contract:
  * input: float32 images [B, H, W, 3] in [0, 1]; native/npz backbones convert to [-1, 1]
    inside (a Rescaling layer named `bit_input_scaling`), TF Hub modules do it themselves;
  * output: float32 logits [B, num_classes] from a Dense head whose kernel and bias start
    at exactly zero (so the untrained model predicts the uniform distribution);
  * full fine-tuning by default (every backbone weight trainable, BiT-HyperRule);
    `linear_probe=True` freezes the backbone and trains only the head.
The head of an .npz file is never loaded here (skip_head=True, explicitly): a
downstream task has its own classes.
"""
from typing import Optional, Union

import tf_keras as keras

from bit_tfx.components.bit_model import hub as bit_hub
from bit_tfx.components.bit_model import resnet_v2, spec as bit_spec, weights
from bit_tfx.components.errors import ConfigError

INPUT_RANGE = (0.0, 1.0)
BACKBONE_NAME = "resnet"
# For model.compile(jit_compile=...). bench/model_speed.py on CPU: tf.function without XLA
# is the fastest mode (1.3x eager on R50x1) and matches eager to ~1e-6; XLA was no faster
# than eager and further from a float64 run. Not yet measured on a GPU (--gpu mode).
DEFAULT_JIT_COMPILE = False


def build_classifier(spec: Union[str, bit_spec.ModelSpec], num_classes: int,
                     linear_probe: bool = False, input_shape=(None, None, 3),
                     cache_dir: Optional[str] = None) -> keras.Model:
    """A keras.Model: [0, 1] images -> logits for num_classes, backbone from `spec`.

    The model carries `bit_spec` (canonical spec string), `bit_linear_probe`, and for
    native backbones `bit_arch`.
    """
    parsed = bit_spec.parse(spec) if isinstance(spec, str) else spec
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    images = keras.Input(shape=input_shape, dtype="float32", name="images")
    arch = None
    if parsed.kind == "hub":
        backbone = bit_hub.load_backbone(parsed.location, trainable=not linear_probe)
        features = backbone(images)
    else:
        arrays = None
        if parsed.kind == "npz":
            arrays = weights.read_npz(parsed.location, cache_dir)
            arch = parsed.arch or resnet_v2.arch_from_shapes(weights.shapes(arrays))
        else:
            arch = parsed.arch
        backbone = resnet_v2.build(arch, num_classes=None, input_shape=input_shape,
                                   name=BACKBONE_NAME)
        if arrays is not None:
            weights.load_npz(backbone, arrays, skip_head=True)
        backbone.trainable = not linear_probe
        scaled = keras.layers.Rescaling(2.0, offset=-1.0, name=bit_hub.SCALING_LAYER)(images)
        features = backbone(scaled)
    logits = keras.layers.Dense(num_classes, kernel_initializer="zeros",
                                bias_initializer="zeros", dtype="float32",
                                name=resnet_v2.HEAD_NAME)(features)
    model = keras.Model(images, logits, name="bit_classifier")
    model.bit_spec = str(parsed)
    model.bit_linear_probe = bool(linear_probe)
    if arch is not None:
        model.bit_arch = resnet_v2.get_arch(arch)
    return model
