"""Evaluate frozen representations: linear probe, weighted kNN and the
papers' offline linear evaluation.

All take an encoder (a Keras model or any callable on a batch, or ``None`` for
the raw inputs flattened) and labelled data: a tuple ``(x, y)`` of arrays or a
``tf.data.Dataset`` of ``(x, y)`` (batched or not).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from keras_collapse import _checks


def _features(encoder, batch):
    if encoder is None:
        batch = tf.convert_to_tensor(batch)
        if not (batch.dtype.is_floating or batch.dtype.is_integer or batch.dtype.is_bool):
            raise _checks.invalid(
                "x", "numeric inputs (float or integer) when encoder=None",
                f"inputs of dtype {batch.dtype.name}", TypeError)
        out = tf.cast(batch, tf.float32)
    else:
        try:
            out = encoder(batch, training=False)
        except TypeError:
            out = encoder(batch)
    out = np.asarray(out, dtype=np.float32)
    return out.reshape(out.shape[0], -1)


def embed(encoder, x, batch_size=256, dtype="float32"):
    """Encode ``x`` in batches and return ``(num_examples, dim)`` features.

    The encoder runs in inference mode (``training=False``), batch by batch.

    Args:
        encoder: Keras model / callable on a batch, or ``None`` for the raw
            inputs flattened to ``(num_examples, -1)``.
        x: array ``(num_examples, ...)`` or a ``tf.data.Dataset`` of examples
            (unbatched elements are batched here).
        batch_size: batch size. Defaults to ``256``.
        dtype: NumPy dtype of the result (``"float64"`` for float64 statistics
            downstream). Defaults to ``"float32"``.

    Returns:
        NumPy array ``(num_examples, dim)`` of ``dtype``.

    >>> embed(None, np.zeros((5, 8, 8, 1))).shape
    (5, 64)
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    if isinstance(x, tf.data.Dataset):
        chunks = [_features(encoder, b) for b in x]
    else:
        x = np.asarray(x)
        chunks = [_features(encoder, x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if not chunks:
        raise _checks.invalid("x", "at least one example", "no examples")
    return np.concatenate(chunks).astype(dtype, copy=False)


def labelled(data, name):
    """``data`` checked as labelled data: ``(x, y)`` arrays, or a dataset of
    ``(x, y)`` pairs (returned as is, read later)."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise _checks.invalid(name, "a dataset of (x, y) pairs", spec, TypeError)
        return data
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise _checks.invalid(name, "a tuple (x, y) of arrays or a tf.data.Dataset of (x, y)",
                              type(data).__name__, TypeError)
    x, y = np.asarray(data[0]), np.asarray(data[1]).reshape(-1)
    if x.ndim < 1 or x.shape[0] == 0:
        raise _checks.invalid(name, "at least one labelled example",
                              f"x of shape {x.shape}")
    if x.shape[0] != y.shape[0]:
        raise _checks.invalid(name, "as many labels as examples",
                              f"x of shape {x.shape} and y of shape {y.shape}")
    return x, y


def _embed_labelled(encoder, data, batch_size, name):
    """Return ``(features, labels)`` for ``(x, y)`` arrays or a dataset of pairs."""
    data = labelled(data, name)
    if isinstance(data, tf.data.Dataset):
        if data.element_spec[1].shape.rank == 0:
            data = data.batch(batch_size)
        feats, labels = [], []
        for x, y in data:
            feats.append(_features(encoder, x))
            labels.append(np.asarray(y).reshape(-1))
        if not feats:
            raise _checks.invalid(name, "a non-empty dataset of (x, y) pairs",
                                  "a tf.data.Dataset that yielded no examples")
        return _finite(np.concatenate(feats), name), np.concatenate(labels)
    x, y = data
    return _finite(embed(encoder, x, batch_size), name), y


def _finite(features, name):
    bad = features.size - np.count_nonzero(np.isfinite(features))
    if bad:
        raise _checks.invalid(
            name, "inputs whose features are finite (no NaN or Inf)",
            f"features of shape {features.shape} with {bad} non-finite values")
    return features


@dataclasses.dataclass
class ProbeResult:
    """Result of :func:`linear_probe`.

    Attributes:
        accuracy: test accuracy in ``[0, 1]``.
        train_accuracy: accuracy on the training features.
        pipeline: the fitted scikit-learn ``StandardScaler`` +
            ``LogisticRegression`` pipeline (on features).
    """

    accuracy: float
    train_accuracy: float
    pipeline: object


def linear_probe(encoder, train, test, batch_size=256, C=1.0, max_iter=1000):
    """Accuracy of a logistic-regression probe on frozen features.

    Features are standardised (``StandardScaler`` fitted on train) and a
    multinomial ``LogisticRegression`` with L2 penalty ``1 / C`` is fitted.

    Args:
        encoder: Keras model / callable, or ``None`` for raw inputs.
        train: labelled training data, ``(x, y)`` arrays or a dataset of
            ``(x, y)``.
        test: labelled test data, same forms.
        batch_size: encoding batch size. Defaults to ``256``.
        C: inverse L2 strength of the logistic regression. Defaults to ``1.0``.
        max_iter: solver iterations. Defaults to ``1000``.

    Returns:
        A :class:`ProbeResult`.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); y = (x[:, 0] > 0).astype(int)
    >>> linear_probe(None, (x[:100], y[:100]), (x[100:], y[100:])).accuracy > 0.9
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    C = _checks.positive_float("C", C)
    max_iter = _checks.positive_int("max_iter", max_iter)
    x_tr, y_tr = _embed_labelled(encoder, train, batch_size, "train")
    x_te, y_te = _embed_labelled(encoder, test, batch_size, "test")
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    pipeline.fit(x_tr, y_tr)
    return ProbeResult(
        accuracy=float(pipeline.score(x_te, y_te)),
        train_accuracy=float(pipeline.score(x_tr, y_tr)),
        pipeline=pipeline,
    )


def few_label_probe(encoder, train, test, labels_per_class=1, draws=20, seed=1000,
                    batch_size=256, C=1.0, max_iter=1000):
    """Mean accuracy of linear probes that see `labels_per_class` labels per class.

    The semi-supervised protocol (a probe trained on 1% or 10% of the labels,
    SimCLR arXiv 2002.05709, Sec. 7) shrunk to a few labelled examples per
    class: the features are encoded once; for each of `draws` label draws
    (draw `d` uses ``np.random.default_rng(seed + d)``, so every model sees
    the same labelled examples) `labels_per_class` training examples of each
    class are picked without replacement and :func:`linear_probe` is fitted on
    them and scored on all of `test`.

    Args:
        encoder: Keras model / callable, or ``None`` for raw inputs.
        train: labelled training data, ``(x, y)`` arrays or a dataset of ``(x, y)``.
        test: labelled test data, same forms.
        labels_per_class: labelled examples per class (at most the smallest
            class). Defaults to ``1``.
        draws: label draws averaged. Defaults to ``20``.
        seed: seed of the first draw. Defaults to ``1000``.
        batch_size, C, max_iter: as :func:`linear_probe`.

    Returns:
        ``(mean accuracy, per-draw accuracies)``: a float and a `(draws,)` array.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); y = (x[:, 0] > 0).astype(int)
    >>> mean, each = few_label_probe(None, (x[:100], y[:100]), (x[100:], y[100:]),
    ...                              labels_per_class=5, draws=4)
    >>> each.shape, bool(mean > 0.8)
    ((4,), True)
    """
    labels_per_class = _checks.positive_int("labels_per_class", labels_per_class)
    draws = _checks.positive_int("draws", draws)
    x_tr, y_tr = _embed_labelled(encoder, train, batch_size, "train")
    x_te, y_te = _embed_labelled(encoder, test, batch_size, "test")
    classes, counts = np.unique(y_tr, return_counts=True)
    if labels_per_class > counts.min():
        raise _checks.invalid("labels_per_class", f"at most the smallest class's "
                              f"{counts.min()} training examples", labels_per_class)
    accuracies = []
    for d in range(draws):
        rng = np.random.default_rng(int(seed) + d)
        idx = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), labels_per_class,
                                         replace=False) for c in classes])
        accuracies.append(linear_probe(None, (x_tr[idx], y_tr[idx]), (x_te, y_te),
                                       C=C, max_iter=max_iter).accuracy)
    accuracies = np.asarray(accuracies)
    return float(accuracies.mean()), accuracies


