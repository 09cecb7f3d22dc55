"""tf.data two-view pipelines, augmentations, orderings and data sources.

* Views: :func:`two_views`, :func:`ordered_views` (orderings of Li et al. 2022),
  :func:`tfds_views` (streamed from TFDS, iid or in an ordering); they take
  arrays or datasets of single examples or batches (:func:`examples_of`, e.g.
  ``keras.utils.image_dataset_from_directory``), and Keras preprocessing
  layers as view functions (:class:`KerasAugment`).
* Image augmentations (SimCLR / BYOL, torchvision's rules): :class:`RandomResizedCrop`,
  :class:`RandomFlip`, :class:`ColorJitter`, :class:`RandomGrayscale`,
  :class:`GaussianBlur`, :class:`RandomSolarize`, :class:`Compose`,
  :func:`simclr_augment`, :func:`byol_augment`; preprocessing:
  :class:`CenterCrop`, :class:`Normalize` (:data:`NORMALIZATION`); the
  deterministic per-example functions behind them in
  :mod:`keras_collapse.data.functional`.
* Vector augmentations: :func:`gaussian_noise`, :func:`isotropic_noise`,
  :func:`block_noise_covariance`.
* Orderings: :class:`Ordering` and its subclasses, :func:`get_ordering`,
  :func:`epoch_indices`.
* Sources: :func:`synthetic_gaussian`, :func:`digits`, :func:`tfds`.
"""

from keras_collapse.data import functional
from keras_collapse.data.augment import (
    NORMALIZATION,
    ColorJitter,
    Compose,
    GaussianBlur,
    Normalize,
    RandomFlip,
    RandomGrayscale,
    RandomResizedCrop,
    RandomSolarize,
    byol_augment,
    simclr_augment,
    to_float,
)
from keras_collapse.data.examples import examples_of
from keras_collapse.data.keras_layers import KerasAugment
from keras_collapse.data.noise import (
    GaussianNoise,
    IsotropicNoise,
    block_noise_covariance,
    gaussian_noise,
    isotropic_noise,
    psd_factor,
)
from keras_collapse.data.orderings import (
    ORDERINGS,
    Cumulative,
    Hybrid,
    Last,
    MultiPass,
    Ordering,
    SinglePass,
    epoch_indices,
    get_ordering,
    ordered_views,
)
from keras_collapse.data.preprocess import CenterCrop
from keras_collapse.data.sources import digits, synthetic_gaussian, tfds
from keras_collapse.data.streamed import tfds_views
from keras_collapse.data.views import two_views, views_map_fn

__all__ = [
    "CenterCrop",
    "ORDERINGS",
    "ColorJitter",
    "Compose",
    "Cumulative",
    "GaussianBlur",
    "GaussianNoise",
    "Hybrid",
    "IsotropicNoise",
    "KerasAugment",
    "Last",
    "MultiPass",
    "NORMALIZATION",
    "Normalize",
    "Ordering",
    "RandomFlip",
    "RandomGrayscale",
    "RandomResizedCrop",
    "RandomSolarize",
    "SinglePass",
    "block_noise_covariance",
    "byol_augment",
    "digits",
    "epoch_indices",
    "examples_of",
    "functional",
    "gaussian_noise",
    "get_ordering",
    "isotropic_noise",
    "ordered_views",
    "psd_factor",
    "simclr_augment",
    "synthetic_gaussian",
    "tfds",
    "to_float",
    "tfds_views",
    "two_views",
    "views_map_fn",
]
