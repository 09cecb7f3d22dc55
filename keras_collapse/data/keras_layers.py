"""Keras preprocessing layers as view functions ``(images, seed) -> images``.

Keras' image preprocessing layers (``keras.layers.RandomFlip``,
``RandomRotation``, ``RandomZoom``, ``RandomCrop``, ``Resizing``,
``RandomContrast``, …) and a ``keras.Sequential`` of them are the usual way to
write augmentations in Keras. The two-view pipelines call a view function
with a batch and a seed; a layer takes ``(inputs, training=...)``.
:class:`KerasAugment` adapts one, and the pipelines wrap layers given to them
in it.

Determinism: a Keras random layer draws from its own ``SeedGenerator``, a
variable advanced at every call, so inside a parallel ``tf.data`` map its
draws would depend on which batch reached it first. :class:`KerasAugment`
instead gives every ``SeedGenerator`` of the layer (and of its sub-layers)
seeds derived statelessly from the pipeline's seed for that batch and view,
for the duration of the call. The views then depend only on the pipeline's
``seed`` and the step, as with the package's own augmentations: the same
``seed`` gives the same views, every epoch gets fresh draws, and a resumed
``ordered_views`` run reproduces the uninterrupted one. The layer's own
``seed=`` argument has no effect there. A custom layer drawing from Keras'
global generator (``keras.random.*`` with ``seed=None``) is not covered.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.data.augment import to_float


class _StatelessDraws(keras.random.SeedGenerator):
    """A `SeedGenerator` whose `next()` gives seeds folded from a fixed
    `(2,)` seed tensor (no state variable: `__init__` deliberately skips the
    base class', which would create one)."""

    def __init__(self, seed):  # pylint: disable=super-init-not-called
        self._seed = seed
        self._draws = 0

    def next(self, ordered=True):
        del ordered
        self._draws += 1
        return tf.random.experimental.stateless_fold_in(self._seed, self._draws)


@contextlib.contextmanager
def _seeded(layer, seed):
    """Within the block, every `SeedGenerator` attribute of `layer` and its
    sub-layers draws from seeds derived from `seed` (one stream each)."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    swapped = []
    for sublayer in layer._flatten_layers(include_self=True, recursive=True):
        for name, value in list(vars(sublayer).items()):
            if isinstance(value, keras.random.SeedGenerator):
                stream = tf.random.experimental.stateless_fold_in(seed, len(swapped) + 1)
                # object.__setattr__: Keras' Layer.__setattr__ would track it.
                object.__setattr__(sublayer, name, _StatelessDraws(stream))
                swapped.append((sublayer, name, value))
    try:
        yield
    finally:
        for sublayer, name, value in swapped:
            object.__setattr__(sublayer, name, value)


def _wrong_value_range(layer):
    """`(name, value_range)` of the first sub-layer not set to `(0, 1)`."""
    for sublayer in layer._flatten_layers(include_self=True, recursive=True):
        value_range = getattr(sublayer, "value_range", None)
        if value_range is not None and tuple(float(v) for v in value_range) != (0.0, 1.0):
            return sublayer.name, tuple(value_range)
    return None


class KerasAugment:
    """A Keras preprocessing layer as a view function ``(images, seed) -> images``.

    The layer is called with ``training=True`` on the batch converted to
    ``float32`` in ``[0, 1]`` (``uint8`` divided by 255), the scale of the
    package's augmentations; colour layers must therefore say
    ``value_range=(0, 1)`` (Keras' default is ``(0, 255)``), which is checked
    here. Its random draws are seeded by ``seed`` (see the module docstring):
    the same seed gives the same output. ``kc.data.two_views``,
    ``ordered_views`` and ``tfds_views`` wrap layers given to them; wrap one
    yourself to put it in a :class:`~keras_collapse.data.Compose`.

    Args:
        layer: a ``keras.layers.Layer`` taking a batch of images, e.g.
            ``keras.layers.RandomFlip("horizontal")`` or a ``keras.Sequential``
            of preprocessing layers. Required.

    Example:

    >>> import numpy as np, keras
    >>> flip = KerasAugment(keras.layers.RandomFlip("horizontal"))
    >>> x = np.arange(32, dtype=np.float32).reshape(8, 1, 4, 1) / 32
    >>> a, b = flip(x, seed=[0, 1]), flip(x, seed=[0, 1])
    >>> bool(np.array_equal(a, b)), a.shape
    (True, TensorShape([8, 1, 4, 1]))
    >>> sorted({tuple(row.tolist()) for row in np.round(a.numpy()[:, 0, :, 0] * 32 % 4)})
    [(0.0, 1.0, 2.0, 3.0), (3.0, 2.0, 1.0, 0.0)]
    """

    def __init__(self, layer):
        if not isinstance(layer, keras.layers.Layer):
            raise _checks.invalid("layer", "a keras.layers.Layer (e.g. keras.layers.RandomFlip "
                                  "or a keras.Sequential of preprocessing layers)", layer,
                                  TypeError)
        wrong = _wrong_value_range(layer)
        if wrong is not None:
            raise _checks.invalid(
                "layer", "Keras preprocessing layers with value_range=(0, 1): the two-view "
                "pipelines give images in [0, 1] (float32), and Keras' colour layers assume "
                f"(0, 255) unless told. Pass value_range=(0, 1) to {wrong[0]}",
                f"{layer.name} with {wrong[0]}.value_range={wrong[1]}")
        self.layer = layer

    def __call__(self, images, seed):
        images = to_float(images)
        with _seeded(self.layer, seed):
            # float32 as the package's augmentations, whatever the layers'
            # compute dtype (float16 under a mixed precision policy).
            return tf.cast(self.layer(images, training=True), tf.float32)

    def __repr__(self):
        return f"KerasAugment({type(self.layer).__name__} {self.layer.name!r})"
