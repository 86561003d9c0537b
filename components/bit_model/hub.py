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

CLI (the project CLI wires it later):
  python -m bit_tfx.components.bit_model.hub export --arch R50x1 --weights BiT-M-R50x1 --out DIR
  python -m bit_tfx.components.bit_model.hub export --arch tiny --out DIR      # random smoke model
"""
import argparse
import os
import sys
from typing import Optional

from bit_tfx.components.errors import ConfigError

SCALING_LAYER = "bit_input_scaling"  # factory models take [0, 1]: their first layer


WARM_START_DIR = "assets.extra/backbone"  # inside a pushed version; TF Serving ignores it


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


def _takes_unit_range(model) -> bool:
    return any(layer.name == SCALING_LAYER for layer in model.layers)


def export_hub_savedmodel(model, export_dir: str, verify: bool = False):
    """Export a native BiT keras model (any variant/weights) in TF Hub format.

    `model` is a `resnet_v2.build` model (input [-1, 1]; converted inside the export) or a
    `factory.build_classifier` model (already takes [0, 1]). Output: whatever the model
    outputs (pre-logits or logits), float32. Returns export_dir.
    """
    import tensorflow as tf

    from bit_tfx.components.bit_model import resnet_v2

    resnet_v2.official_variables(model)  # refuses hub-wrapping models: nothing native to export
    unit_input = _takes_unit_range(model)

    class BiTHubModule(tf.Module):
        # tf.Module computes these as properties; the Reusable SavedModel API needs them
        # as saved attributes, so the class shadows them and __init__ sets tracked lists.
        variables = None
        trainable_variables = None

        def __init__(self):
            super().__init__(name="bit")
            self.variables = list(model.variables)
            self.trainable_variables = list(model.trainable_variables)
            self.regularization_losses = []  # BiT has no weight decay / regularisers

        # autograph=False: the model has no tensor-dependent Python control flow, and
        # converting every Keras layer call made tracing several times slower.
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                     autograph=False)
        def serve(self, images):
            return {"output": self._forward(images, False)}

        @tf.function(autograph=False)
        def __call__(self, images, training=False):
            return self._forward(images, training)

        @staticmethod
        def _forward(images, training):
            x = images if unit_input else images * 2.0 - 1.0
            return tf.cast(model(x, training=training), tf.float32)

    module = BiTHubModule()
    spec = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    for training in (False, True):
        module.__call__.get_concrete_function(spec, training=training)
    tf.saved_model.save(module, export_dir,
                        signatures={"serving_default": module.serve.get_concrete_function()})
    if verify:
        verify_export(model, export_dir)
    return export_dir


def verify_export(model, export_dir: str, size: int = 64, atol: float = 1e-4) -> float:
    """Reload with hub.KerasLayer and compare to the keras model on random [0, 1] images."""
    import numpy as np
    import tensorflow as tf
    images = tf.constant(np.random.default_rng(0).random((2, size, size, 3), np.float32))
    layer = load_backbone(export_dir, trainable=True)
    x = images if _takes_unit_range(model) else images * 2.0 - 1.0
    diff = float(np.max(np.abs(layer(images).numpy() - model(x).numpy())))
    if not diff <= atol:
        raise HubError(f"export {export_dir} differs from the model: max |diff| {diff:g}")
    return diff


def _export_cli(args) -> int:
    from bit_tfx.components.bit_model import resnet_v2, weights

    arrays = weights.read_npz(args.weights, args.cache_dir) if args.weights else None
    arch = args.arch
    if arch is None and arrays is not None:
        arch = weights.arch_from_filename(args.weights) or resnet_v2.arch_from_shapes(
            weights.shapes(arrays))
    if arch is None:
        raise HubError("--arch is required without --weights")
    classes = None
    if args.logits:
        classes = weights.head_classes(arrays) if arrays is not None else args.num_classes
        if not classes:
            raise HubError("--logits needs weights with a head, or --num-classes for a "
                           "random model")
    model = resnet_v2.build(arch, num_classes=classes)
    if arrays is not None:
        report = weights.load_npz(model, arrays, skip_head=not args.logits)
        if report["skipped"]:
            print(f"feature-vector export: left out {len(report['skipped'])} head arrays")
    export_hub_savedmodel(model, args.out)
    what = "logits" if classes else "features"
    msg = f"exported {getattr(arch, 'name', arch)} ({what}) to {args.out}"
    if not args.no_verify:
        msg += f"; reload max |diff| {verify_export(model, args.out):.2e}"
    print(msg)
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bit_tfx.components.bit_model.hub",
                                     description="TF Hub tools for BiT models")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="export a native BiT as a TF Hub SavedModel")
    exp.add_argument("--arch", help="R50x1..R152x4, tiny, small (default: from --weights)")
    exp.add_argument("--weights", help="official-naming .npz: path, gs:// path or published "
                     "name (BiT-M-R50x1); omitted = random init")
    exp.add_argument("--out", required=True, help="export directory (local or gs://)")
    exp.add_argument("--logits", action="store_true",
                     help="export the classifier (the file's head) instead of pre-logits")
    exp.add_argument("--num-classes", type=int, default=0,
                     help="head size for --logits without weights")
    exp.add_argument("--cache-dir", default=None, help="download cache for published names")
    exp.add_argument("--no-verify", action="store_true",
                     help="skip the reload-and-compare check")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        return _export_cli(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
