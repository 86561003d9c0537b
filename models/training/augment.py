"""Training-only augmentations, each switched by the HyperRule decision.

Random crop (from the resize size to the crop size) and random flip with p = 0.5
(the official TF2 pipeline flips every image: issue #62; we do not copy that), and
MixUp with one lambda ~ Beta(alpha, alpha) per optimiser step, applied to images and
one-hot labels. Evaluation and serving never augment: they use the Transform graph's
`image`, resized straight to the crop size.

Upstream pre-training (core/upstream.py) replaces the random crop with the
Inception-style random resized crop: per image a random area fraction and aspect ratio, the
box placed uniformly, bilinearly resized to the crop size.
"""
import tensorflow as tf

from ...core import upstream


def for_decision(images_train, images, decision, seed):
    """The training view of a batch, as the decision says: the upstream recipe's Inception
    crop (from `images_train`) and flip; else the HyperRule's random crop from `images_train`
    (the resize size) and/or flip, or `images` (the crop size) when the rule keeps the whole
    image. Used by the Trainer's input pipeline and the transfer study alike.
    `seed`: a shape-[2] int tensor (stateless ops)."""
    crop = decision.crop_size
    if decision.crop == upstream.INCEPTION_CROP:
        seeds = tf.random.experimental.stateless_split(seed, num=2)
        cropped = inception_crop(images_train, crop, decision.crop_area_range,
                                 decision.crop_aspect_range, seeds[0])
        return flip(cropped, seeds[1]) if decision.random_flip else cropped
    source = images_train if decision.random_crop else images
    return crop_and_flip(source, crop, decision.random_crop, decision.random_flip, seed)


def crop_and_flip(images, crop_size, random_crop, random_flip, seed):
    """Random crop to crop_size (images at the resize size) and/or random flip.

    Without random crop the caller passes images already at the crop size (the
    Transform graph's `image`). `seed`: a shape-[2] int tensor (stateless ops).
    """
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    if random_crop:
        batch = tf.shape(images)[0]
        per_image = tf.random.experimental.stateless_split(seeds[0], num=batch)
        images = tf.map_fn(
            lambda args: tf.image.stateless_random_crop(args[0], [crop_size, crop_size, 3], args[1]),
            (images, per_image), fn_output_signature=tf.TensorSpec([crop_size, crop_size, 3], images.dtype))
    if random_flip:
        images = flip(images, seeds[1])
    return images


def inception_crop(images, crop_size, area_range, aspect_range, seed):
    """Random resized crop of each image to crop_size x crop_size (Szegedy et al. 2015).

    Per image: area fraction a ~ U(area_range), log aspect ratio ~ U(log aspect_range),
    box height sqrt(a / r) and width sqrt(a * r) (as fractions of the image, capped at 1),
    its corner uniform over the positions where it fits. `seed`: a shape-[2] int tensor."""
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    area = tf.random.stateless_uniform([batch], seeds[0], area_range[0], area_range[1])
    log_ratio = tf.random.stateless_uniform([batch], seeds[1], tf.math.log(float(aspect_range[0])),
                                            tf.math.log(float(aspect_range[1])))
    ratio = tf.exp(log_ratio)
    height = tf.minimum(tf.sqrt(area / ratio), 1.0)
    width = tf.minimum(tf.sqrt(area * ratio), 1.0)
    top = tf.random.stateless_uniform([batch], seeds[2]) * (1.0 - height)
    left = tf.random.stateless_uniform([batch], seeds[3]) * (1.0 - width)
    boxes = tf.stack([top, left, top + height, left + width], axis=1)
    cropped = tf.image.crop_and_resize(images, boxes, tf.range(batch), [crop_size, crop_size],
                                       method="bilinear")
    return tf.cast(cropped, images.dtype)


def flip(images, seed):
    """Each image flipped left-right with probability 0.5."""
    batch = tf.shape(images)[0]
    flipped = tf.random.stateless_uniform([batch, 1, 1, 1], seed) < 0.5
    return tf.where(flipped, tf.image.flip_left_right(images), images)


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
