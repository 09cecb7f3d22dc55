"""Private numerical helpers shared by the objectives (float32, stable forms)."""

from __future__ import annotations

import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import num_replicas

# Added to logits that must not count (an anchor's similarity with itself).
# exp(-1e9) underflows to exactly 0 in float32 without producing inf/NaN.
MASK_PENALTY = 1e9


def to_float32(x, name):
    """Cast to float32 (mixed-precision inputs compute in float32)."""
    try:
        x = tf.convert_to_tensor(x)
    except (TypeError, ValueError):
        raise _checks.invalid(
            name, "a float tensor of shape (batch_size, dim)",
            None if x is None else f"{type(x).__name__} not convertible to a tensor",
            TypeError) from None
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise _checks.invalid(name, "a float tensor", x.dtype, TypeError)
    return tf.cast(x, tf.float32)


def check_pair(z_a, z_b, min_batch=1, names=("z_a", "z_b")):
    """Validate two embedding batches and return them as float32.

    Raises ValueError naming the argument and the received shapes when a rank is
    not 2 or the shapes differ. The batch must hold at least `min_batch`
    examples (see :func:`check_batch_size`).
    """
    z_a, z_b = to_float32(z_a, names[0]), to_float32(z_b, names[1])
    for name, z in zip(names, (z_a, z_b)):
        if z.shape.rank is not None and z.shape.rank != 2:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected a rank-2 tensor "
                f"of shape (batch_size, dim). Received: {name}.shape={z.shape}"
            )
    if z_a.shape.is_fully_defined() and z_b.shape.is_fully_defined():
        if z_a.shape != z_b.shape:
            raise ValueError(
                f"The two views must have the same shape. Received: "
                f"{names[0]}.shape={z_a.shape}, {names[1]}.shape={z_b.shape}"
            )
    return check_batch_size(z_a, min_batch, names[0]), z_b


def check_batch_size(z, min_batch, name="z_a"):
    """`z` once its batch is known to hold at least `min_batch` examples.

    A static batch is checked at once (ValueError). A batch of unknown size
    (`Dataset.batch(n)` without `drop_remainder`, a NumPy `fit` whose size is
    not a multiple of the batch) is checked when the step runs: a batch too
    small fails with `tf.errors.InvalidArgumentError` carrying the same
    message, before anything that depends on the loss (the weight update)
    runs. `SiameseModel.fit` never lets such a batch reach the objective (it
    skips it with a warning). Under a `tf.distribute` strategy each replica
    holds a slice, possibly empty, of the global batch; the model checks the
    global batch before training and nothing is checked here. (XLA drops
    runtime assertions: under `jit_compile=True` outside `SiameseModel` only
    static batches are checked.)
    """
    if num_replicas() > 1:
        return z
    batch = z.shape[0]
    needs = (f"This objective needs a batch of at least {min_batch} examples (it "
             "uses the other examples of the batch). Batch the data with "
             "drop_remainder=True, or choose a batch size that leaves at least "
             f"{min_batch} examples in the last batch")
    if batch is not None:
        if batch < 1:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected a non-empty batch "
                f"(at least one example). Received: {name}.shape={z.shape}"
            )
        if batch < min_batch:
            raise ValueError(f"Invalid value for argument `{name}`. {needs}. "
                             f"Received: {name}.shape={z.shape}")
        return z
    check = tf.debugging.assert_greater_equal(
        tf.shape(z)[0], min_batch, message=f"Invalid value for argument `{name}`. "
        f"{needs}. Received a batch of this size:")
    with tf.control_dependencies([check]):
        return tf.identity(z)


def l2_normalize(z):
    """Row-wise unit vectors; safe at z = 0 (gives 0, finite gradient)."""
    return tf.math.l2_normalize(z, axis=-1, epsilon=1e-12)


def cross_entropy(logits, positive_index):
    """Per-row cross-entropy of `logits` against integer targets, via log-sum-exp.

    Args:
        logits: `(rows, columns)` float32.
        positive_index: `(rows,)` int column of each row's positive.
    """
    positive = tf.gather(logits, positive_index, axis=1, batch_dims=1)
    return tf.reduce_logsumexp(logits, axis=1) - positive


def self_mask(rows, columns, offset):
    """`(rows, columns)` float mask with ones where column == offset + row."""
    return tf.one_hot(tf.range(rows) + offset, columns, dtype=tf.float32)


def scaled_similarity(a, b, factor):
    """`factor · a bᵀ`, scaling whichever of `a` and the result is smaller.

    Args:
        a: `(n, d)` float32.
        b: `(m, d)` float32.
        factor: scalar (e.g. `1/τ`).

    Returns:
        `(n, m)` float32. With static shapes the scaling is one pass over
        `n·min(d, m)` entries rather than always over the larger operand.
    """
    if a.shape[1] is not None and b.shape[0] is not None and a.shape[1] > b.shape[0]:
        return tf.matmul(a, b, transpose_b=True) * factor
    return tf.matmul(a * factor, b, transpose_b=True)


def squared_distances(a, b):
    """`(n, m)` matrix of ‖a_i − b_j‖², clipped at 0 against round-off."""
    cross = tf.matmul(a, b, transpose_b=True)
    a2 = tf.reduce_sum(tf.square(a), axis=1, keepdims=True)
    b2 = tf.reduce_sum(tf.square(b), axis=1)[tf.newaxis, :]
    return tf.maximum(a2 + b2 - 2.0 * cross, 0.0)


def split_prediction(value, name):
    """`(prediction, target)` from a pair, or `(z, z)` from a single tensor."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected a tensor or a "
                f"pair (prediction, target). Received: a sequence of length "
                f"{len(value)}"
            )
        return value[0], value[1]
    return value, value


def check_siamese_views(view_a, view_b, min_batch=1):
    """`(p_a, t_a), (p_b, t_b)` of two Siamese views, checked and float32.

    Each view is a pair `(prediction, target)` or one tensor used as both;
    predictions and targets must be rank 2 with matching shapes.
    """
    p_a, t_a = split_prediction(view_a, "z_a")
    p_b, t_b = split_prediction(view_b, "z_b")
    p_a, p_b = check_pair(p_a, p_b, min_batch=min_batch, names=("z_a", "z_b"))
    t_a, t_b = check_pair(t_a, t_b, min_batch=min_batch, names=("z_a", "z_b"))
    if p_a.shape.is_fully_defined() and t_a.shape.is_fully_defined() and p_a.shape != t_a.shape:
        raise ValueError(
            "Invalid value for argument `z_a`. The prediction and the target must "
            f"have the same shape. Received: prediction.shape={p_a.shape}, "
            f"target.shape={t_a.shape}"
        )
    return (p_a, t_a), (p_b, t_b)
