"""Shared private code of the digits-based studies (encoders, data, training, probe).

Used by ``studies/jing2022_directclr.py`` (Jing et al. 2022, arXiv 2110.09348)
and ``studies/li2022_continual.py`` (Li et al. 2022, arXiv 2209.15007). The
default data are scikit-learn's 1,797 8×8 grayscale digits
(:func:`keras_collapse.data.sources.digits`); any TFDS image dataset can be
bound instead (``dataset="cifar10"``, read from a prepared copy).

Pieces:

* :func:`load_split` — ``(x_train, y_train), (x_test, y_test)`` float32 images.
* :func:`view_augment` — the two-view augmentation for the images' size.
* :func:`fit_siamese` — compile and ``fit`` a :class:`~keras_collapse.models.SiameseModel`.

Features and their spectra come from ``kc.evaluation.embed`` and
``kc.metrics.spectrum_report``.
"""

from __future__ import annotations

import os

import numpy as np

import keras_collapse as kc
from keras_collapse import _checks
from keras_collapse.data import augment as _augment
from keras_collapse.data import sources as _sources


# ----------------------------------------------------------------------- data
def load_split(dataset="digits", test_fraction=0.25, seed=0, max_examples=None,
               data_dir=None):
    """Images and labels, split into a train and a test part.

    Args:
        dataset: ``"digits"`` (bundled, offline) or a TFDS image dataset name
            (e.g. ``"cifar10"``; its ``train`` split, read from a prepared copy
            in ``data_dir``). Defaults to ``"digits"``.
        test_fraction: share held out for the probe's test accuracy.
            Defaults to ``0.25``.
        seed: seed of the stratified split. Defaults to ``0``.
        max_examples: keep at most this many TFDS examples. Defaults to ``None``.
        data_dir: TFDS data directory. Defaults to ``None``.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images float32
        ``(N, H, W, C)`` in ``[0, 1]``, int64 labels ``(N,)``.
    """
    if not isinstance(dataset, str) or not dataset:
        raise _checks.invalid("dataset", "'digits' or a TFDS image dataset name such as "
                              "'cifar10'", dataset)
    if not 0.0 < float(test_fraction) < 1.0:
        raise _checks.invalid("test_fraction", "a float in (0, 1)", test_fraction)
    if dataset == "digits":
        return _sources.digits(test_fraction=test_fraction, seed=seed)
    x, y = _sources.tfds(dataset, data_dir=data_dir, as_numpy=True, max_examples=max_examples)
    x = _augment.to_float(x).numpy()
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=int(seed), stratify=y)
    return (x_tr, y_tr), (x_te, y_te)


def view_augment(image_shape, crop_scale=(0.5, 1.0), jitter=0.4):
    """The augmentation of each view for images of shape ``image_shape``.

    Small grayscale images (the 8×8 digits): random resized crop with area in
    ``crop_scale`` back to the full size and brightness/contrast jitter
    (strength ``jitter``, p=0.8) — no flip, which would change a digit's
    identity. Larger images: SimCLR's recipe (:func:`keras_collapse.data.simclr_augment`
    without blur, as SimCLR does for CIFAR-10).

    Args:
        image_shape: ``(height, width, channels)``.
        crop_scale: crop area range of the digits' view. Defaults to ``(0.5, 1.0)``.
        jitter: brightness/contrast strength of the digits' view. Defaults to ``0.4``.

    Returns:
        A callable ``(images, seed) -> images``.
    """
    height, width, channels = (int(v) for v in image_shape)
    if height <= 16 and channels == 1:
        return _augment.Compose([
            _augment.RandomResizedCrop((height, width), scale=tuple(crop_scale)),
            _augment.ColorJitter(jitter, jitter, 0.0, 0.0, probability=0.8),
        ])
    return _augment.simclr_augment((height, width), blur_probability=0.0)


# ------------------------------------------------------------------- encoders
# ------------------------------------------------------------------- training
def fit_siamese(model, loss, optimizer, dataset, epochs, steps_per_epoch, callbacks=(),
                save_path=None):
    """Compile ``model`` with ``loss`` and ``optimizer``, ``fit`` it, save it.

    A :class:`keras_collapse.guards.NonFiniteGuard` stops a diverging run with
    a message naming the step, the objective and the likely cause.

    Args:
        model: a :class:`keras_collapse.models.SiameseModel`.
        loss: the SSL loss (e.g. ``kc.losses.NTXent``).
        optimizer: a fresh ``keras.optimizers.Optimizer``.
        dataset: ``tf.data.Dataset`` of ``((view_a, view_b),)`` with at least
            ``epochs * steps_per_epoch`` batches (repeat it if needed).
        epochs: number of epochs.
        steps_per_epoch: batches per epoch.
        callbacks: more Keras callbacks. Defaults to ``()``.
        save_path: where to ``model.save`` the trained model (a ``.keras``
            file that ``keras.saving.load_model`` and
            ``kc.metrics.spectrum_report`` open without the study code), or
            ``None``. Defaults to ``None``.

    Returns:
        ``history.history`` (dict of per-epoch lists, as floats).
    """
    model.compile(optimizer=optimizer, loss=loss)
    history = model.fit(dataset, epochs=int(epochs), steps_per_epoch=int(steps_per_epoch),
                        callbacks=[kc.guards.NonFiniteGuard(), *callbacks], verbose=0)
    if save_path is not None:
        os.makedirs(os.path.dirname(save_path), exist_ok=True)
        model.save(save_path)
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def mean_std(values):
    """``(mean, std)`` of a list of numbers (population std; 0 for one value)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())
