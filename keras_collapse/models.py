"""`SiameseModel`: encoder → head (→ predictor) trained with compile/fit."""

from __future__ import annotations

import contextlib
import inspect
import warnings

import keras
import tensorflow as tf

from keras_collapse import _inputs, _keras_compat
from keras_collapse._ema import EMATarget, variables_of
from keras_collapse.regularizers import (
    kernel_layers,
    kernel_regularizer_configs,
    set_kernel_regularizer,
)


def _encoder_input_shape(encoder):
    """The encoder's input shape `(None, ...)` if it declares one, else `None`."""
    try:
        shape = encoder.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list) or not isinstance(shape, tuple) or not shape:
        return None  # several inputs, or nothing declared
    return tuple(shape)


def _view_shape(input_shape):
    """One view's shape from `build`'s argument: a pair of shapes or one shape."""
    shape = list(input_shape)
    if shape and isinstance(shape[0], (tuple, list)):
        shape = list(shape[0])
    return (None, *shape[1:])


def _quiet_end_of_data(expected):
    """Keras' false "ran out of data" warning silenced where we made the
    cardinality unknown and no step count was given (see
    `_keras_compat.end_of_data_expected`)."""
    return _keras_compat.end_of_data_expected() if expected else contextlib.nullcontext()


def _bind(method, args, kwargs):
    """The arguments of a call of Keras' `fit`/`evaluate`/`predict`, by name."""
    bound = inspect.signature(method).bind(None, *args, **kwargs)
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.update(arguments.pop("kwargs", {}))
    return arguments


