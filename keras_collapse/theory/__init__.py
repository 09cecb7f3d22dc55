"""Analytic predictions from the papers, computed from data and weights.

* :mod:`keras_collapse.theory.strong_augmentation` -- Jing et al. 2022
  (arXiv 2110.09348), Lemma 2 / Theorem 1: the matrix X = Σ̂0 − Σ̂1.
* :mod:`keras_collapse.theory.landscape` -- Ziyin et al. 2023
  (arXiv 2210.00638): local geometry of SSL losses at the origin (this
  project's expansions of the implemented losses).
* :mod:`keras_collapse.theory.stationary` -- the same paper's own statements:
  stationary points of linear InfoNCE, weighted InfoNCE's B, normalisation.
"""

from keras_collapse.theory.landscape import *  # noqa: F401,F403
from keras_collapse.theory.strong_augmentation import *  # noqa: F401,F403
from keras_collapse.theory.stationary import *  # noqa: F401,F403
