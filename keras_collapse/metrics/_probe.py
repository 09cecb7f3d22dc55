"""Turning (model, layer/output name, dataset) into streamed embedding statistics."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse._quiet import quiet_retracing
from keras_collapse.metrics.spectrum import CovarianceAccumulator, as_embeddings

#: Output names understood for models with ``encoder`` and ``head`` attributes.
SIAMESE_OUTPUTS = ("representation", "embedding")


def is_siamese(model):
    """Duck-typed check for a model with ``encoder`` and ``head`` attributes."""
    return hasattr(model, "encoder") and hasattr(model, "head")


def _layer_names(model):
    return [layer.name for layer in getattr(model, "layers", [])]


def _sub_model(model, name, arg):
    """``keras.Model`` mapping the model's inputs to the output of layer ``name``."""
    base = model.encoder if is_siamese(model) else model
    if not isinstance(base, keras.Model):
        raise _checks.invalid(
            arg, "a layer name of a functional or Sequential Keras model",
            name)
    names = _layer_names(base)
    if name not in names:
        raise _checks.invalid(
            arg, f"the name of a layer of `{base.name}`, one of {names}", name)
    try:
        inputs = base.inputs
    except (AttributeError, ValueError) as error:
        raise _checks.invalid(
            arg, f"a layer of a model with defined inputs ({error})", name) from None
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                       base.get_layer(name).output)


def resolve(model, layer=None, output=None):
    """Returns ``(embed_fn, weight_roots)`` for one output of ``model``.

    ``model`` None means the data already are embeddings.  ``output`` names
    ``"representation"``/``"embedding"`` of a model with ``encoder``/``head``
    attributes; ``layer`` names a layer whose output is taken (looked up in
    the encoder of such a model).  With neither: the model's own output (the
    head's output for a siamese-like model).
    """
    if layer is not None and output is not None:
        raise _checks.invalid(
            "layer", "None when `output` is given", layer)
    if model is None:
        if layer is not None or output is not None:
            raise _checks.invalid("model", "a model when `layer`/`output` is given", model)
        return (lambda x: x), []
    if layer is not None:
        sub = _sub_model(model, layer, "layer")
        return traced_call(sub), [sub]
    if is_siamese(model):
        output = _checks.one_of("output", output or "embedding", SIAMESE_OUTPUTS)
        if output == "representation" or model.head is None:
            return traced_call(model.encoder), [model.encoder]
        return traced_call(model.encoder, model.head), [model.encoder, model.head]
    if output is not None:
        raise _checks.invalid(
            "output", "None for a model without `encoder`/`head` attributes "
            "(use `layer=` to pick a layer)", output)
    return traced_call(model), [model]


def traced_call(*stages):
    """`x ↦ stages[-1](…stages[0](x))` in inference mode, as one traced graph."""
    # One traced graph instead of eager layer calls: the probe is embedded
    # every log, and eager dispatch would dominate the logger's cost. One per
    # model by design, so TensorFlow's retracing heuristic is quieted for it.
    @tf.function(reduce_retracing=True)
    @quiet_retracing
    def embed(x):
        for stage in stages:
            x = stage(x, training=False)
        return x
    return embed


def weight_roots(model):
    """The layers whose kernels are the model's weights: encoder and head of
    a SiameseModel (not its predictor or EMA target), else the model itself."""
    if is_siamese(model):
        return [r for r in (model.encoder, model.head) if r is not None]
    return [model]


def optimizer_step(model):
    """The optimizer's step count (`iterations`), or `None` without one."""
    optimizer = getattr(model, "optimizer", None)
    try:
        return int(keras.ops.convert_to_numpy(optimizer.iterations))
    except (AttributeError, TypeError, ValueError):
        return None


def input_rank(model):
    """Rank of the model's input batches `(batch, ...)`, or `None` if unknown."""
    base = getattr(model, "encoder", None) if is_siamese(model) else model
    try:
        shape = base.input_shape
    except (AttributeError, ValueError):
        return None
    return len(shape) if isinstance(shape, tuple) else None


