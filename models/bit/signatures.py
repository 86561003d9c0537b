"""What every exported bit-tfx SavedModel is built on: the one serving/export module base.

  ReusableModule      a Keras model fed [0, 1] images as a TF Hub Reusable SavedModel:
                      `__call__(images, training=False)` traced for training True and False,
                      and `variables`, `trainable_variables`, `regularization_losses`, so
                      hub.KerasLayer(path, trainable=True) fine-tunes every weight. Used by
                      the TF Hub export (hub.py), the pushed model and its warm-start
                      backbone (models/export/saved_model.py).
  BytesServingModule  + serving_default(image_bytes) -> classes, scores: refuse images above
                      the pixel limit (read from their headers), decode, classify, softmax,
                      all classes with names, best first; serve_top_k(image_bytes, k) the
                      same with k per image; serve_embeddings(image_bytes) the pre-logits. Subclasses say how bytes become [0, 1] images: the
                      pushed model through its Transform graph, the ImageNet classifiers
                      (imagenet.py) through `decode_and_resize`, the Transform graph's own
                      decoder (models/preprocessing.py uses it).

The pixel limit: before anything is decoded, each image's width and height are read from its
header (tf.image.extract_jpeg_shape for JPEG; the IHDR chunk of a PNG, the logical screen of a
GIF, the info header of a BMP, all in TF ops) and a request holding an image above
`max_pixels` (default keys.DEFAULT_MAX_IMAGE_PIXELS, what ingestion refuses too) fails with
InvalidArgument naming the image's index in the request, its size and the limit: a 419 KB PNG
of 12000 x 12000 would otherwise allocate over 2 GB. Every failure is per request: TF ops
cannot fail one row of a batch, so an image that does not decode (or is too large) fails the
request it is in; `bit-tfx predict` retries such a batch file by file (docs/operations.md).
"""
import tensorflow as tf

from ...core import keys

_IMAGES = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
_HEADER_BYTES = 32  # enough for the size fields of PNG (16..24), GIF (6..10), BMP (18..26)


class ReusableModule(tf.Module):
    """A Keras model fed [0, 1] images as a TF Hub reusable SavedModel -> its float32 output."""
    # tf.Module computes these as properties; TF Hub's reusable SavedModel API needs them
    # saved as attributes, so the class shadows them and __init__ sets tracked lists.
    variables = None
    trainable_variables = None

    def __init__(self, model, name):
        super().__init__(name=name)
        # Held untracked: the SavedModel holds the traced functions and the variables (the
        # lists below), not a Keras serialisation of the model, which traces every layer's call
        # again (about half of an export's time; docs/benchmarks.md, "Where a training
        # step's time goes", item 5).
        object.__setattr__(self, "classifier", model)
        self.variables = list(model.variables)
        self.trainable_variables = list(model.trainable_variables)
        self.regularization_losses = []  # BiT has no weight decay / regularisers

    # autograph=False: the model has no tensor-dependent Python control flow, and converting
    # every Keras layer call made tracing several times slower.
    @tf.function(autograph=False)
    def __call__(self, images, training=False):
        return tf.cast(self.classifier(images, training=training), tf.float32)

    def trace(self):
        for training in (False, True):  # hub.KerasLayer(trainable=True) calls both
            self.__call__.get_concrete_function(_IMAGES, training=training)
        return self

    def images_signature(self):
        """serving_default of a plain TF Hub export: {"images"} -> {"output"}."""
        return tf.function(lambda images: {"output": self(images)},
                           input_signature=[_IMAGES], autograph=False).get_concrete_function()


def _uint(raw, big_endian):
    """Unsigned integer from uint8 bytes [n] (int64)."""
    raw = tf.cast(raw, tf.int64)
    n = raw.shape[0]
    weights = [256 ** (n - 1 - i) if big_endian else 256 ** i for i in range(n)]
    return tf.reduce_sum(raw * tf.constant(weights, tf.int64))


def header_size(data):
    """(height, width) of one encoded image, int64, from its header only; (0, 0) for bytes of
    no supported format, or a signature followed by no valid header (decoding then refuses
    them with TensorFlow's own message)."""
    head = tf.io.decode_raw(tf.strings.substr(
        tf.strings.join([data, tf.constant(b"\0" * _HEADER_BYTES)]), 0, _HEADER_BYTES), tf.uint8)
    head.set_shape([_HEADER_BYTES])
    zero = tf.zeros([2], tf.int64)

    def jpeg():
        return tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64)

    def png():  # IHDR, the first chunk: width, height as big-endian uint32 at bytes 16 and 20
        return tf.stack([_uint(head[20:24], True), _uint(head[16:20], True)])

    def gif():  # logical screen: width, height as little-endian uint16 at bytes 6 and 8
        return tf.stack([_uint(head[8:10], False), _uint(head[6:8], False)])

    def bmp():  # BITMAPINFOHEADER: width, height as little-endian int32 at 18 and 22;
        def signed(raw):  # a negative height means top-down rows
            value = _uint(raw, False)
            return tf.abs(tf.where(value >= 2 ** 31, value - 2 ** 32, value))
        return tf.stack([signed(head[22:26]), signed(head[18:22])])

    def at(offset, magic):
        return tf.reduce_all(tf.equal(head[offset:offset + len(magic)],
                                      tf.constant(list(magic), tf.uint8)))

    def starts(magic):
        return at(0, magic)

    # A PNG signature followed by junk is no PNG header (libpng refuses a file whose first
    # chunk is not IHDR before it allocates anything): its "sizes" are junk, e.g. read as
    # 1155000867x1299404957 and refused as too large with advice to downscale. It gives (0, 0)
    # and the decoder refuses it with its own message. (JPEG, GIF and BMP sizes are read where
    # TensorFlow's decoders read them, so what they would allocate is what is checked.)
    is_png = starts(b"\x89PNG\r\n\x1a\n") & at(12, b"IHDR")
    return tf.case([(starts(b"\xff\xd8\xff"), jpeg), (is_png, png),
                    (starts(b"GIF8"), gif), (starts(b"BM"), bmp)],
                   default=lambda: zero, exclusive=False)


