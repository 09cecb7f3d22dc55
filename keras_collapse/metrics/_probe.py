"""Turning (model, layer/output name, dataset) into streamed embedding statistics."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_collapse import _checks
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
    # every log, and eager dispatch would dominate the logger's cost.
    @tf.function(reduce_retracing=True)
    def embed(x):
        for stage in stages:
            x = stage(x, training=False)
        return x
    return embed


def batches(data, batch_size, name="dataset"):
    """Yields input batches: a tf.data.Dataset's elements (``x`` of ``(x, y)``),
    or ``batch_size`` slices of an array."""
    if isinstance(data, tf.data.Dataset):
        for element in data:
            yield element[0] if isinstance(element, (tuple, list)) else element
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
                          output_name="embeddings"):
    """Streams ``embed_fn`` over ``data`` into a :class:`CovarianceAccumulator`.

    ``name`` labels errors about the data, ``output_name`` errors about the
    embeddings (shape, NaN/Inf).

    Raises:
        ValueError: for an empty dataset, embeddings not of rank 2, or NaN/Inf.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    acc = CovarianceAccumulator()
    for x in batches(data, batch_size, name):
        z = keras.ops.convert_to_numpy(embed_fn(x))
        acc.update(as_embeddings(z, output_name))
    if acc.count == 0:
        raise _checks.invalid(name, "a non-empty dataset (at least one sample)",
                              data)
    return acc