def _single_view(spec, name):
    """`(function element -> x, spec of x)` for a dataset's elements.

    Elements may be `x`, `(x, y, ...)`, a dict with an `"image"` key, or
    two-view training elements `((view_a, view_b), ...)`, of which view a is
    used.
    """
    if isinstance(spec, dict):
        if "image" not in spec:
            raise _checks.invalid(
                name, "a dataset of x, (x, y), ((view_a, view_b),) or dicts with an "
                "'image' key", f"a dataset of dicts with keys {sorted(spec)}")
        return (lambda element: element["image"]), spec["image"]
    if isinstance(spec, (tuple, list)):
        first = spec[0]
        if isinstance(first, (tuple, list)) and len(first) == 2:
            return (lambda element: element[0][0]), first[0]
        if isinstance(first, tf.TensorSpec):
            return (lambda element: element[0]), first
        raise _checks.invalid(name, "a dataset whose elements start with a tensor "
                              "or a pair of views", f"elements of spec {spec}")
    return (lambda element: element), spec


def batches(data, batch_size, name="dataset", max_examples=None, rank=None):
    """Yields input batches of ``data``, at most ``max_examples`` examples in all.

    Args:
        data: an array `(num_samples, ...)`, a tuple `(x, ...)` of arrays, or a
            tf.data.Dataset of batches or of single examples, whose elements
            are `x`, `(x, y)`, dicts with `"image"` or two-view elements
            `((view_a, view_b),)` (view a is used).
        batch_size: batch size for arrays and unbatched datasets.
        name: argument name used in errors.
        max_examples: stop after this many examples (the last batch is cut);
            `None` reads everything, and then an infinite dataset
            (`.repeat()`) is an error rather than a hang. Defaults to `None`.
        rank: rank of the model's input batches, used to tell a dataset of
            single examples (one less) from a batched one. Without it, elements
            of rank 1 (vectors) count as single examples. Defaults to `None`.
    """
    remaining = max_examples
    for x in _unbounded_batches(data, batch_size, name, max_examples, rank):
        if remaining is not None:
            if remaining <= 0:
                return
            x = x[:remaining]
            remaining -= int(x.shape[0])
        yield x


def _unbounded_batches(data, batch_size, name, max_examples, rank):
    if isinstance(data, tf.data.Dataset):
        if max_examples is None and int(data.cardinality()) == tf.data.INFINITE_CARDINALITY:
            raise _checks.invalid(
                name, "a finite dataset, or max_examples=N to read only N examples",
                "an infinite tf.data.Dataset (e.g. from .repeat())")
        select, spec = _single_view(data.element_spec, name)
        # Dataset.map passes a tuple element's parts as separate arguments.
        tuple_elements = isinstance(data.element_spec, (tuple, list))
        data = data.map((lambda *element: select(element)) if tuple_elements else select)
        single = spec.shape.rank is not None and (
            spec.shape.rank == rank - 1 if rank is not None else spec.shape.rank <= 1)
        if single:
            data = data.batch(batch_size)
        yield from data
        return
    if isinstance(data, (tuple, list)) and data and not np.isscalar(data[0]):
        data = data[0]
    array = data if isinstance(data, (np.ndarray, tf.Tensor)) else np.asarray(data)
    if len(array.shape) == 0:
        raise _checks.invalid(name, "a batch of inputs or a tf.data.Dataset",
                              data)
    for start in range(0, array.shape[0], batch_size):
        yield array[start:start + batch_size]


def accumulate_embeddings(embed_fn, data, batch_size=256, name="dataset",
                          output_name="embeddings", max_examples=None, rank=None):
    """Streams ``embed_fn`` over ``data`` into a :class:`CovarianceAccumulator`.

    ``name`` labels errors about the data, ``output_name`` errors about the
    embeddings (shape, NaN/Inf); ``max_examples`` and ``rank`` as for
    :func:`batches`.

    Raises:
        ValueError: for an empty dataset, embeddings not of rank 2, or NaN/Inf.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    acc = CovarianceAccumulator()
    for x in batches(data, batch_size, name, max_examples, rank):
        z = keras.ops.convert_to_numpy(embed_fn(x))
        acc.update(as_embeddings(z, output_name))
    if acc.count == 0:
        raise _checks.invalid(name, "a non-empty dataset (at least one sample)",
                              data)
    return acc
