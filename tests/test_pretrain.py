"""`bit-tfx pretrain` end to end: the same DAG with the upstream recipe pushes a backbone in TF
Hub layout and as an official-naming .npz, and downstream runs fine-tune from either."""
import os

import numpy as np
import pytest

import runs
from bit_tfx.core import keys
from bit_tfx.datasets import fractals
from bit_tfx.pipeline import results

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

OVERRIDES = {"epochs": 4, "decay_epochs": [2, 3], "crop_size": 32}


def test_pretrain_pushes_a_backbone_that_hub_and_npz_runs_fine_tune_from(tmp_path):
    import tensorflow as tf
    import tensorflow_hub as hub

    from bit_tfx.models.bit import factory, weights
    from bit_tfx.core.decision import read_decision

    fractals.write_fractals(str(tmp_path / "corpus"), num_classes=4, per_class=12, size=32)
    config = runs.run(tmp_path / "corpus", tmp_path / "up", through="pusher", pretrain=True,
                      model_spec="random:tiny", batch_size=16, batch_policy="scale_lr",
                      upstream_overrides=OVERRIDES, min_accuracy=0.0, num_classes=4,
                      pipeline_name="bit-tfx-pretrain")
    summary = results.summarize(config)
    assert summary.blessed, summary
    version = summary.pushed_to
    assert os.path.dirname(version) == str(tmp_path / "up" / "backbones")  # not OUTPUT/serving

    recipe = read_decision(os.path.dirname(summary.hyperparameters))
    assert recipe.upstream and recipe.recipe == "bit-upstream" and recipe.weight_decay == 1e-4
    assert recipe.overrides["epochs"] == {"value": 4, "recipe": 90}
    with open(os.path.join(version, keys.ASSETS_EXTRA, "model_card.md")) as f:
        card = f.read()
    assert "BiT upstream recipe (pre-training)" in card and "weight decay" in card
    assert "- Trained: every layer (pre-training)" in card

    # The .npz: official names, the upstream head (4 classes) kept, as the BiT-M files keep theirs.
    npz = os.path.join(version, keys.BACKBONE_NPZ)
    arrays = weights.read_npz(npz)
    assert "resnet/root_block/standardized_conv2d/kernel" in arrays
    assert weights.head_classes(arrays) == 4
    # The TF Hub export and the .npz are the same backbone: equal pre-logits.
    images = tf.constant(np.random.default_rng(0).random((2, 48, 48, 3), np.float32))
    layer = hub.KerasLayer(os.path.join(version, keys.BACKBONE_DIR), trainable=True)
    assert len(layer.trainable_variables) > 10
    native = factory.native_model(arrays, keep_head=False)
    assert np.max(np.abs(layer(images).numpy() - native(images).numpy())) < 1e-4

    # Downstream: both forms fine-tune (a new zero head on the pre-trained backbone).
    runs.colour_images(str(tmp_path / "colours"), 12, seed=3)
    for name, spec in (("npz", f"npz:{npz}"), ("hub", f"hub:{version}")):
        down = runs.run(tmp_path / "colours", tmp_path / name,
                        **dict(runs.SMOKE, model_spec=spec, min_accuracy=0.0))
        done = results.summarize(down)
        assert done.blessed and done.pushed_to, (name, done)
        with open(os.path.join(done.pushed_to, keys.ASSETS_EXTRA, "model_card.md")) as f:
            assert spec in f.read()

    # Continued pre-training from the pushed backbone (--model on pretrain).
    more = runs.run(tmp_path / "corpus", tmp_path / "up2", through="pusher", pretrain=True,
                    model_spec=f"npz:{npz}", batch_size=16, batch_policy="scale_lr",
                    upstream_overrides=dict(OVERRIDES, epochs=3, decay_epochs=[1, 2]),
                    min_accuracy=0.0, num_classes=4, pipeline_name="bit-tfx-pretrain")
    again = results.summarize(more)
    assert again.blessed and os.path.exists(os.path.join(again.pushed_to, keys.BACKBONE_NPZ))