@keras.saving.register_keras_serializable(package="keras_collapse")
class SiameseModel(keras.Model):
    """Two-view self-supervised model trained with standard `compile`/`fit`.

    For a batch of pairs `(view_a, view_b)` it computes, for each view,
    `r = encoder(view)`, `z = head(r)` (identity if `head` is `None`) and, with
    a predictor, `p = predictor(z)`. The compiled loss receives
    `loss(out_a, out_b)` where `out` is `z`, or the pair `(p, target)` when
    there is a predictor. If the compiled loss has a `target_momentum(step)`
    method (:class:`keras_collapse.losses.BYOL`), the model keeps an EMA copy
    of the encoder's and head's variables (the target network), computes the
    targets with it and updates it after every optimizer step; any encoder
    (functional, Sequential or a subclassed `keras.Model`) works.
    Regularization losses (e.g. :class:`keras_collapse.regularizers.WERank`)
    are included in the training loss, and every kernel regularizer survives
    `save`/`load_model`.

    Data, as Keras reads it (`(x, y, sample_weight)` with no `y`):

    * arrays: `fit((view_a, view_b), batch_size=…, sample_weight=w)`;
    * datasets of `((view_a, view_b),)` (`kc.data.two_views`) or
      `((view_a, view_b), None, weights)`;
    * batches of any size: a last batch too small for the objective
      (fewer than 2 examples for contrastive objectives, Barlow Twins and
      VICReg, or fewer examples than replicas) is refused before training for
      arrays and skipped with a warning for datasets.

    Per-example objectives apply `sample_weight`; whole-batch ones
    (Barlow Twins, VICReg) refuse it. A pair dataset `(view_a, view_b)` (read
    by Keras as `(x, y)`), targets `y` or `compile(metrics=...)` get an error
    saying what to do.

    The model builds itself from the encoder's input shape when it has one
    (so `load_weights` and `keras.callbacks.BackupAndRestore` work on a fresh
    model), else from the data's shapes when `fit`, `evaluate` or `predict`
    starts.

    Args:
        encoder: `keras.Model` or layer mapping inputs to representations
            `(batch_size, representation_dim)`.
        head: Layer mapping representations to embeddings, or `None`.
            Defaults to `None`.
        predictor: Layer mapping embeddings to predictions (SimSiam/BYOL), or
            `None`. Defaults to `None`.
        kernel_regularizers: Used by `load_model`: the kernel regularizers of
            the model's Dense/Conv layers (in `regularizers.kernel_layers`
            order), restored when the model is built. Defaults to `None`.

    Call: `model((view_a, view_b))` returns `(out_a, out_b)` as above.
    Use `model.encoder` for downstream features and `model.embed(x)` for
    embeddings of single-view inputs.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)])
    >>> model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
    >>> model.compile(optimizer="sgd", loss=kc.losses.NTXent(0.5))
    >>> x = np.random.default_rng(0).normal(size=(30, 8)).astype("float32")
    >>> history = model.fit((x, x + 0.1), epochs=1, batch_size=16, verbose=0)
    >>> model.embed(x).shape
    TensorShape([30, 4])

    Reference: the Siamese set-up of SimCLR (arXiv 2002.05709), SimSiam
    (arXiv 2011.10566) and BYOL (arXiv 2006.07733).
    """

    def __init__(self, encoder, head=None, predictor=None, kernel_regularizers=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = head
        self.predictor = predictor
        self.target = EMATarget(name="ema_target")
        self._ssl_loss = None
        self._saved_regularizers = kernel_regularizers
        self._warned_integer_views = False
        # The size of the latest training batch, summed over replicas when
        # read (for NonFiniteGuard's diagnosis); a plain tf.Variable, so not a
        # weight of the model.
        self._batch_size = tf.Variable(
            0, trainable=False, dtype=tf.int32,
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.SUM)
        shape = _encoder_input_shape(encoder)
        if shape is not None:
            self.build((shape, shape))

    # ----------------------------------------------------------------- build
    def build(self, input_shape):
        """Build every layer (and the EMA target) for views of `input_shape`.

        Args:
            input_shape: the shape of one view `(batch_size, ...)`, or a pair
                of such shapes.
        """
        view = keras.KerasTensor(_view_shape(input_shape))
        with self.distribute_strategy.scope():
            z = self.embed(view)
            if self.predictor is not None:
                self.predictor(z)
            self._restore_regularizers()
            if self._wants_target():
                self.target.initialize(self._online_layers())

    def _build_from_data(self, x):
        """Build from the shapes of `fit`/`evaluate`/`predict` data."""
        if self.built:
            return
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            views = spec[0] if isinstance(spec, tuple) else None
            if _inputs.is_pair(views):
                self.build(tuple(tf.nest.flatten(views)[0].shape))
        elif _inputs.is_pair(x) and hasattr(x[0], "shape"):
            self.build(tuple(x[0].shape))

    def _restore_regularizers(self):
        """Put back the kernel regularizers read from a saved config.

        Layers rebuilt from their own config (a ProjectionHead's Dense layers,
        a subclassed encoder's) would otherwise lose regularizers added by
        `attach_werank`, and resumed training would optimise another objective.
        """
        saved, self._saved_regularizers = self._saved_regularizers, None
        if not saved:
            return
        layers = kernel_layers(self)
        if len(layers) != len(saved):
            warnings.warn(
                f"SiameseModel: the saved config lists {len(saved)} kernel regularizers "
                f"but the model has {len(layers)} Dense/Conv kernels; none were restored.",
                stacklevel=2)
            return
        for layer, config in zip(layers, saved):
            if config is not None:
                set_kernel_regularizer(layer, keras.regularizers.get(config))

    # ----------------------------------------------------------------- forward
    def _embed(self, x, training):
        z = self.encoder(x, training=training)
        return z if self.head is None else self.head(z, training=training)

    def embed(self, x, training=False):
        """Embeddings `head(encoder(x))` of a single-view batch."""
        return self._embed(x, training)

    def embed_target(self, x, training=False):
        """Embeddings of a single-view batch by the EMA target network (BYOL).

        Args:
            x: a batch of single views `(batch_size, ...)`.
            training: Whether to run in training mode. Defaults to `False`.

        Returns:
            `(batch_size, embedding_dim)`, as :meth:`embed` but with the
            target's (EMA) values of the encoder's and head's variables.

        Raises ValueError when the model has no target (its objective is not
        an EMA-target one).

        Example:

        >>> import keras, numpy as np
        >>> import keras_collapse as kc
        >>> model = kc.models.SiameseModel(
        ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]),
        ...     predictor=kc.layers.PredictionHead(3, hidden_dim=2))
        >>> model.compile(optimizer="sgd", loss=kc.losses.BYOL())
        >>> x = np.ones((2, 4), "float32")
        >>> bool(np.allclose(model.embed_target(x), model.embed(x)))  # a copy before training
        True
        """
        if not self._uses_target():
            raise ValueError(
                "This SiameseModel has no EMA target network: compile it with an "
                "EMA-target objective such as kc.losses.BYOL() first.")
        return self.target.call_layers(self._online_layers(), x, training)

    def _online_layers(self):
        return [layer for layer in (self.encoder, self.head) if layer is not None]

    def _online_variables(self):
        return variables_of(self._online_layers())

    def _target_variables(self):
        return list(self.target.weights)

    def call(self, inputs, training=None):
        if not _inputs.is_pair(inputs):
            raise _inputs.not_a_pair_error(inputs)
        view_a, view_b = inputs
        if view_a.shape[1:] != view_b.shape[1:]:
            raise ValueError(
                "The two views must have the same shape. Received: "
                f"view_a.shape={view_a.shape}, view_b.shape={view_b.shape}"
            )
        self._warn_integer_views(view_a)
        outputs = []
        for view in (view_a, view_b):
            z = self._embed(view, training)
            if not self._predicts():
                outputs.append(z)
                continue
            target = z
            if self._uses_target():
                target = self.target.call_layers(self._online_layers(), view, training)
            outputs.append((self.predictor(z, training=training), target))
        return tuple(outputs)

    def _warn_integer_views(self, view):
        dtype = keras.backend.standardize_dtype(view.dtype)
        if "int" in dtype and not self._warned_integer_views:
            self._warned_integer_views = True
            warnings.warn(
                f"SiameseModel: the views are {dtype}; the encoder sees their raw values "
                "(0..255 for images). kc.data pipelines give float32 in [0, 1]; to "
                "scale here, start the encoder with keras.layers.Rescaling(1 / 255).",
                UserWarning, stacklevel=2)

    # -------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None,
                **kwargs):
        """`keras.Model.compile` with one self-supervised objective as `loss`.

        A loss with `target_momentum` (BYOL) adds the EMA target. Keras
        metrics compare targets with predictions, which a self-supervised model
        has not, so `metrics` and `weighted_metrics` are refused.
        """
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value:
                raise ValueError(
                    f"Invalid value for argument `{name}`. SiameseModel has no targets "
                    "y, and Keras metrics compare y with the predictions. Received: "
                    f"{name}={value!r}. The objective is logged as `loss`; for collapse "
                    "diagnostics in the epoch logs use kc.callbacks.SpectrumLogger, and "
                    "for a second objective evaluate it on model((view_a, view_b)).")
        if isinstance(loss, (list, tuple, dict)):
            raise ValueError(
                "Invalid value for argument `loss`. SiameseModel trains one objective "
                f"called as loss(out_a, out_b). Received: loss={loss!r}")
        objective = keras.losses.get(loss) if loss is not None else None
        if hasattr(objective, "target_momentum") and self.predictor is None:
            raise ValueError(
                "Invalid value for argument `loss`: an EMA-target objective "
                f"({type(objective).__name__}) needs a predictor. Build the "
                "model as SiameseModel(encoder, head, predictor=PredictionHead(...)).")
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
        self._ssl_loss = objective
        if self.built:
            with self.distribute_strategy.scope():
                if self._wants_target() and not self.target.initialized:
                    self.target.initialize(self._online_layers())
                # Built now, so that load_weights restores the optimizer state too.
                if not self.optimizer.built:
                    self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        """Re-compile on `keras.saving.load_model` (also rebuilds the EMA target)."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def _predicts(self):
        """Whether the objective gets `(prediction, target)` pairs: with a
        predictor, unless it is a kc objective that takes embeddings (NT-Xent
        on a model built for BYOL compares the head's embeddings)."""
        if self.predictor is None:
            return False
        return getattr(self._ssl_loss, "takes_predictions", True)

    def _wants_target(self):
        return hasattr(self._ssl_loss, "target_momentum")

    def _uses_target(self):
        return self._wants_target() and self.target.initialized

    def _objective(self):
        """The compiled objective; raises if `compile` was given none."""
        if self._ssl_loss is None:
            raise ValueError(
                "No loss to compute. Provide a `loss` argument in `compile()`, "
                "e.g. loss=kc.losses.NTXent()."
            )
        return self._ssl_loss

    def _prepare(self, arguments, fit=True):
        """`(arguments, filtered)` checked for `fit`/`evaluate` (see
        `_inputs.prepare`); the model is built from the data if it was not yet."""
        arguments, filtered = _inputs.prepare(
            arguments, self._objective(), self.distribute_strategy, fit)
        self._build_from_data(arguments["x"])
        return arguments, filtered

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, with the data checked first (see the class docstring)."""
        arguments, filtered = self._prepare(_bind(keras.Model.fit, args, kwargs))
        quiet = "x" in filtered and arguments.get("steps_per_epoch") is None
        # Keras evaluates the validation data through `evaluate` (with a cached
        # dataset): its end is as expected as the training data's.
        self._validation_filtered = "validation_data" in filtered
        steps = int(self.optimizer.iterations.numpy())
        try:
            with _quiet_end_of_data(quiet):
                history = super().fit(**arguments)
        finally:
            self._validation_filtered = False
        if quiet and int(self.optimizer.iterations.numpy()) == steps and (
                arguments.get("epochs", 1) > arguments.get("initial_epoch", 0)):
            warnings.warn(
                "SiameseModel: your input ran out of data: the training dataset yielded no "
                f"batch of at least {_inputs.min_batch(self._ssl_loss, self.distribute_strategy)} "
                "examples, so fit ran no training step.", UserWarning, stacklevel=2)
        return history

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`, with the data checked first."""
        arguments = _bind(keras.Model.evaluate, args, kwargs)
        if arguments.get("_use_cached_eval_dataset"):  # fit's validation data
            filtered = getattr(self, "_validation_filtered", False)
        else:
            arguments, filtered = self._prepare(arguments, fit=False)
            filtered = "x" in filtered
        with _quiet_end_of_data(filtered and arguments.get("steps") is None):
            return super().evaluate(**arguments)

    def predict(self, *args, **kwargs):
        """`keras.Model.predict` of `(out_a, out_b)` for pairs of views."""
        arguments = _bind(keras.Model.predict, args, kwargs)
        self._build_from_data(arguments.get("x"))
        return super().predict(**arguments)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The SSL loss on `(out_a, out_b)` plus regularization losses."""
        del x, y, training
        total = self._objective()(y_pred[0], y_pred[1], sample_weight=sample_weight)
        extra = self.losses
        if extra:
            # As Keras' own compute_loss: under tf.distribute the replicas'
            # gradients are summed, so each adds 1/replicas of the penalty.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            penalty = tf.add_n([tf.cast(loss, total.dtype) for loss in extra])
            total = total + penalty / replicas
        return total

    @property
    def last_batch_size(self):
        """Examples in the latest training batch (global batch), `None` before any."""
        size = int(self._batch_size.numpy())
        return size or None

    def train_step(self, data):
        views, weights = _inputs.unpack_step_data(data)
        with _keras_compat.after_data((views, weights)):
            self._batch_size.assign(tf.shape(tf.nest.flatten(views)[0])[0])
            logs = super().train_step((views, None, weights))
        if self._uses_target():
            momentum = self._ssl_loss.target_momentum(self.optimizer.iterations)
            self.target.update(self._online_layers(), momentum)
        return _keras_compat.rank1_logs(self, logs)

    def test_step(self, data):
        views, weights = _inputs.unpack_step_data(data)
        return _keras_compat.rank1_logs(self, super().test_step((views, None, weights)))

    def predict_step(self, data):
        views, _ = _inputs.unpack_step_data(data)
        return super().predict_step((views,))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if getattr(self, "_distribute_strategy", None) is None or iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        _keras_compat.build_from_spec(self, iterator)

    # ------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        for key in ("encoder", "head", "predictor"):
            layer = getattr(self, key)
            config[key] = None if layer is None else keras.saving.serialize_keras_object(layer)
        config["kernel_regularizers"] = (kernel_regularizer_configs(kernel_layers(self))
                                         if self.built else self._saved_regularizers)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("encoder", "head", "predictor"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(
                    config[key], custom_objects=custom_objects
                )
        return cls(**config)
