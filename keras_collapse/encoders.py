"""Encoders: image (or vector) batches to representations `(batch, dim)`.

* :func:`resnet` -- ResNets equivalent to torchvision's (basic or bottleneck
  blocks, no convolution biases), with the CIFAR stem every CIFAR SSL
  benchmark uses and a width multiplier; also Li et al.'s variants
  (bottleneck-26, basic-50, wider bottlenecks).
* :func:`convnet`, :func:`mlp` -- the small encoders of the digits studies;
  :func:`small_resnet` -- a basic-block ResNet for them (DirectCLR needs its
  identity shortcut).

Every encoder is a functional `keras.Model` of `keras.layers` (serializable
with `save`/`load_model`, channels-last, following the global mixed-precision
policy); BatchNorm is synchronised across replicas under a `tf.distribute`
strategy (plain BatchNorm on one device), with PyTorch's epsilon 1e-5 and
momentum 0.1 (Keras' 0.9, :data:`keras_collapse.layers.BATCH_NORM`) as the
recipes these encoders come from.
"""

from __future__ import annotations

import keras

from keras_collapse import _checks
from keras_collapse.layers import BATCH_NORM, _bn_arguments

layers = keras.layers

# Blocks per stage, by block type and depth. torchvision: basic 18/34,
# bottleneck 50/101/152. Li et al. (arXiv 2209.15007, Table 1, the authors'
# resnet_variants.py): bottleneck-26 = bottleneck blocks [2, 2, 2, 2],
# basic-50 = basic blocks [5, 6, 9, 4].
STAGES = {
    "basic": {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (5, 6, 9, 4)},
    "bottleneck": {26: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                   152: (3, 8, 36, 3)},
}
_DEFAULT_BLOCK = {18: "basic", 34: "basic", 26: "bottleneck", 50: "bottleneck",
                  101: "bottleneck", 152: "bottleneck"}
_EXPANSION = {"basic": 1, "bottleneck": 4}


def _conv(filters, kernel_size, strides, name, padding=None):
    """Bias-free convolution with torchvision's init (He normal, fan-out);
    explicit symmetric padding for strides > 1, as PyTorch pads, or
    `padding` zeros each side (PyTorch's `Conv2d(padding=p)`) when given."""
    explicit = padding is not None and padding != kernel_size // 2
    conv = layers.Conv2D(
        filters, kernel_size, strides=strides, use_bias=False, name=name,
        padding="same" if strides == 1 and not explicit else "valid",
        kernel_initializer=keras.initializers.VarianceScaling(
            2.0, mode="fan_out", distribution="untruncated_normal"))
    if (strides == 1 or kernel_size == 1) and not explicit:
        return conv
    pad = layers.ZeroPadding2D(kernel_size // 2 if padding is None else padding,
                               name=f"{name}_pad")
    return lambda x: conv(pad(x))


def _bn(name, zero_gamma=False):
    # torchvision's BatchNorm: momentum 0.1 (Keras 0.9), eps 1e-5.
    return layers.BatchNormalization(
        synchronized=True, name=name, gamma_initializer="zeros" if zero_gamma else "ones",
        **BATCH_NORM)


