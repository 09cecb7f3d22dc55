"""`SiameseModel`: encoder → head (→ predictor) trained with compile/fit."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse.distribute import check_global_batch


def _clone(layer):
    """A fresh, unbuilt copy of a layer or model with the same config."""
    if isinstance(layer, (keras.Sequential, keras.Model)) and hasattr(layer, "inputs"):
        try:
            return keras.models.clone_model(layer)
        except (ValueError, TypeError):  # subclassed models: rebuild from config
            pass
    return type(layer).from_config(layer.get_config())


@keras.saving.register_keras_serializable(package="keras_collapse")
class SiameseModel(keras.Model):
    """Two-view self-supervised model trained with standard `compile`/`fit`.

    For a batch of pairs `(view_a, view_b)` it computes, for each view,
    `r = encoder(view)`, `z = head(r)` (identity if `head` is `None`) and, with
    a predictor, `p = predictor(z)`. The compiled loss receives
    `loss(out_a, out_b)` where `out` is `z`, or the pair `(p, target)` when
    there is a predictor. If the compiled loss has a `target_momentum(step)`
    method (:class:`keras_collapse.losses.BYOL`), the model keeps an EMA copy
    of encoder and head (the target network), uses its projections as targets
    and updates it after every optimizer step. Regularization losses
    (e.g. :class:`keras_collapse.regularizers.WERank`) are included in the
    training loss.

    Args:
        encoder: `keras.Model` or layer mapping inputs to representations
            `(batch_size, representation_dim)`.
        head: Layer mapping representations to embeddings, or `None`.
            Defaults to `None`.
        predictor: Layer mapping embeddings to predictions (SimSiam/BYOL), or
            `None`. Defaults to `None`.

    Call: `model((view_a, view_b))` returns `(out_a, out_b)` as above.
    Use `model.encoder` for downstream features and `model.embed(x)` for
    embeddings of single-view inputs.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)])
    >>> model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(4))
    >>> model.compile(optimizer="sgd", loss=kc.losses.NTXent(0.5))
    >>> x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    >>> history = model.fit((x, x + 0.1), epochs=1, batch_size=16, verbose=0)
    >>> model.embed(x).shape
    TensorShape([32, 4])

    Reference: the Siamese set-up of SimCLR (arXiv 2002.05709), SimSiam
    (arXiv 2011.10566) and BYOL (arXiv 2006.07733).
    """

    def __init__(self, encoder, head=None, predictor=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = head
        self.predictor = predictor
        self.target_encoder = None
        self.target_head = None
        self._ssl_loss = None

    # ----------------------------------------------------------------- forward
    def _embed(self, x, training, encoder, head):
        z = encoder(x, training=training)
        return z if head is None else head(z, training=training)

    def embed(self, x, training=False):
        """Embeddings `head(encoder(x))` of a single-view batch."""
        return self._embed(x, training, self.encoder, self.head)

    def call(self, inputs, training=None):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(
                "Invalid value for argument `inputs`. SiameseModel expects a pair "
                "(view_a, view_b), e.g. from kc.data.two_views(...). Received: "
                f"inputs of type {type(inputs).__name__}"
                + (f" and length {len(inputs)}" if isinstance(inputs, (tuple, list)) else "")
            )
        view_a, view_b = inputs
        if view_a.shape[1:] != view_b.shape[1:]:
            raise ValueError(
                "The two views must have the same shape. Received: "
                f"view_a.shape={view_a.shape}, view_b.shape={view_b.shape}"
            )
        outputs = []
        for view in (view_a, view_b):
            z = self.embed(view, training=training)
            if self.predictor is None:
                outputs.append(z)
                continue
            target = z
            if self.target_encoder is not None:
                target = self._embed(view, training, self.target_encoder, self.target_head)
            outputs.append((self.predictor(z, training=training), target))
        return tuple(outputs)

    # -------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        """`keras.Model.compile`; a loss with `target_momentum` adds an EMA target."""
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
        self._ssl_loss = keras.losses.get(loss) if loss is not None else None
        if hasattr(self._ssl_loss, "target_momentum") and self.target_encoder is None:
            self._build_target()

    def compile_from_config(self, config):
        """Re-compile on `keras.saving.load_model` (also rebuilds the EMA target)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def _online_layers(self):
        return [layer for layer in (self.encoder, self.head) if layer is not None]

    def _build_target(self):
        if self.predictor is None:
            raise ValueError(
                "Invalid value for argument `loss`: an EMA-target objective "
                f"({type(self._ssl_loss).__name__}) needs a predictor. Build the "
                "model as SiameseModel(encoder, head, predictor=PredictionHead(...))."
            )
        input_shape = getattr(self.encoder, "input_shape", None)
        if input_shape is None:
            raise ValueError(
                "The encoder must be built before compiling with an EMA-target "
                "objective: give it a keras.Input so its input shape is known."
            )
        sample = tf.zeros((1, *input_shape[1:]))
        self.embed(sample)  # builds the online network
        self.target_encoder = _clone(self.encoder)
        self.target_head = None if self.head is None else _clone(self.head)
        self._embed(sample, False, self.target_encoder, self.target_head)
        for layer in (self.target_encoder, self.target_head):
            if layer is not None:
                layer.trainable = False
        for target, online in zip(self._target_variables(), self._online_variables()):
            target.assign(online)

    def _online_variables(self):
        return [v for layer in self._online_layers() for v in layer.weights]

    def _target_variables(self):
        layers = [self.target_encoder, self.target_head]
        return [v for layer in layers if layer is not None for v in layer.weights]

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, checking first that the batch suits the replicas."""
        self._check_distributed_batch(x)
        if isinstance(x, tf.data.Dataset):
            # Keras ignores `shuffle` for datasets (kc.data pipelines shuffle
            # themselves) but warns on every call when it is left at True.
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    def _check_distributed_batch(self, data):
        strategy = self.distribute_strategy
        if strategy.num_replicas_in_sync == 1 or not isinstance(data, tf.data.Dataset):
            return
        batch = tf.nest.flatten(data.element_spec)[0].shape[0]
        if batch is None:
            raise ValueError(
                "Under a distribution strategy every replica must get the same "
                "batch: batch the dataset with drop_remainder=True (kc.data "
                "pipelines do by default)."
            )
        check_global_batch(
            batch, strategy, getattr(self._ssl_loss, "min_batch_per_replica", 1)
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The SSL loss on `(out_a, out_b)` plus regularization losses."""
        del x, y, training
        if self._ssl_loss is None:
            raise ValueError(
                "No loss to compute. Provide a `loss` argument in `compile()`, "
                "e.g. loss=kc.losses.NTXent()."
            )
        total = self._ssl_loss(y_pred[0], y_pred[1], sample_weight=sample_weight)
        for extra in self.losses:
            total = total + self._aggregate_additional_loss(extra)
        return total

    def train_step(self, data):
        logs = super().train_step(data)
        if self.target_encoder is not None:
            momentum = self._ssl_loss.target_momentum(self.optimizer.iterations)
            for target, online in zip(self._target_variables(), self._online_variables()):
                target.assign(momentum * target + (1.0 - momentum) * tf.cast(online, target.dtype))
        return self._multi_worker_logs(logs)

    def test_step(self, data):
        return self._multi_worker_logs(super().test_step(data))

    def _multi_worker_logs(self, logs):
        # Under a multi-worker strategy Keras 3 reduces each per-replica log
        # value with `strategy.reduce("MEAN", v, axis=0)`, which fails on
        # scalars (keras-team/keras#20585); give it rank-1 values, reduced back
        # to the same scalars (metric results are already global).
        strategy = getattr(self, "_distribute_strategy", None)
        if not (
            isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()
        ):
            return logs
        return {key: tf.reshape(value, (1,)) for key, value in logs.items()}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras 3 builds the model from the first batch,
        # which it takes from the training iterator: with a repeated dataset
        # and `steps_per_epoch` that batch is then never trained on, and
        # under MultiWorkerMirroredStrategy its `strategy.reduce` fails
        # eagerly (keras-team/keras#20585). Build from zeros of the dataset's
        # element spec instead: same shapes, no batch consumed.
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is None or iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        spec = iterator.data_adapter.get_tf_dataset().element_spec
        data_batch = tf.nest.map_structure(
            lambda s: tf.zeros([2 if d is None else d for d in s.shape], s.dtype), spec
        )
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    # ------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        for key in ("encoder", "head", "predictor"):
            layer = getattr(self, key)
            config[key] = None if layer is None else keras.saving.serialize_keras_object(layer)
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
