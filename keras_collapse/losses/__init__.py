"""Self-supervised objectives as Keras losses.

Every class is a registered ``keras.losses.Loss`` called as ``loss(z_a, z_b)``
with the two views' embeddings of shape ``(batch_size, dim)``; each has a
functional twin computing the same math.

Contrastive: :class:`InfoNCE`, :class:`NTXent`, :class:`SpectralContrastive`.
Redundancy reduction: :class:`BarlowTwins`, :class:`VICReg`.
Siamese (predictor + stop-gradient): :class:`SimSiam`, :class:`BYOL`; with
negatives and a momentum encoder: :class:`MoCoV3`.
"""

from keras_collapse.losses.barlow_twins import BarlowTwins, barlow_twins
from keras_collapse.losses.infonce import InfoNCE, info_nce
from keras_collapse.losses.moco import MoCoV3, moco_v3
from keras_collapse.losses.ntxent import NTXent, nt_xent
from keras_collapse.losses.siamese import BYOL, SimSiam, byol, simsiam
from keras_collapse.losses.spectral import SpectralContrastive, spectral_contrastive
from keras_collapse.losses.vicreg import VICReg, vicreg

__all__ = [
    "BYOL",
    "BarlowTwins",
    "InfoNCE",
    "MoCoV3",
    "NTXent",
    "SimSiam",
    "SpectralContrastive",
    "VICReg",
    "barlow_twins",
    "byol",
    "info_nce",
    "moco_v3",
    "nt_xent",
    "simsiam",
    "spectral_contrastive",
    "vicreg",
]
