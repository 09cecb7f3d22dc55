"""Optimizers and schedules of the published SSL recipes.

* :class:`LARS` -- layer-wise adaptive rate scaling with the update rules of
  SimCLR's, facebookresearch's and solo-learn's code (``rule=``), solo-learn's
  ``clip_lr`` included.
* :class:`CoupledSGD` -- PyTorch's ``torch.optim.SGD``: weight decay added to
  the gradient before momentum (Keras' ``SGD(weight_decay=)`` is decoupled),
  and an optional fixed learning rate for some variables (SimSiam's predictor).
* :mod:`keras_collapse.optimizers.schedules` -- ``LinearWarmupCosine``, the
  warmup + cosine schedule of solo-learn's and Li et al.'s code (Lightning
  Bolts' ``LinearWarmupCosineAnnealingLR``), stepped per epoch or per step.

Both optimizers decide once, when they are built, which variables a rule
selects (by rank or by name) and keep that selection as optimizer state, so a
model saved and reloaded (`load_model`, `load_weights`, `BackupAndRestore`)
goes on with the same selection even where variable paths change on reload.
"""

from keras_collapse.optimizers import schedules
from keras_collapse.optimizers.lars import LARS, RULES
from keras_collapse.optimizers.sgd import CoupledSGD

__all__ = ["LARS", "RULES", "CoupledSGD", "schedules"]