def check_pixels(image_bytes, max_pixels):
    """An op that fails with InvalidArgument when an image of the batch [B] has more than
    max_pixels pixels by its header; run it before decoding (control dependency)."""
    sizes = tf.map_fn(header_size, image_bytes, fn_output_signature=tf.TensorSpec([2], tf.int64))
    pixels = tf.reduce_prod(sizes, axis=1)
    too_big = pixels > max_pixels
    first = tf.argmax(tf.cast(too_big, tf.int32), output_type=tf.int32)
    size = tf.gather(sizes, first)
    message = tf.strings.format(
        "image {} of the request is {}x{} pixels (width x height, from its header) = {} "
        "pixels, above the limit of this model, {} pixels (max_image_pixels); send it downscaled",
        (first, size[1], size[0], tf.gather(pixels, first), max_pixels))
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(too_big)), [message])


def decode_and_resize(encoded, size):
    """Batch of encoded images [B] -> float32 [B, size, size, 3] in [0, 1]: any supported
    format to RGB (grayscale, alpha, palette, CMYK, 16-bit too; a GIF's first frame),
    bilinear resize without keeping the aspect ratio (as BiT does)."""
    def one(data):
        pixels = tf.io.decode_image(data, channels=3, expand_animations=False)  # uint8 RGB
        pixels.set_shape([None, None, 3])
        resized = tf.image.resize(tf.cast(pixels, tf.float32), [size, size], method="bilinear")
        return tf.clip_by_value(resized / 255.0, 0.0, 1.0)
    return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


class BytesServingModule(ReusableModule):
    """serving_default: raw encoded bytes -> classes (best first) and their probabilities;
    serve_top_k: the same, k classes per image; serve_embeddings (when a `features` model,
    [0, 1] images -> pre-logits, is given): the vector the head sees, raw and L2-normalised.
    Subclasses say how bytes become [0, 1] images (_images_from_bytes)."""

    def __init__(self, model, class_names, name, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS,
                 features=None):
        super().__init__(model, name=name)
        self.class_names = tf.constant(class_names)
        self.max_pixels = tf.constant(int(max_pixels), tf.int64)
        object.__setattr__(self, "features", features)   # untracked, as `classifier`

    def _images_from_bytes(self, image_bytes):
        raise NotImplementedError

    def _checked_images(self, image_bytes):
        with tf.control_dependencies([check_pixels(image_bytes, self.max_pixels)]):
            image_bytes = tf.identity(image_bytes)
        return self._images_from_bytes(image_bytes)

    def _probabilities(self, image_bytes):
        return tf.nn.softmax(self.classifier(self._checked_images(image_bytes), training=False))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=keys.INPUT_IMAGE_BYTES)],
                 autograph=False)
    def serve_bytes(self, image_bytes):
        probabilities = self._probabilities(image_bytes)
        top = tf.math.top_k(probabilities, k=tf.shape(self.class_names)[0])
        return {keys.OUTPUT_CLASSES: tf.gather(self.class_names, top.indices),
                keys.OUTPUT_SCORES: top.values}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=keys.INPUT_IMAGE_BYTES),
                                  tf.TensorSpec([None], tf.int32, name=keys.INPUT_K)],
                 autograph=False)
    def serve_top_k(self, image_bytes, k):
        """k per image (one int per row, so TF Serving's row format and its server-side
        batching keep it with its image); k <= 0 or above the class count: all classes.
        Outputs are [B, the largest k of the batch]; a row with a smaller k is padded with
        class "" and score 0 after its k classes."""
        with tf.control_dependencies([tf.debugging.assert_equal(
                tf.shape(k)[0], tf.shape(image_bytes)[0],
                message="serving_top_k takes one k per image: k and image_bytes must have the "
                        "same length")]):
            num_classes = tf.shape(self.class_names)[0]
            k = tf.where((k <= 0) | (k > num_classes), num_classes, k)
        widest = tf.maximum(tf.reduce_max(tf.concat([k, [0]], 0)), 0)
        top = tf.math.top_k(self._probabilities(image_bytes), k=widest)
        keep = tf.range(widest)[None, :] < k[:, None]
        return {keys.OUTPUT_CLASSES: tf.where(keep, tf.gather(self.class_names, top.indices), ""),
                keys.OUTPUT_SCORES: tf.where(keep, top.values, 0.0)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=keys.INPUT_IMAGE_BYTES)],
                 autograph=False)
    def serve_embeddings(self, image_bytes):
        embedding = tf.cast(self.features(self._checked_images(image_bytes), training=False),
                            tf.float32)
        return {keys.OUTPUT_EMBEDDING: embedding,
                keys.OUTPUT_EMBEDDING_L2: tf.math.l2_normalize(embedding, axis=-1)}
