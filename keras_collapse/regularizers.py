"""WERank weight regularizer (Saheb Pasand et al. 2023, arXiv 2402.09586)."""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf

from keras_collapse import _checks


def _gram_distance(kernel):
    """‖G − I‖_F for the Gram matrix G of the 2-D-flattened kernel that can be I."""
    kernel = tf.convert_to_tensor(kernel)
    if not (kernel.dtype.is_floating or kernel.dtype.is_integer):
        raise _checks.invalid("kernel", "a float kernel tensor", kernel.dtype, TypeError)
    if kernel.shape.rank not in (2, 4):
        raise ValueError(
            "Invalid value for argument `kernel`. WERank expects a dense kernel "
            "of shape (d_in, d_out) or a convolution kernel of shape "
            f"(k_h, k_w, c_in, c_out). Received: kernel.shape={kernel.shape}"
        )
    w = tf.cast(kernel, tf.float32)
    if w.shape.rank == 4:
        w = tf.reshape(w, (-1, w.shape[-1]))
    d_in, d_out = w.shape
    # W^T W (d_out x d_out) has full rank only if d_in >= d_out, else use W W^T.
    rows = d_in < d_out
    identity = tf.eye(min(d_in, d_out))

    # A hand-written gradient, 2·W·R/‖R‖ (or 2·R·W/‖R‖) with R = G − I: a few
    # ops in all where automatic differentiation of the norm took ~15 per
    # kernel (BENCHMARKS.md, bench_werank); 0 at an exactly orthonormal kernel.
    @tf.custom_gradient
    def distance(w):
        residual = tf.matmul(w, w, transpose_a=not rows, transpose_b=rows) - identity
        value = tf.sqrt(2.0 * tf.nn.l2_loss(residual))

        def grad(upstream):
            scale = tf.math.divide_no_nan(2.0 * upstream, value)
            return scale * (tf.matmul(residual, w) if rows else tf.matmul(w, residual))

        return value, grad

    return distance(w)


def werank_penalty(kernel, alpha=0.1):
    """`α ‖WᵀW − I‖_F` (or `α ‖WWᵀ − I‖_F` when `d_out > d_in`).

    Convolution kernels `(k_h, k_w, c_in, c_out)` are flattened to
    `(k_h·k_w·c_in, c_out)` first. The Gram matrix chosen is the one of size
    `min(d_in, d_out)`, the one that can equal the identity.

    Args:
        kernel: Tensor of shape `(d_in, d_out)` or `(k_h, k_w, c_in, c_out)`.
        alpha: Non-negative weight. Defaults to `0.1`.

    Returns:
        Scalar float32 penalty.

    Example:

    >>> import numpy as np
    >>> float(werank_penalty(np.eye(3), alpha=0.1))
    0.0
    >>> round(float(werank_penalty(2 * np.eye(3), alpha=1.0)), 4)  # ‖3I‖_F
    5.1962

    Reference: Saheb Pasand, Moravej, Biparva, Ghodsi, "WERank: Rank
    Degradation Prevention for Self-Supervised Learning via Weight
    Regularization", arXiv 2402.09586.
    """
    alpha = _checks.non_negative_float("alpha", alpha)
    return alpha * _gram_distance(kernel)


@keras.saving.register_keras_serializable(package="keras_collapse")
class WERank(keras.regularizers.Regularizer):
    """WERank: `α ‖WᵀW − I‖_F` on a layer's kernel, see :func:`werank_penalty`.

    Args:
        alpha: Non-negative weight α_l. Defaults to `0.1` (the paper's value).

    Example:

    >>> import keras
    >>> layer = keras.layers.Dense(4, kernel_regularizer=WERank(0.1))
    >>> _ = layer(keras.ops.ones((2, 8)))
    >>> len(layer.losses)
    1

    `attach_werank(model, alpha)` adds it to every kernel of a built model.

    Reference: arXiv 2402.09586.
    """

    def __init__(self, alpha=0.1):
        self.alpha = _checks.non_negative_float("alpha", alpha)

    def __call__(self, x):
        return werank_penalty(x, self.alpha)

    def get_config(self):
        return {"alpha": self.alpha}


@keras.saving.register_keras_serializable(package="keras_collapse")
class Sum(keras.regularizers.Regularizer):
    """The sum of several regularizers of one weight.

    What :func:`attach_werank` gives a kernel that already has a regularizer
    (an `L2(1e-2)` keeps its penalty, WERank's is added). Saved and reloaded
    like any Keras regularizer.

    Args:
        regularizers: A non-empty list of regularizers (objects, names such as
            `"l2"`, or serialized configs).

    Example:

    >>> import keras, numpy as np
    >>> both = Sum([keras.regularizers.L2(0.01), WERank(0.1)])
    >>> kernel = 2 * np.eye(3, dtype="float32")
    >>> round(float(both(kernel)), 4)  # 0.01 · 12 + 0.1 · ‖3I‖_F
    0.6396
    """

    def __init__(self, regularizers):
        if not isinstance(regularizers, (list, tuple)) or not regularizers:
            raise _checks.invalid("regularizers", "a non-empty list of regularizers",
                                  regularizers)
        self.regularizers = [keras.regularizers.get(item) for item in regularizers]
        if any(item is None for item in self.regularizers):
            raise _checks.invalid("regularizers", "regularizers, not None", regularizers)

    def __call__(self, x):
        total = self.regularizers[0](x)
        for regularizer in self.regularizers[1:]:
            total = total + regularizer(x)
        return total

    def get_config(self):
        return {"regularizers": [keras.regularizers.serialize(item)
                                 for item in self.regularizers]}


