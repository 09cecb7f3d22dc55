"""Base class pairing each objective's public function with a Keras ``Loss``."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse import _checks
from keras_collapse.distribute import num_replicas
from keras_collapse.losses import _ops


class PairLoss(keras.losses.Loss):
    """A ``keras.losses.Loss`` computing ``fn(z_a, z_b, **settings)``.

    Subclasses set ``fn`` (the objective's public function) and ``settings``
    (the names of the constructor arguments forwarded to it, stored as
    attributes of the same name and returned by ``get_config``). The two views
    go in as ``loss(z_a, z_b)`` -- Keras' ``(y_true, y_pred)`` slots -- and the
    loss always computes in float32 whatever the input dtype.

    Every objective also takes ``scale``, a constant factor on the loss (and
    so on its gradients): solo-learn's Barlow Twins recipe multiplies its loss
    by ``scale_loss = 0.1``, and averages BYOL's two directions where the paper
    sums them (``scale=0.5``). Under LARS a factor is not neutral: biases and
    BatchNorm parameters take plain ``lr·g`` steps, and solo-learn's trust
    ratio ``η‖w‖/(‖g‖ + wd‖w‖)`` depends on the gradient's scale.
    """

    fn = None
    settings = ()
    # Smallest (global) batch the objective is defined on: contrastive and
    # whole-batch objectives need 2 (negatives; a variance or a correlation).
    min_batch = 1
    # Whole-batch objectives return one scalar: there is nothing to weight.
    whole_batch = False
    # Siamese objectives (SimSiam, BYOL) compare a predictor's outputs with
    # targets: SiameseModel gives them (prediction, target) pairs and the
    # others the head's embeddings, so any objective fits any model.
    takes_predictions = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype="float32", scale=1.0):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.scale = _checks.positive_float("scale", scale)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if y_true is None or y_pred is None:
            raise ValueError(
                f"{type(self).__name__} compares the embeddings of two views, called "
                "as loss(z_a, z_b). Received: "
                f"{'y_true' if y_true is None else 'y_pred'}=None. Keras' compile() "
                "applies a loss to each model output against a target y, which a "
                "self-supervised model has not: train with "
                "kc.models.SiameseModel(encoder, head) (it calls loss(z_a, z_b)), or "
                "call the loss in your own train_step / compute_loss."
            )
        if sample_weight is not None and self.whole_batch:
            raise ValueError(
                f"Invalid value for argument `sample_weight`: {type(self).__name__} "
                "is a whole-batch objective (one scalar for the batch), so "
                "per-example weights do not apply. Received: sample_weight="
                f"{getattr(sample_weight, 'shape', sample_weight)}"
            )
        # Check dtypes here, before Keras' own conversion turns a string or
        # bool input into an unhelpful TensorFlow error.
        y_true = tf.nest.map_structure(lambda x: _ops.to_float32(x, "z_a"), y_true)
        y_pred = tf.nest.map_structure(lambda x: _ops.to_float32(x, "z_b"), y_pred)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        loss = type(self).fn(y_true, y_pred, **self._settings())
        if self.scale != 1.0:
            loss = loss * self.scale
        replicas = num_replicas()
        if replicas == 1 or self.reduction in (None, "none"):
            return loss
        if loss.shape.rank == 0:
            # A whole-batch objective is computed on the gathered global batch by
            # every replica; Keras scales per-example losses by 1/replicas but
            # not scalars, so scale here: the sum over replicas is then the
            # global-batch loss and so are the summed gradients.
            return loss / replicas
        # Keras takes each replica's mean over its own examples, divided by the
        # replicas. A last batch split unevenly (35 examples: 18 + 17, or 1 +
        # 0) would then weight the replicas' examples unequally; scaling by
        # replicas * local / global makes the sum over replicas the mean over
        # the global batch for any split (a factor of 1 for an even one).
        local = tf.cast(tf.shape(loss)[0], loss.dtype)
        total = tf.distribute.get_replica_context().all_reduce("sum", local)
        return loss * (replicas * local / tf.maximum(total, 1.0))

    def _settings(self):
        return {key: getattr(self, key) for key in self.settings}

    def get_config(self):
        return {**super().get_config(), **self._settings(), "scale": self.scale}
