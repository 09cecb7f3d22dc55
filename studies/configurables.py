"""Registers keras_collapse (and the Keras objects studies use) with gin.

The package core never imports gin; this is the one module that does. Each
name is registered under the module it comes from, so a ``.gin`` file binds,
e.g., ``ziyin2023_landscape.loss = @losses.InfoNCE`` and
``losses.InfoNCE.temperature = 1.0``, or swaps the optimizer with
``... .optimizer = @optimizers.SGD``. Registered:

* ``losses``: every objective; ``regularizers``: WERank and Keras' L2;
* ``layers``: the heads; ``models``: SiameseModel; ``encoders``: ResNets,
  the small convnet, MLP and ResNet;
* ``data``: sources (``synthetic_gaussian``, ``digits``, ``tfds``), views
  (``two_views``, ``ordered_views``), augmentations (noise and image ops,
  ``simclr_augment``, ``byol_augment``, ``CenterCrop``, ``Normalize``) and orderings;
* ``optimizers``: kc's LARS and CoupledSGD, Keras' SGD, Adam, AdamW;
  ``schedules``: kc's ``LinearWarmupCosine``, Keras' ``CosineDecay`` (with its
  warmup) and ``PiecewiseConstantDecay``; ``evaluation``: ``linear_evaluation``.
"""

import gin
import keras

import keras_collapse as kc

_LIBRARY = (
    (kc.losses, ("InfoNCE", "NTXent", "SpectralContrastive", "BarlowTwins", "VICReg", "SimSiam",
                 "BYOL", "MoCoV3")),
    (kc.encoders, ("resnet", "convnet", "mlp", "small_resnet")),
    (kc.optimizers, ("LARS", "CoupledSGD")),
    (kc.optimizers.schedules, ("LinearWarmupCosine",)),
    (kc.evaluation, ("linear_evaluation",)),
    (kc.regularizers, ("WERank",)),
    (kc.layers, ("DirectCLRHead", "ProjectionHead", "PredictionHead")),
    (kc.models, ("SiameseModel",)),
    (kc.data, ("synthetic_gaussian", "digits", "tfds", "two_views", "ordered_views",
               "isotropic_noise", "gaussian_noise", "block_noise_covariance", "simclr_augment",
               "byol_augment", "RandomResizedCrop", "RandomFlip", "ColorJitter",
               "RandomGrayscale", "GaussianBlur", "RandomSolarize", "Compose", "CenterCrop",
               "Normalize", "MultiPass",
               "Cumulative", "SinglePass", "Hybrid", "Last")),
)
_KERAS = (
    (keras.optimizers, "optimizers", ("SGD", "Adam", "AdamW")),
    (keras.optimizers.schedules, "schedules", ("CosineDecay", "PiecewiseConstantDecay")),
    (keras.regularizers, "regularizers", ("L2",)),
)

for _module, _names in _LIBRARY:
    for _name in _names:
        gin.external_configurable(getattr(_module, _name), module=_module.__name__.split(".")[-1])
for _module, _short, _names in _KERAS:
    for _name in _names:
        gin.external_configurable(getattr(_module, _name), module=_short)