def _block(x, kind, planes, strides, inner, name, zero_init_residual):
    """One residual block; `inner` is the bottleneck's 3×3 width."""
    out_channels = planes * _EXPANSION[kind]
    shortcut = x
    if strides != 1 or x.shape[-1] != out_channels:
        shortcut = _conv(out_channels, 1, strides, f"{name}_down_conv")(x)
        shortcut = _bn(f"{name}_down_bn")(shortcut)
    if kind == "basic":
        y = layers.ReLU(name=f"{name}_relu1")(_bn(f"{name}_bn1")(
            _conv(planes, 3, strides, f"{name}_conv1")(x)))
        y = _bn(f"{name}_bn2", zero_init_residual)(_conv(planes, 3, 1, f"{name}_conv2")(y))
    else:  # torchvision's ResNet v1.5: the stride on the 3×3 convolution
        y = layers.ReLU(name=f"{name}_relu1")(_bn(f"{name}_bn1")(
            _conv(inner, 1, 1, f"{name}_conv1")(x)))
        y = layers.ReLU(name=f"{name}_relu2")(_bn(f"{name}_bn2")(
            _conv(inner, 3, strides, f"{name}_conv2")(y)))
        y = _bn(f"{name}_bn3", zero_init_residual)(_conv(out_channels, 1, 1, f"{name}_conv3")(y))
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet(depth, width_multiplier=1, cifar_stem=False, input_shape=(224, 224, 3), block=None,
           width_per_group=64, zero_init_residual=False, stem_padding=1, name=None):
    """A ResNet from images to its globally pooled representation (no classifier).

    Stages of 64·w, 128·w, 256·w, 512·w planes (strides 1, 2, 2, 2); basic
    blocks (two 3×3 convolutions) or bottleneck blocks (1×1, 3×3, 1×1 with 4×
    expansion, the stride on the 3×3 as torchvision's v1.5). Convolutions have
    no bias (BatchNorm follows) and torchvision's initialisation. At
    `width_multiplier=1` with the ImageNet stem the trainable parameters equal
    torchvision's resnet18 / 34 / 50 without the 1000-way classifier
    (11,176,512; 21,284,672; 23,508,032).

    Args:
        depth: 18, 34 (basic), 26, 50, 101, 152 (bottleneck), or with `block`
            one of the depths of :data:`STAGES` (basic 50: Li et al.'s
            basic-block ResNet-50).
        width_multiplier: Positive int scaling every stage; the representation
            is 512·w (basic) or 2048·w (bottleneck). Defaults to `1`.
        cifar_stem: `True` for the 3×3 stride-1 first convolution without
            max-pool (the CIFAR variant of SimCLR, solo-learn and lightly);
            `False` for the ImageNet stem (7×7 stride-2 convolution, 3×3
            stride-2 max-pool). Defaults to `False`.
        input_shape: `(height, width, channels)`; height and width may be
            `None`. Defaults to `(224, 224, 3)`.
        block: `"basic"`, `"bottleneck"` or `None` for the depth's standard
            block. Defaults to `None`.
        width_per_group: Bottleneck blocks only: the inner 3×3 width per 64
            planes (torchvision's wide ResNets; 128 is Li et al.'s "2x"
            bottleneck-26 with a 2048-d representation). Defaults to `64`.
        zero_init_residual: Whether the last BatchNorm of each block starts
            at γ = 0 (torchvision's option). Defaults to `False`.
        stem_padding: CIFAR stem only: zero padding on each side of the 3×3
            stem convolution. `1` keeps the image size (SimCLR's and
            lightly's CIFAR ResNets: 32×32 maps, stages 32/16/8/4); `2` is
            solo-learn's (`nn.Conv2d(3, 64, 3, 1, padding=2)` in
            `solo/methods/base.py`: 34×34, stages 34/17/9/5). A positive int.
            Defaults to `1`.
        name: Model name. Defaults to `"resnet{depth}"`.

    Returns:
        A `keras.Model` from `(batch, *input_shape)` to
        `(batch, 512·w or 2048·w)` (post-ReLU, average-pooled).

    Example:

    >>> import numpy as np
    >>> import keras_collapse as kc
    >>> encoder = kc.encoders.resnet(18, cifar_stem=True, input_shape=(32, 32, 3))
    >>> encoder(np.zeros((2, 32, 32, 3), "float32")).shape
    TensorShape([2, 512])
    >>> sum(w.shape.num_elements() for w in kc.encoders.resnet(50).trainable_weights)
    23508032
    >>> solo = kc.encoders.resnet(18, cifar_stem=True, input_shape=(32, 32, 3), stem_padding=2)
    >>> solo.get_layer("stem_conv").output.shape
    (None, 34, 34, 64)

    Reference: He et al., "Deep Residual Learning for Image Recognition",
    CVPR 2016, arXiv 1512.03385; block variants from Li, Efros, Pathak,
    arXiv 2209.15007 (Table 1).
    """
    depth = _checks.positive_int("depth", depth)
    if block is None:
        if depth not in _DEFAULT_BLOCK:
            raise _checks.invalid("depth", f"one of {sorted(_DEFAULT_BLOCK)}", depth)
        block = _DEFAULT_BLOCK[depth]
    block = _checks.one_of("block", block, STAGES)
    if depth not in STAGES[block]:
        raise _checks.invalid(
            "depth", f"one of {sorted(STAGES[block])} for {block} blocks", depth)
    width = _checks.positive_int("width_multiplier", width_multiplier)
    width_per_group = _checks.positive_int("width_per_group", width_per_group)
    if not isinstance(cifar_stem, bool):
        raise _checks.invalid("cifar_stem", "a bool", cifar_stem, TypeError)
    input_shape = _image_shape(input_shape)

    stem_padding = _checks.positive_int("stem_padding", stem_padding)
    if stem_padding != 1 and not cifar_stem:
        raise _checks.invalid("stem_padding", "1 with the ImageNet stem (it applies to the CIFAR "
                              "stem only: pass cifar_stem=True)", stem_padding)

    inputs = keras.Input(input_shape)
    if cifar_stem:
        x = _conv(64 * width, 3, 1, "stem_conv", padding=stem_padding)(inputs)
        x = layers.ReLU(name="stem_relu")(_bn("stem_bn")(x))
    else:
        x = layers.ReLU(name="stem_relu")(_bn("stem_bn")(_conv(64 * width, 7, 2, "stem_conv")(
            inputs)))
        # Zero padding before the max-pool equals PyTorch's −∞ padding after a ReLU.
        x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(
            layers.ZeroPadding2D(1, name="stem_pool_pad")(x))
    for stage, blocks in enumerate(STAGES[block][depth]):
        planes = 64 * 2 ** stage * width
        inner = planes * width_per_group // 64
        for index in range(blocks):
            strides = 2 if stage > 0 and index == 0 else 1
            x = _block(x, block, planes, strides, inner, f"stage{stage + 1}_block{index + 1}",
                       zero_init_residual)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