def _has_werank(regularizer):
    if isinstance(regularizer, Sum):
        return any(_has_werank(item) for item in regularizer.regularizers)
    return isinstance(regularizer, WERank)


def kernel_layers(model):
    """The Dense/Conv layers of `model` with a kernel, in a fixed order.

    The order of Keras' recursive layer walk (attribute order), the same for
    a model and its `load_model` copy.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> [layer.name for layer in kernel_layers(model)]
    ['d']
    """
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if getattr(layer, "kernel", None) is not None
        and len(layer.kernel.shape) in (2, 4)
    ]


def set_kernel_regularizer(layer, regularizer):
    """Give `layer`'s kernel `regularizer`, in effect now and in its config.

    Sets both the kernel variable's regularizer (so `layer.losses` includes it
    from now on) and the layer's `kernel_regularizer` (so it is saved).

    Example:

    >>> import keras
    >>> layer = keras.layers.Dense(2)
    >>> layer.build((None, 2))
    >>> set_kernel_regularizer(layer, WERank(0.1))
    >>> len(layer.losses), layer.get_config()["kernel_regularizer"]["config"]
    (1, {'alpha': 0.1})
    """
    layer.kernel.regularizer = regularizer
    layer.kernel_regularizer = regularizer


def kernel_regularizer_configs(layers):
    """Serialized `kernel_regularizer` of each layer (`None` where it has none),
    or `None` when no layer has one.

    Example:

    >>> import keras
    >>> layers = [keras.layers.Dense(2, kernel_regularizer=WERank(0.5)), keras.layers.Dense(2)]
    >>> [None if c is None else c["config"] for c in kernel_regularizer_configs(layers)]
    [{'alpha': 0.5}, None]
    """
    configs = [None if getattr(layer, "kernel_regularizer", None) is None
               else keras.regularizers.serialize(layer.kernel_regularizer) for layer in layers]
    return configs if any(configs) else None


def attach_werank(model, alpha=0.1):
    """Attach :class:`WERank` to every dense/conv kernel of a built model.

    Each kernel gets it as :func:`set_kernel_regularizer` gives it: in
    `model.losses` from now on, and saved. Attaching adds: a kernel that
    already has a regularizer (`kernel_regularizer=L2(1e-2)`) keeps it, summed
    with WERank (:class:`Sum`); one that already has WERank is refused (it
    would count twice), before any layer is changed.

    Args:
        model: A built `keras.Model` or layer.
        alpha: A float for every layer, a dict `{layer_name: alpha}` (layers not
            named are left alone), or a callable `layer -> alpha or None`.
            Defaults to `0.1`.

    Returns:
        The list of layer names that received the regularizer, in order.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="d1"),
    ...                           keras.layers.Dense(2, name="d2")])
    >>> attach_werank(model, {"d1": 0.1, "d2": 0.01})
    ['d1', 'd2']
    >>> len(model.losses)
    2
    """
    layers = kernel_layers(model)
    if not layers:
        raise ValueError(
            "Invalid value for argument `model`. Expected a built model with at "
            f"least one Dense or Conv kernel. Received: model={model.name!r} "
            "with no kernels (build it first, e.g. give it a keras.Input)."
        )
    if isinstance(alpha, dict):
        unknown = sorted(set(alpha) - {layer.name for layer in layers})
        if unknown:
            raise ValueError(
                f"Invalid value for argument `alpha`. Unknown layer names "
                f"{unknown}; kernel layers are {[layer.name for layer in layers]}"
            )
        choose = alpha.get
    elif callable(alpha):
        choose = alpha
    elif isinstance(alpha, numbers.Real):
        choose = lambda layer: alpha  # noqa: E731
    else:
        raise _checks.invalid("alpha", "a float, a dict or a callable", alpha, TypeError)
    chosen = [(layer, choose(layer.name if isinstance(alpha, dict) else layer))
              for layer in layers]
    chosen = [(layer, WERank(value)) for layer, value in chosen if value is not None]
    twice = [layer.name for layer, _ in chosen if _has_werank(layer.kernel_regularizer)]
    if twice:
        raise ValueError(
            f"Invalid value for argument `model`: the kernels of {twice} already have a "
            "WERank regularizer, which attaching again would count twice. Leave those "
            "layers out (alpha={name: value} for the others, or a callable returning "
            "None for them), or set a new one with "
            "kc.regularizers.set_kernel_regularizer(layer, kc.regularizers.WERank(alpha)).")
    for layer, werank in chosen:
        existing = layer.kernel_regularizer
        set_kernel_regularizer(layer, werank if existing is None else Sum([existing, werank]))
    return [layer.name for layer, _ in chosen]
