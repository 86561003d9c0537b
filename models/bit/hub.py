"""TF Hub BiT backbones: load them for full fine-tuning, and export native BiTs to them.

Loading: `load_backbone(handle)` = hub.KerasLayer(handle, trainable=True). The official
modules (https://tfhub.dev/google/bit/m-r50x1/1 style) and our exports take float images
in [0, 1] and convert inside. trainable=True matters: KerasLayer defaults to False, which
silently turns fine-tuning into a linear probe (the TF blog / keras.io BiT examples).
Downloads are cached by tensorflow_hub itself under $TFHUB_CACHE_DIR (default: a temp
dir); nothing here sets or overrides it, so point it at a persistent volume to reuse
downloads across runs.

Export: `export_hub_savedmodel(model, export_dir)` writes a TF2 SavedModel following TF
Hub's Reusable SavedModel API: a callable `__call__(images, training=False)` traced for
training True and False, and `variables`, `trainable_variables`, `regularization_losses`
attributes, so `hub.KerasLayer(export_dir, trainable=True)` fine-tunes every weight. It
takes float32 [B, H, W, 3] in [0, 1] and returns pre-logits (feature extractor) or logits
(a model with a head). A `serving_default` signature {"images"} -> {"output"} is added.
The module is signatures.ReusableModule, the same base as the pushed model's.
"""
from ...core import keys
from ...core.errors import ConfigError

WARM_START_DIR = keys.BACKBONE_DIR  # inside a pushed version; TF Serving ignores it


class HubError(ConfigError):
    """A hub handle or an export request that cannot be served."""


def warm_start_location(handle: str) -> str:
    """A pushed bit-tfx version (SERVING_DIR/<version>) carries its backbone in TF Hub
    format under WARM_START_DIR: retraining starts from that. Other handles are unchanged."""
    import tensorflow as tf
    if "://" in handle and not handle.startswith("gs://"):
        return handle
    inner = handle.rstrip("/") + "/" + WARM_START_DIR
    if tf.io.gfile.exists(inner + "/saved_model.pb"):
        return inner
    if tf.io.gfile.isdir(inner):  # loading the whole classifier instead would warm-start from logits
        raise HubError(f"{handle}: the backbone under {WARM_START_DIR} has no saved_model.pb (a "
                       "version pushed before bit-tfx kept nested SavedModels); warm-start from "
                       "the Trainer's model artifact (its Format-Serving folder) instead")
    return handle


def load_backbone(handle: str, trainable: bool = True, name: str = "bit_hub"):
    """hub.KerasLayer for a TF Hub handle (URL, gs:// or local SavedModel dir, or a pushed
    bit-tfx version, whose exported backbone is used: a warm start).

    trainable=True (the default) fine-tunes all backbone weights; False = linear probe.
    """
    import tensorflow_hub as hub
    handle = warm_start_location(handle)
    try:
        return hub.KerasLayer(handle, trainable=trainable, name=name)
    except (OSError, ValueError, IOError) as e:
        raise HubError(f"cannot load TF Hub module {handle!r}: {e}") from e


def export_hub_savedmodel(model, export_dir: str, verify: bool = False):
    """Export a native BiT keras model (any variant/weights) in TF Hub format.

    `model` is a `resnet_v2.build` model (input [-1, 1]; resnet_v2.UnitRangeInput is put in
    front) or a model that already takes [0, 1] (`factory.native_model`,
    `factory.build_classifier`). Output: whatever the model outputs (pre-logits or logits),
    float32. Returns export_dir.
    """
    import tensorflow as tf

    from . import resnet_v2, signatures

    resnet_v2.official_variables(model)  # refuses hub-wrapping models: nothing native to export
    unit_model = model if resnet_v2.takes_unit_range(model) else resnet_v2.with_unit_input(model)
    with resnet_v2.autodiff_group_norm():   # no hand-written gradients in the SavedModel
        module = signatures.ReusableModule(unit_model, name="bit").trace()
        tf.saved_model.save(module, export_dir,
                            signatures={"serving_default": module.images_signature()})
    if verify:
        verify_export(model, export_dir)
    return export_dir


def verify_export(model, export_dir: str, size: int = 64, atol: float = 1e-4) -> float:
    """Reload with hub.KerasLayer and compare to the keras model on random [0, 1] images."""
    import numpy as np
    import tensorflow as tf

    from . import resnet_v2
    images = tf.constant(np.random.default_rng(0).random((2, size, size, 3), np.float32))
    layer = load_backbone(export_dir, trainable=True)
    x = images if resnet_v2.takes_unit_range(model) else resnet_v2.from_unit_range(images)
    diff = float(np.max(np.abs(layer(images).numpy() - model(x).numpy())))
    if not diff <= atol:
        raise HubError(f"export {export_dir} differs from the model: max |diff| {diff:g}")
    return diff
