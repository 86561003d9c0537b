"""The head's start beyond the BiT-HyperRule: a linear probe first (LP-FT; Kumar et al., "Fine-Tuning
can Distort Pretrained Features and Underperform Out-of-Distribution", ICLR 2022).

The rule starts the new head at zero. Its first gradients then reach the backbone through a
zero kernel (none at all) and the head learns from pre-logits whose between-class spread can be
a small part of their scale: at a learning rate meant for every layer, fine-tuning moves the
features before the head knows the classes (docs/benchmarks.md, "Transfer that works"). LP-FT
fits the head first, on the backbone's features as they arrive, then fine-tunes every layer by
the rule's schedule from there.

`fit` is multinomial logistic regression (scikit-learn, L2 with C = 1) on the pre-logits
standardised per dimension, returned as the kernel and bias of the equivalent head on the raw
pre-logits, so that the model is unchanged in shape:
    logits = ((f - mean) / std) @ coef.T + b = f @ (coef / std).T + (b - coef @ (mean / std)).
The features are those of the evaluation view (the `image` resized to the crop size, no
augmentation), in the order given: the same examples give the same head on every run.
"""
import numpy as np

MAX_EXAMPLES = 10_000   # the probe reads at most this many training examples (in file order)
L2_C = 1.0              # scikit-learn's inverse L2 strength, on standardised features


def fit(features, labels, num_classes, c=L2_C):
    """(kernel [D, num_classes], bias [num_classes], training accuracy) of the probe."""
    from sklearn.linear_model import LogisticRegression
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels).astype(np.int64)
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError(f"a linear probe needs examples of at least 2 classes, got {present.tolist()}")
    mean, std = features.mean(0), features.std(0) + 1e-6
    standard = (features - mean) / std
    probe = LogisticRegression(max_iter=2000, C=c).fit(standard, labels)
    if len(probe.classes_) == 2:   # scikit-learn fits one logit; the head has one per class
        rows = np.stack([-probe.coef_[0] / 2, probe.coef_[0] / 2])
        biases = np.array([-probe.intercept_[0] / 2, probe.intercept_[0] / 2])
    else:
        rows, biases = probe.coef_, probe.intercept_
    coef = np.zeros((num_classes, features.shape[1]))
    intercept = np.full(num_classes, biases.min())  # a class the probe did not see: never favoured
    coef[probe.classes_] = rows
    intercept[probe.classes_] = biases
    kernel = (coef / std).T
    bias = intercept - coef @ (mean / std)
    accuracy = float(probe.score(standard, labels))
    return kernel.astype(np.float32), bias.astype(np.float32), accuracy


def pre_logits(model, batches):
    """(features, labels) of `batches` ((images in [0, 1], label ids) pairs) through `model`'s
    backbone, at most MAX_EXAMPLES of them."""
    from ..export.saved_model import features_model
    backbone = features_model(model)
    # Eager: a traced forward pass (autograph off) took 7.3 s for the demo's 889 images against
    # eager's 9.6, but its ~4 s trace costs more than it saves on a few hundred images.
    features, labels, seen = [], [], 0
    for images, ids in batches:
        features.append(np.asarray(backbone(images, training=False), np.float32))
        labels.append(np.asarray(ids).reshape(-1))
        seen += len(labels[-1])
        if seen >= MAX_EXAMPLES:
            break
    return np.concatenate(features)[:MAX_EXAMPLES], np.concatenate(labels)[:MAX_EXAMPLES]


def init_head(model, batches, num_classes):
    """Sets the classifier's head to the linear probe fitted on `batches`; returns
    {"examples": n, "train_accuracy": a} for the log and the record."""
    from ..bit import resnet_v2
    features, labels = pre_logits(model, batches)
    kernel, bias, accuracy = fit(features, labels, num_classes)
    head = model.get_layer(resnet_v2.HEAD_NAME)
    head.kernel.assign(kernel)
    head.bias.assign(bias)
    return {"examples": int(len(labels)), "train_accuracy": round(accuracy, 4)}