def knn_accuracy(encoder, train, test, k=20, temperature=0.07, batch_size=256):
    """Weighted kNN accuracy with cosine similarity (InstDisc / DINO).

    Each test point votes over its ``k`` most cosine-similar training points
    with weights ``exp(sim / temperature)``; the class with the largest summed
    weight is predicted (Wu et al. 2018, arXiv 1805.01978; Caron et al. 2021,
    arXiv 2104.14294).

    Args:
        encoder: Keras model / callable, or ``None`` for raw inputs.
        train: labelled training data (``(x, y)`` or dataset of ``(x, y)``).
        test: labelled test data, same forms.
        k: neighbours (capped at the training size). Defaults to ``20``.
        temperature: softmax temperature ``T``. Defaults to ``0.07``.
        batch_size: encoding and similarity batch size. Defaults to ``256``.

    Returns:
        Test accuracy, a float in ``[0, 1]``.

    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([0, 1])
    >>> knn_accuracy(None, (x, y), (x * 2, y), k=1)
    1.0
    """
    k = _checks.positive_int("k", k)
    temperature = _checks.positive_float("temperature", temperature)
    x_tr, y_tr = _embed_labelled(encoder, train, batch_size, "train")
    x_te, y_te = _embed_labelled(encoder, test, batch_size, "test")
    classes, y_tr_idx = np.unique(y_tr, return_inverse=True)
    x_tr = x_tr / np.maximum(np.linalg.norm(x_tr, axis=1, keepdims=True), 1e-12)
    x_te = x_te / np.maximum(np.linalg.norm(x_te, axis=1, keepdims=True), 1e-12)
    k = min(k, x_tr.shape[0])
    correct = 0
    for start in range(0, x_te.shape[0], batch_size):
        sim = x_te[start:start + batch_size] @ x_tr.T
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top_sim = np.take_along_axis(sim, top, axis=1)
        weights = np.exp((top_sim - 1.0) / temperature)  # shifted: same argmax
        votes = np.zeros((sim.shape[0], classes.size))
        np.add.at(votes, (np.arange(sim.shape[0])[:, None], y_tr_idx[top]), weights)
        correct += int(np.sum(classes[votes.argmax(1)] == y_te[start:start + batch_size]))
    return correct / x_te.shape[0]


