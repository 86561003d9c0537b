"""Build a downstream classifier from any model spec: backbone + NEW zero-initialised head.

Why one builder: whatever the backbone source (TF Hub module, official .npz, random
init), the trainer gets the same contract:
  * input: float32 images [B, H, W, 3] in [0, 1]; native/npz backbones convert to [-1, 1]
    inside (resnet_v2.UnitRangeInput, layer `bit_input_scaling`), TF Hub modules do it
    themselves;
  * output: float32 logits [B, num_classes] from a Dense head whose kernel and bias start
    at exactly zero (so the untrained model predicts the uniform distribution);
  * full fine-tuning by default (every backbone weight trainable, BiT-HyperRule);
    `linear_probe=True` freezes the backbone and trains only the head.
The head of an .npz file is never loaded here (skip_head=True, explicitly): a
downstream task has its own classes. `native_model` is the one builder of a native BiT fed
[0, 1] (random or from an .npz, head kept or dropped): the classifier's backbone here and
the ImageNet classifier of `bit-tfx predict` (imagenet.py).
"""
from typing import Dict, Optional, Union

import numpy as np
import tf_keras as keras

from . import hub as bit_hub
from . import resnet_v2, spec as bit_spec, weights
from ...core import keys
from ...core.errors import ConfigError

BACKBONE_NAME = "resnet"


def native_model(arrays: Optional[Dict[str, np.ndarray]] = None, arch=None,
                 keep_head: bool = False, input_shape=(None, None, 3),
                 name: str = "bit_native") -> keras.Model:
    """The one way to build a native BiT: [0, 1] images -> UnitRangeInput -> the ResNet-v2
    (named BACKBONE_NAME), filled strictly from official-naming `arrays` when given (random
    init otherwise).

    arch: an architecture name; None = from the arrays' shapes. keep_head: True = the file's
    head, its class count read from the arrays (a classifier: logits); False = pre-logits,
    the file's head arrays explicitly skipped.
    """
    if arch is None:
        if arrays is None:
            raise ConfigError("native_model needs an architecture or weight arrays")
        arch = resnet_v2.arch_from_shapes(weights.shapes(arrays))
    classes = weights.head_classes(arrays) if keep_head and arrays is not None else None
    backbone = resnet_v2.build(arch, num_classes=classes, input_shape=input_shape,
                               name=BACKBONE_NAME)
    if arrays is not None:
        weights.load_npz(backbone, arrays, skip_head=not keep_head)
    return resnet_v2.with_unit_input(backbone, input_shape, name=name)


def build_classifier(spec: Union[str, bit_spec.ModelSpec], num_classes: int,
                     linear_probe: bool = False, input_shape=(None, None, 3),
                     cache_dir: Optional[str] = None,
                     freeze_until: Optional[str] = None) -> keras.Model:
    """A keras.Model: [0, 1] images -> logits for num_classes, backbone from `spec`.

    freeze_until (keys.BACKBONE_BLOCKS, native backbones only): the backbone's layers from
    the input through that block are not trainable; later blocks and the head are.

    The model carries `bit_spec` (canonical spec string), `bit_linear_probe`,
    `bit_freeze_until`, and for native backbones `bit_arch`.
    """
    parsed = bit_spec.parse(spec) if isinstance(spec, str) else spec
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    arch = None
    if freeze_until is not None and (linear_probe or parsed.kind == "hub"
                                     or freeze_until not in keys.BACKBONE_BLOCKS):
        raise ConfigError(f"freeze_until {freeze_until!r}: needs a native backbone, no linear "
                          f"probe, and one of {', '.join(keys.BACKBONE_BLOCKS)}")
    if parsed.kind == "hub":
        images = keras.Input(shape=input_shape, dtype="float32", name="images")
        backbone = bit_hub.load_backbone(parsed.location, trainable=not linear_probe)
        features = backbone(images)
    else:
        arrays = weights.read_npz(parsed.location, cache_dir) if parsed.kind == "npz" else None
        native = native_model(arrays, parsed.arch, keep_head=False, input_shape=input_shape)
        arch = native.get_layer(BACKBONE_NAME).bit_arch
        native.get_layer(BACKBONE_NAME).trainable = not linear_probe
        if freeze_until is not None:
            frozen = keys.BACKBONE_BLOCKS[:keys.BACKBONE_BLOCKS.index(freeze_until) + 1]
            for layer in native.get_layer(BACKBONE_NAME).layers:
                if layer.name.split("/")[0] in frozen:
                    layer.trainable = False
        images, features = native.input, native.output
    logits = keras.layers.Dense(num_classes, kernel_initializer="zeros",
                                bias_initializer="zeros", dtype="float32",
                                name=resnet_v2.HEAD_NAME)(features)
    model = keras.Model(images, logits, name="bit_classifier")
    model.bit_spec = str(parsed)
    model.bit_linear_probe = bool(linear_probe)
    model.bit_freeze_until = freeze_until
    if arch is not None:
        model.bit_arch = arch
    return model
