"""Non-contrastive Siamese objectives: SimSiam and BYOL.

Both compare an online *prediction* of one view with a stop-gradient *target*
of the other view. Each view argument is either a pair `(prediction, target)`
-- what :class:`keras_collapse.models.SiameseModel` passes when it has a
predictor -- or a single tensor, used as both (no predictor).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_collapse.losses import _ops
from keras_collapse.losses._base import PairLoss
from keras_collapse.losses._momentum import MomentumTarget


def _cosine_pairs(view_a, view_b):
    """cos(p_a, sg(z_b)) and cos(p_b, sg(z_a)), each of shape (batch,)."""
    (p_a, t_a), (p_b, t_b) = _ops.check_siamese_views(view_a, view_b)
    t_a, t_b = tf.stop_gradient(t_a), tf.stop_gradient(t_b)

    def cos(p, t):
        return tf.reduce_sum(_ops.l2_normalize(p) * _ops.l2_normalize(t), axis=1)

    return cos(p_a, t_b), cos(p_b, t_a)


def simsiam(z_a, z_b):
    """Symmetrised negative cosine with stop-gradient (SimSiam).

    `ℓ_i = −½ cos(p_a,i, sg(z_b,i)) − ½ cos(p_b,i, sg(z_a,i))`.

    Args:
        z_a: View a: a tensor `(batch_size, dim)` or a pair
            `(prediction, target)` of such tensors.
        z_b: View b, the same structure.

    Returns:
        Per-example losses, shape `(batch_size,)`, in `[−1, 1]`.

    Example:

    >>> import numpy as np
    >>> p = np.array([[1.0, 0.0]], "float32")
    >>> z = np.array([[1.0, 1.0]], "float32")
    >>> np.round(simsiam((p, z), (p, z)).numpy(), 4)  # -cos 45°
    array([-0.7071], dtype=float32)

    Reference: Chen & He, "Exploring Simple Siamese Representation Learning",
    CVPR 2021, arXiv 2011.10566.
    """
    cos_ab, cos_ba = _cosine_pairs(z_a, z_b)
    return -0.5 * (cos_ab + cos_ba)


def byol(z_a, z_b):
    """BYOL's normalised MSE, summed over both directions.

    `ℓ_i = (2 − 2 cos(p_a,i, sg(z'_b,i))) + (2 − 2 cos(p_b,i, sg(z'_a,i)))`
    where `z'` are the target network's projections.

    Args:
        z_a: View a: a tensor `(batch_size, dim)` or a pair
            `(prediction, target_projection)`.
        z_b: View b, the same structure.

    Returns:
        Per-example losses, shape `(batch_size,)`, in `[0, 8]`.

    Example:

    >>> import numpy as np
    >>> p = np.array([[1.0, 0.0]], "float32")
    >>> z = np.array([[0.0, 1.0]], "float32")
    >>> byol((p, z), (p, z)).numpy()  # orthogonal: 2 + 2
    array([4.], dtype=float32)

    Reference: Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020,
    arXiv 2006.07733.
    """
    cos_ab, cos_ba = _cosine_pairs(z_a, z_b)
    return 4.0 - 2.0 * (cos_ab + cos_ba)


@keras.saving.register_keras_serializable(package="keras_collapse")
class SimSiam(PairLoss):
    """SimSiam loss, see :func:`simsiam`. Per-example, shape `(batch_size,)`.

    Use with a predictor: `SiameseModel(encoder, head, predictor=PredictionHead(...))`
    passes `(prediction, projection)` pairs for each view.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 2.0], [3.0, 1.0]], "float32")
    >>> round(float(SimSiam()(z, z)), 4)  # identical views: -1
    -1.0

    Reference: arXiv 2011.10566.
    """

    fn = staticmethod(simsiam)
    takes_predictions = True


@keras.saving.register_keras_serializable(package="keras_collapse")
class BYOL(MomentumTarget, PairLoss):
    """BYOL loss with the settings of its EMA target network, see :func:`byol`.

    The loss itself is the normalised MSE. It also carries the target network's
    momentum: :class:`keras_collapse.models.SiameseModel` compiled with this
    loss keeps an EMA copy of its encoder and head, updated after every step
    as `θ' ← m θ' + (1 − m) θ` with `m` from :meth:`target_momentum`.

    Args:
        momentum: Base EMA momentum `m_0` in [0, 1]. Defaults to `0.996`.
        total_steps: If given, the cosine schedule of the paper,
            `m_k = 1 − (1 − m_0)(cos(πk/K) + 1)/2`, rising to 1 at step
            `K = total_steps`; if `None` the momentum is constant.
            Defaults to `None`.
        scale: Constant factor on the loss; `0.5` averages the two directions
            as solo-learn's BYOL (`solo/methods/byol.py`) instead of the
            paper's sum. Defaults to `1.0`.

    Example:

    >>> loss = BYOL(momentum=0.99, total_steps=100)
    >>> round(float(loss.target_momentum(0)), 4), round(float(loss.target_momentum(100)), 4)
    (0.99, 1.0)

    Reference: arXiv 2006.07733.
    """

    fn = staticmethod(byol)
    takes_predictions = True

    def __init__(self, momentum=0.996, total_steps=None, **kwargs):
        super().__init__(**kwargs)
        self._init_momentum(momentum, total_steps)

    def get_config(self):
        return {**super().get_config(), **self._momentum_config()}