@dataclasses.dataclass
class LinearEvaluation:
    """Result of :func:`linear_evaluation`.

    Attributes:
        accuracy: top-1 accuracy on the test data, in ``[0, 1]``.
        history: Keras' ``History.history`` of the classifier's training
            (``loss`` and ``accuracy`` per epoch, on augmented images).
        classifier: the trained ``keras.layers.Dense`` classifier.
    """

    accuracy: float
    history: dict
    classifier: object


def _labelled_dataset(data, name):
    """An unbatched ``tf.data.Dataset`` of ``(x, y)`` from arrays or a dataset."""
    data = labelled(data, name)
    if isinstance(data, tf.data.Dataset):
        return data.unbatch() if data.element_spec[1].shape.rank else data
    return tf.data.Dataset.from_tensor_slices(data)


def linear_evaluation(encoder, train, test, augment=None, test_preprocess=None, epochs=100,
                      batch_size=256, learning_rate=0.1, weight_decay=0.0, optimizer=None,
                      num_classes=None, shuffle=True, seed=0, verbose=0):
    """Offline linear evaluation of a frozen encoder: the papers' recipe.

    A linear classifier (`Dense`, weights `N(0, 0.01²)`, bias 0) is trained on
    the features of the frozen encoder, run in inference mode (its BatchNorm
    statistics fixed, as the authors' `model.eval()`), with the training
    images augmented every epoch (`augment`, e.g. random-resized crop and
    flip), SGD with momentum 0.9 and coupled weight decay
    (:class:`~keras_collapse.optimizers.CoupledSGD`, PyTorch's) and a cosine
    schedule stepped once per epoch; the result is the top-1 accuracy on
    `test` (each image through `test_preprocess`, e.g. a centre crop).
    DirectCLR's `linear_probe.py` (100 epochs, batch 256, lr 0.1, weight decay
    1e-6) is the default form; Li et al.'s `main_lincls.py` (90 epochs, batch
    1024, lr 0.4, LARC) binds `optimizer`. The encoder's weights are not
    changed (its `trainable` flag is restored afterwards).

    Args:
        encoder: Keras model / layer from images to features `(batch, dim)`,
            or `None` for the raw inputs flattened.
        train: labelled training images: `(x, y)` arrays or a
            `tf.data.Dataset` of `(image, label)` (batched or not).
        test: labelled test images, the same forms.
        augment: `(images, seed) -> images` applied to each training batch
            (`kc.data.Compose([...])`), or `None`. Defaults to `None`.
        test_preprocess: `(images, seed) -> images` for the test batches
            (the seed is fixed), or `None`. Defaults to `None`.
        epochs: Positive int. Defaults to `100`.
        batch_size: Positive int. Defaults to `256`.
        learning_rate: Peak learning rate of the per-epoch cosine schedule
            (`lr·½(1 + cos(π·epoch/epochs))`). Defaults to `0.1`.
        weight_decay: Coupled (L2) weight decay of the default optimizer.
            Defaults to `0.0`.
        optimizer: `None` for `CoupledSGD(schedule, momentum=0.9,
            weight_decay=weight_decay)`, or a factory called as
            `optimizer(learning_rate=schedule)`. Defaults to `None`.
        num_classes: Number of classes, `None` for `max(label) + 1` of the
            training labels (read from arrays, or one pass over a dataset).
            Defaults to `None`.
        shuffle: Shuffle the training examples each epoch (seeded).
            Defaults to `True`.
        seed: Integer seed of the shuffling, augmentations and classifier
            initialisation. Defaults to `0`.
        verbose: Passed to `fit`. Defaults to `0`.

    Returns:
        A :class:`LinearEvaluation`.

    Example:

    >>> import keras
    >>> import keras_collapse as kc
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(256, 4)).astype("float32"); y = (x[:, 0] > 0).astype(int)
    >>> encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> result = linear_evaluation(encoder, (x[:192], y[:192]), (x[192:], y[192:]),
    ...                            epochs=30, batch_size=32, learning_rate=0.5)
    >>> result.accuracy > 0.9
    True

    Reference: Jing et al. (arXiv 2110.09348), `directclr/linear_probe.py`;
    Li, Efros, Pathak (arXiv 2209.15007), `main_lincls.py`.
    """
    import keras

    from keras_collapse.optimizers import CoupledSGD
    from keras_collapse.optimizers.schedules import LinearWarmupCosine

    epochs = _checks.positive_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    learning_rate = _checks.positive_float("learning_rate", learning_rate)
    weight_decay = _checks.non_negative_float("weight_decay", weight_decay)
    train_data = _labelled_dataset(train, "train")
    test_data = _labelled_dataset(test, "test")
    if num_classes is None:
        num_classes = 1 + int(max(int(np.max(y)) for _, y in train_data.batch(4096)
                                  .as_numpy_iterator()))
    num_classes = _checks.positive_int("num_classes", num_classes)
    count = int(train_data.cardinality())
    if count < 0:  # unknown: count once
        count = int(train_data.reduce(0, lambda n, _: n + 1))
    steps = max(1, -(-count // batch_size))

    def prepare(data, fn, training):
        data = data.map(lambda x, y: (tf.cast(x, tf.float32)
                                      if not x.dtype.is_floating else x, y))
        if training and shuffle:
            data = data.shuffle(min(count, 50_000), seed=seed, reshuffle_each_iteration=True)
        data = data.batch(batch_size)
        if fn is not None:
            if training:
                data = tf.data.Dataset.zip((data, tf.data.Dataset.random(
                    seed=seed, rerandomize_each_iteration=True).batch(2)))
                data = data.map(lambda xy, s: (fn(xy[0], tf.cast(s, tf.int32)), xy[1]))
            else:
                data = data.map(lambda x, y: (fn(x, tf.constant([seed, 0])), y))
        return data.prefetch(tf.data.AUTOTUNE)

    schedule = LinearWarmupCosine(learning_rate, warmup_epochs=0, max_epochs=epochs,
                                  steps_per_epoch=steps)
    opt = (CoupledSGD(schedule, momentum=0.9, weight_decay=weight_decay) if optimizer is None
           else optimizer(learning_rate=schedule))
    classifier = keras.layers.Dense(
        num_classes, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01, seed=seed),
        bias_initializer="zeros", name="linear_classifier")
    if encoder is None:
        encoder = keras.layers.Flatten()
    train_batches = prepare(train_data, augment, True)
    trainable = encoder.trainable
    encoder.trainable = False
    try:
        inputs = keras.Input(tuple(train_batches.element_spec[0].shape[1:]), dtype="float32")
        model = keras.Model(inputs, classifier(encoder(inputs, training=False)))
        model.compile(optimizer=opt,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(train_batches, epochs=epochs, shuffle=False, verbose=verbose)
        _, accuracy = model.evaluate(prepare(test_data, test_preprocess, False), verbose=0)
    finally:
        encoder.trainable = trainable
    return LinearEvaluation(accuracy=float(accuracy), history=history.history,
                            classifier=classifier)