def _image_shape(input_shape):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3:
        raise _checks.invalid("input_shape", "(height, width, channels)", input_shape)
    return shape


def _width_and_dim(width, representation_dim):
    width = _checks.positive_int("width", width)
    dim = 4 * width if representation_dim is None else _checks.positive_int(
        "representation_dim", representation_dim)
    return width, dim


def convnet(input_shape, width=32, representation_dim=None, name="encoder",
            epsilon=BATCH_NORM["epsilon"], momentum=BATCH_NORM["momentum"]):
    """Three 3×3 conv blocks (Conv → BN → ReLU), then global average pooling.

    Channels `width, 2·width, representation_dim`, the second block with
    stride 2; the representation is the pooled post-ReLU output (as a
    ResNet's). The digits studies' encoder.

    Args:
        input_shape: `(height, width, channels)`.
        width: Base channel count. Defaults to `32`.
        representation_dim: Output size, or `None` for `4·width`.
            Defaults to `None`.
        name: Model name. Defaults to `"encoder"`.
        epsilon: BatchNorm epsilon. Defaults to `1e-5` (PyTorch's; Keras'
            own is `1e-3`).
        momentum: BatchNorm momentum in Keras' convention (PyTorch's
            `momentum=m` is `1 − m`). Defaults to `0.9` (PyTorch's `0.1`;
            Keras' own is `0.99`).

    Returns:
        A `keras.Model` from `(batch, *input_shape)` to
        `(batch, representation_dim)`.

    Example:

    >>> import keras_collapse as kc
    >>> kc.encoders.convnet((8, 8, 1), width=4).output_shape
    (None, 16)
    """
    width, dim = _width_and_dim(width, representation_dim)
    bn = _bn_arguments(epsilon, momentum)
    inputs = keras.Input(_image_shape(input_shape))
    x = inputs
    for index, (channels, stride) in enumerate(((width, 1), (2 * width, 2), (dim, 1))):
        x = layers.Conv2D(channels, 3, strides=stride, padding="same", use_bias=False,
                          name=f"conv_{index}")(x)
        x = layers.BatchNormalization(synchronized=True, name=f"bn_{index}", **bn)(x)
        x = layers.ReLU(name=f"relu_{index}")(x)
    return keras.Model(inputs, layers.GlobalAveragePooling2D(name="pool")(x), name=name)


