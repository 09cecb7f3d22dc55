"""Registers keras_collapse objects with gin so .gin files can reference them.

The package core never imports gin; this is the one module that does.
"""

import gin
import keras

import keras_collapse as kc

for _module, _names in (
    (kc.losses, ("InfoNCE", "NTXent", "SpectralContrastive", "BarlowTwins", "VICReg", "SimSiam", "BYOL")),
    (kc.regularizers, ("WERank",)),
    (kc.layers, ("DirectCLRHead", "ProjectionHead", "PredictionHead")),
):
    for _name in _names:
        gin.external_configurable(getattr(_module, _name), module=_module.__name__.split(".")[-1])

gin.external_configurable(keras.optimizers.SGD, module="optimizers")
gin.external_configurable(keras.optimizers.Adam, module="optimizers")
gin.external_configurable(keras.optimizers.AdamW, module="optimizers")
