"""Training-only augmentations, each switched by the HyperRule decision.

Random crop (from the resize size to the crop size) and random flip with p = 0.5
(the official TF2 pipeline flips every image: issue #62; we do not copy that), and
MixUp with one lambda ~ Beta(alpha, alpha) per optimiser step, applied to images and
one-hot labels. Evaluation and serving never augment: they use the Transform graph's
`image`, resized straight to the crop size.
"""
import tensorflow as tf


def crop_and_flip(images, crop_size, random_crop, random_flip, seed):
    """Random crop to crop_size (images at the resize size) and/or random flip.

    Without random crop the caller passes images already at the crop size (the
    Transform graph's `image`). `seed`: a shape-[2] int tensor (stateless ops).
    """
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    if random_crop:
        per_image = tf.random.experimental.stateless_split(seeds[0], num=batch)
        images = tf.map_fn(
            lambda args: tf.image.stateless_random_crop(args[0], [crop_size, crop_size, 3], args[1]),
            (images, per_image), fn_output_signature=tf.TensorSpec([crop_size, crop_size, 3], images.dtype))
    if random_flip:
        flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[1]) < 0.5
        images = tf.where(flip, tf.image.flip_left_right(images), images)
    return images


def sample_mixup_lambda(alpha, seed):
    """One lambda per optimiser step; 1.0 (no mixing) when alpha is 0."""
    if not alpha:
        return tf.constant(1.0)
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    a = tf.random.stateless_gamma([], seeds[0], alpha=alpha)
    b = tf.random.stateless_gamma([], seeds[1], alpha=alpha)
    return a / (a + b)


def mixup(images, one_hot, lam):
    """Mixes each example with the batch reversed: lam * x + (1 - lam) * x[::-1]."""
    lam_images = tf.cast(lam, images.dtype)
    mixed = lam_images * images + (1.0 - lam_images) * tf.reverse(images, axis=[0])
    labels = lam * one_hot + (1.0 - lam) * tf.reverse(one_hot, axis=[0])
    return mixed, labels