def mlp(input_shape, width=32, representation_dim=None, name="encoder",
        epsilon=BATCH_NORM["epsilon"], momentum=BATCH_NORM["momentum"]):
    """Flatten → Dense(4·width) → BN → ReLU → Dense(representation_dim) → BN → ReLU.

    Arguments (BatchNorm's `epsilon` and `momentum` included) and result as
    :func:`convnet` (any input shape, flattened first; `width` is a quarter of
    the hidden width).

    Example:

    >>> import keras_collapse as kc
    >>> kc.encoders.mlp((8, 8, 1), width=4, representation_dim=10).output_shape
    (None, 10)
    """
    width, dim = _width_and_dim(width, representation_dim)
    bn = _bn_arguments(epsilon, momentum)
    inputs = keras.Input(tuple(input_shape))
    x = layers.Flatten()(inputs)
    x = layers.Dense(4 * width, use_bias=False, name="dense_0")(x)
    x = layers.ReLU()(layers.BatchNormalization(synchronized=True, name="bn_0", **bn)(x))
    x = layers.Dense(dim, use_bias=False, name="dense_1")(x)
    outputs = layers.ReLU()(layers.BatchNormalization(synchronized=True, name="bn_1", **bn)(x))
    return keras.Model(inputs, outputs, name=name)


def small_resnet(input_shape, width=32, blocks=(1, 1, 2), representation_dim=None,
                 zero_init_residual=True, name="encoder"):
    """A basic-block ResNet for small images (the 8×8 digits), pooled to a vector.

    A 3×3 stem convolution of `width` channels (BN, ReLU; no max-pool), then
    stages of `blocks[i]` basic blocks (:func:`resnet`'s blocks: two 3×3
    convolutions, BatchNorm, identity or 1×1 projection shortcut, ReLU after
    the sum) with `width·2^i` channels, the last stage `representation_dim`;
    stride 2 at the start of every stage after the first; global average
    pooling. With `blocks[-1] ≥ 2` the last block has an identity shortcut,
    as ResNet-50's: its output is `relu(x + F(x))` with `x` the output of the
    block before. DirectCLR (Jing et al. 2022, arXiv 2110.09348) relies on
    that path: the representation's features outside the loss's sub-vector
    are "copied from the layer before the last residual block". With
    `zero_init_residual=True` (the authors' `resnet50(zero_init_residual=True)`)
    the last BatchNorm of each block starts at γ = 0, so every block starts as
    its shortcut.

    Args:
        input_shape: `(height, width, channels)`.
        width: Channels of the stem and the first stage. Defaults to `32`.
        blocks: Basic blocks per stage. Defaults to `(1, 1, 2)` (8×8 → 8, 4, 2).
        representation_dim: Channels of the last stage (the output size), or
            `None` for `width·2^(len(blocks) − 1)`. Defaults to `None`.
        zero_init_residual: Whether each block's last BatchNorm starts at
            γ = 0. Defaults to `True`.
        name: Model name. Defaults to `"encoder"`.

    Returns:
        A `keras.Model` from `(batch, *input_shape)` to
        `(batch, representation_dim)` (post-ReLU, average-pooled).

    Example:

    >>> import numpy as np
    >>> import keras_collapse as kc
    >>> encoder = kc.encoders.small_resnet((8, 8, 1), width=4)
    >>> encoder(np.zeros((2, 8, 8, 1), "float32")).shape
    TensorShape([2, 16])
    >>> [layer.name for layer in encoder.layers if layer.name.endswith("_add")]
    ['stage1_block1_add', 'stage2_block1_add', 'stage3_block1_add', 'stage3_block2_add']

    Reference: He et al., arXiv 1512.03385; Jing et al., arXiv 2110.09348 (DirectCLR).
    """
    width = _checks.positive_int("width", width)
    counts = tuple(blocks) if isinstance(blocks, (tuple, list)) else None
    if not counts or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                         for c in counts):
        raise _checks.invalid("blocks", "a non-empty tuple of positive ints", blocks)
    last = width * 2 ** (len(counts) - 1)
    dim = last if representation_dim is None else _checks.positive_int(
        "representation_dim", representation_dim)
    if not isinstance(zero_init_residual, bool):
        raise _checks.invalid("zero_init_residual", "a bool", zero_init_residual, TypeError)
    inputs = keras.Input(_image_shape(input_shape))
    x = layers.ReLU(name="stem_relu")(_bn("stem_bn")(_conv(width, 3, 1, "stem_conv")(inputs)))
    for stage, count in enumerate(counts):
        planes = dim if stage == len(counts) - 1 else width * 2 ** stage
        for index in range(count):
            strides = 2 if stage > 0 and index == 0 else 1
            x = _block(x, "basic", planes, strides, planes, f"stage{stage + 1}_block{index + 1}",
                       zero_init_residual)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=name)
