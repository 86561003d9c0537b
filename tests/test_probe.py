"""The LP-FT head start (models/training/probe.py): the probe fitted on standardised features,
folded into a head on the raw pre-logits, and set on a real classifier."""
import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from bit_tfx.models.bit import build_classifier
from bit_tfx.models.training import probe


def _blobs(classes, per_class, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (classes, dim))
    # features far from zero and of very unequal scale per dimension, as pre-logits are
    scale = np.exp(rng.normal(0, 2, dim))
    x = np.concatenate([c + 0.3 * rng.normal(size=(per_class, dim)) for c in centres]) * scale + 40
    y = np.repeat(np.arange(classes), per_class)
    return x.astype(np.float32), y


@pytest.mark.parametrize("classes", [2, 5])
def test_the_folded_head_on_raw_features_is_the_probe_on_standardised_ones(classes):
    x, y = _blobs(classes, 30)
    kernel, bias, accuracy = probe.fit(x, y, classes)
    assert kernel.shape == (16, classes) and bias.shape == (classes,)
    mean, std = x.astype(np.float64).mean(0), x.astype(np.float64).std(0) + 1e-6
    reference = LogisticRegression(max_iter=2000, C=probe.L2_C).fit((x - mean) / std, y)
    logits = x.astype(np.float64) @ kernel + bias
    np.testing.assert_array_equal(logits.argmax(1), reference.predict((x - mean) / std))
    if classes > 2:  # multinomial: the same logits; binary: the same logit difference
        np.testing.assert_allclose(logits, reference.decision_function((x - mean) / std), rtol=1e-3, atol=1e-3)
    else:
        np.testing.assert_allclose(logits[:, 1] - logits[:, 0], reference.decision_function((x - mean) / std),
                                   rtol=1e-3, atol=1e-3)
    assert accuracy > 0.95


def test_a_class_the_probe_never_saw_is_never_favoured():
    x, y = _blobs(3, 20)
    kernel, bias, _ = probe.fit(x, y, 4)   # class 3 has no example
    assert np.all(kernel[:, 3] == 0)
    assert ((x @ kernel + bias).argmax(1) != 3).all()


def test_one_class_is_refused():
    x, y = _blobs(1, 5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        probe.fit(x, y, 3)


def test_init_head_sets_a_real_classifier_s_head_to_the_probe():
    tf.keras.utils.set_random_seed(0)
    model = build_classifier("random:tiny", 2)
    rng = np.random.default_rng(0)
    images = np.concatenate([np.clip(rng.normal([0.8, 0.1, 0.1], 0.1, (20, 32, 32, 3)), 0, 1),
                             np.clip(rng.normal([0.1, 0.1, 0.8], 0.1, (20, 32, 32, 3)), 0, 1)]).astype(np.float32)
    labels = np.repeat([0, 1], 20)
    assert np.all(model(images).numpy() == 0)   # the rule's zero head
    fitted = probe.init_head(model, [(images[:20], labels[:20]), (images[20:], labels[20:])], 2)
    assert fitted == {"examples": 40, "train_accuracy": 1.0}
    assert (model(images).numpy().argmax(1) == labels).all()
