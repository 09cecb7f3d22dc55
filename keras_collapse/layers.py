"""Heads placed after the encoder: DirectCLR, projection and prediction MLPs.

Representation `r = encoder(x)`; embedding `z = head(r)` (Jing et al. 2022,
arXiv 2110.09348, Fig. 7a).

The heads' BatchNorm takes PyTorch's numerics by default, as the PyTorch code
of the recipes they follow builds it (lightly 1.6.0,
lightly/models/modules/heads.py: `nn.BatchNorm1d(hidden_dim)` at PyTorch's
defaults in SimCLRProjectionHead line 303, BYOLPredictionHead line 137,
SimSiamProjectionHead lines 342-347): epsilon 1e-5 and momentum 0.9 in Keras'
convention (PyTorch's `momentum=0.1`: Keras weighs the old moving value by
`momentum`, PyTorch the new batch value), instead of Keras' 1e-3 and 0.99
(:data:`BATCH_NORM`). With Keras' epsilon, VICReg on the digits reached a kNN
accuracy 0.6 points under torch + lightly's from the same views (issue 26).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from keras_collapse import _checks, regularizers


def _float_inputs(inputs, layer):
    """``inputs`` as a float tensor: integers are cast, other dtypes raise."""
    inputs = tf.convert_to_tensor(inputs)
    if inputs.dtype.is_floating:
        return inputs
    if inputs.dtype.is_integer:
        return tf.cast(inputs, layer.compute_dtype)
    raise _checks.invalid(
        "inputs", f"a float tensor of shape (batch_size, representation_dim) for "
        f"{type(layer).__name__}", inputs.dtype, TypeError)


@keras.saving.register_keras_serializable(package="keras_collapse")
class DirectCLRHead(keras.layers.Layer):
    """DirectCLR: the ℓ2-normalised first `dim` features of the representation.

    `z = r[..., :d0] / ‖r[..., :d0]‖`. No weights: the contrastive loss acts
    directly on a sub-vector of the representation (Jing et al. 2022, section
    5; the authors' best ResNet-50 model uses d0 = 360 of 2048).

    Args:
        dim: Positive int d0, at most the representation size.

    Input shape: `(batch_size, representation_dim)`.
    Output shape: `(batch_size, dim)`.

    Example:

    >>> import numpy as np
    >>> head = DirectCLRHead(dim=2)
    >>> head(np.array([[3.0, 4.0, 100.0]], "float32")).numpy()
    array([[0.6, 0.8]], dtype=float32)

    Reference: arXiv 2110.09348.
    """

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = _checks.positive_int("dim", dim)

    def build(self, input_shape):
        available = input_shape[-1]
        if available is not None and self.dim > available:
            raise ValueError(
                f"Invalid value for argument `dim`. Expected at most the "
                f"representation size {available}. Received: dim={self.dim}"
            )

    def call(self, inputs):
        inputs = _float_inputs(inputs, self)
        return tf.math.l2_normalize(inputs[..., : self.dim], axis=-1, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


# PyTorch's BatchNorm defaults (eps=1e-5, momentum=0.1) in Keras' convention.
BATCH_NORM = {"epsilon": 1e-5, "momentum": 0.9}
# What heads saved before `epsilon`/`momentum` were arguments were built with.
_KERAS_BATCH_NORM = {"epsilon": 1e-3, "momentum": 0.99}


def _bn_arguments(epsilon, momentum):
    """`{"epsilon", "momentum"}` checked: epsilon > 0, momentum in [0, 1]."""
    return {"epsilon": _checks.positive_float("epsilon", epsilon),
            "momentum": _checks.probability("momentum", momentum)}


#: Dense initialisers of the heads: Keras' (Glorot-uniform kernels, zero
#: biases) or PyTorch's `nn.Linear.reset_parameters` (kaiming_uniform_ with
#: a = √5, i.e. U(±1/√fan_in), and biases U(±1/√fan_in)), which the authors'
#: heads (solo-learn, lightly, SimSiam, DirectCLR, Li et al.) start from.
INITIALIZERS = ("keras", "torch")


def _mlp(units, activation, batch_norm, use_bias, name, kernel_regularizers, bn_arguments):
    """Dense(+BN)(+activation) blocks; the last block is linear."""
    layers = []
    for index, width in enumerate(units):
        last = index == len(units) - 1
        layers.append(
            keras.layers.Dense(
                width, use_bias=use_bias and not (batch_norm and not last),
                kernel_regularizer=kernel_regularizers[index],
                name=f"{name}_dense_{index}",
            )
        )
        if not last:
            if batch_norm:
                layers.append(
                    keras.layers.BatchNormalization(
                        synchronized=True, name=f"{name}_bn_{index}", **bn_arguments
                    )
                )
            layers.append(keras.layers.Activation(activation, name=f"{name}_act_{index}"))
    return layers


def _regularizers(kernel_regularizer, count):
    """One kernel regularizer (or None) per Dense layer of a head."""
    if isinstance(kernel_regularizer, (list, tuple)):
        if len(kernel_regularizer) != count:
            raise _checks.invalid(
                "kernel_regularizer", f"one regularizer, or a list of {count} (one per "
                "Dense layer)", kernel_regularizer)
        return [keras.regularizers.get(r) for r in kernel_regularizer]
    return [keras.regularizers.get(kernel_regularizer)] * count


class _MLPHead(keras.layers.Layer):
    """An MLP head built from `hidden_dims` and `output_dim` (shared machinery)."""

    def __init__(
        self,
        output_dim,
        hidden_dims=(),
        activation="relu",
        batch_norm=True,
        use_bias=True,
        kernel_regularizer=None,
        epsilon=BATCH_NORM["epsilon"],
        momentum=BATCH_NORM["momentum"],
        initializer="keras",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bn_arguments = _bn_arguments(epsilon, momentum)
        self.initializer = _checks.one_of("initializer", initializer, INITIALIZERS)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise _checks.invalid(
                "hidden_dims", "a sequence of positive integers, e.g. (512,)",
                hidden_dims, TypeError)
        self.hidden_dims = tuple(
            _checks.positive_int("hidden_dims", width) for width in hidden_dims
        )
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.use_bias = bool(use_bias)
        units = (*self.hidden_dims, self.output_dim)
        self.blocks = _mlp(
            units,
            keras.activations.get(activation),
            self.batch_norm,
            self.use_bias,
            self.name,
            _regularizers(kernel_regularizer, len(units)),
            self.bn_arguments,
        )

    def build(self, input_shape):
        shape = input_shape
        for layer in self.blocks:
            if self.initializer == "torch" and isinstance(layer, keras.layers.Dense):
                # nn.Linear.reset_parameters: kaiming_uniform_(a=√5), whose limit
                # √(3·(1/3)/fan_in) = 1/√fan_in, and biases U(±1/√fan_in).
                bound = 1.0 / math.sqrt(shape[-1])
                layer.kernel_initializer = keras.initializers.VarianceScaling(
                    1.0 / 3.0, mode="fan_in", distribution="uniform")
                layer.bias_initializer = keras.initializers.RandomUniform(-bound, bound)
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = _float_inputs(inputs, self)
        for layer in self.blocks:
            if isinstance(layer, keras.layers.BatchNormalization):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "hidden_dims": list(self.hidden_dims),
            "activation": keras.activations.serialize(keras.activations.get(self.activation))
            if not isinstance(self.activation, str) else self.activation,
            "batch_norm": self.batch_norm,
            **self.bn_arguments,
            "initializer": self.initializer,
            "use_bias": self.use_bias,
            # Read from the Dense layers, so a regularizer added later
            # (attach_werank) is saved too.
            "kernel_regularizer": regularizers.kernel_regularizer_configs(
                [layer for layer in self.blocks if isinstance(layer, keras.layers.Dense)]),
        }

    @classmethod
    def from_config(cls, config):
        # A head saved before `epsilon`/`momentum` were arguments was built
        # with Keras' BatchNorm defaults: load it as it was trained.
        return super().from_config({**_KERAS_BATCH_NORM, **config})


@keras.saving.register_keras_serializable(package="keras_collapse")
class ProjectionHead(_MLPHead):
    """SimCLR-style projection MLP: `[Dense → BN → act] × len(hidden_dims) → Dense`.

    The variants of Jing et al. 2022 Table 1: `ProjectionHead(128, hidden_dims=(512,))`
    is the 2-layer nonlinear projector, `ProjectionHead(128)` the 1-layer linear
    projector, and "no projector" is `SiameseModel(encoder, head=None)`.
    Batch normalisation is synchronised across replicas under a
    `tf.distribute` strategy. Set `final_batch_norm=True` for the SimSiam
    projector ending in BatchNorm without affine parameters (Li et al. 2022).

    Args:
        output_dim: Embedding size. Required.
        hidden_dims: Widths of the hidden layers. Defaults to `()` (linear).
        activation: Hidden activation. Defaults to `"relu"`.
        batch_norm: BatchNorm after hidden Dense layers. Defaults to `True`.
        use_bias: Use biases (dropped where a BatchNorm follows). Defaults to `True`.
        kernel_regularizer: A regularizer for every Dense kernel (e.g.
            `kc.regularizers.WERank(0.1)`), or a list with one (or `None`) per
            Dense layer. Regularizers attached later with `attach_werank` are
            saved with the head too. Defaults to `None`.
        final_batch_norm: Append BatchNorm(center=False, scale=False).
            Defaults to `False`.
        epsilon: Every BatchNorm's epsilon (added to the batch variance).
            Defaults to `1e-5`, PyTorch's (Keras' own default is `1e-3`).
        momentum: Every BatchNorm's moving-average momentum in Keras'
            convention, `moving = momentum·moving + (1 − momentum)·batch`;
            PyTorch's `momentum=m` is Keras' `1 − m`. Defaults to `0.9`,
            PyTorch's `0.1` (Keras' own default is `0.99`). As in Keras, the
            moving variance averages the biased batch variance (PyTorch's
            `running_var` the unbiased one, n/(n−1) times larger); the
            training-mode output is PyTorch's.
        initializer: `"keras"` (Glorot-uniform kernels, zero biases) or
            `"torch"` (PyTorch's `nn.Linear` default: kernels and biases
            U(±1/√fan_in), as the authors' heads start; the paper-scale
            configs bind it). Defaults to `"keras"`.

    Input shape: `(batch_size, representation_dim)`.
    Output shape: `(batch_size, output_dim)`.

    Example:

    >>> import numpy as np
    >>> head = ProjectionHead(8, hidden_dims=(16,))
    >>> head(np.ones((4, 32), "float32")).shape
    TensorShape([4, 8])
    >>> torch_like = ProjectionHead(8, hidden_dims=(16,), initializer="torch")
    >>> torch_like.build((None, 32))
    >>> bool(np.abs(torch_like.blocks[-1].bias.numpy()).max() <= 1 / np.sqrt(16))
    True

    Reference: Chen et al. 2020 (arXiv 2002.05709); Jing et al. 2022
    (arXiv 2110.09348) Table 1.
    """

    def __init__(self, output_dim, hidden_dims=(), final_batch_norm=False, **kwargs):
        super().__init__(output_dim, hidden_dims=hidden_dims, **kwargs)
        self.final_batch_norm = bool(final_batch_norm)
        if self.final_batch_norm:
            self.blocks.append(
                keras.layers.BatchNormalization(
                    center=False, scale=False, synchronized=True, name=f"{self.name}_bn_out",
                    **self.bn_arguments)
            )

    def get_config(self):
        return {**super().get_config(), "final_batch_norm": self.final_batch_norm}


@keras.saving.register_keras_serializable(package="keras_collapse")
class PredictionHead(_MLPHead):
    """SimSiam/BYOL bottleneck predictor: `Dense → BN → ReLU → Dense`.

    Args:
        output_dim: Output size (the projection size). Required.
        hidden_dim: Bottleneck width. Defaults to `512` (SimSiam's 2048→512→2048).
        **kwargs: `activation`, `batch_norm`, `use_bias`, `kernel_regularizer`,
            `epsilon`, `momentum`, `initializer` as for :class:`ProjectionHead` (PyTorch's
            BatchNorm defaults, as SimSiam's and BYOL's predictors).

    Input shape: `(batch_size, output_dim)`. Output shape: the same.

    Example:

    >>> import numpy as np
    >>> PredictionHead(16, hidden_dim=4)(np.ones((2, 16), "float32")).shape
    TensorShape([2, 16])

    Reference: Chen & He 2021 (arXiv 2011.10566); Grill et al. 2020
    (arXiv 2006.07733).
    """

    def __init__(self, output_dim, hidden_dim=512, **kwargs):
        kwargs.pop("hidden_dims", None)
        super().__init__(output_dim, hidden_dims=(hidden_dim,), **kwargs)
        self.hidden_dim = self.hidden_dims[0]

    def get_config(self):
        config = super().get_config()
        config.pop("hidden_dims")
        return {**config, "hidden_dim": self.hidden_dim}
