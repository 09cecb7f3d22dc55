"""Tests of keras_collapse.encoders: parameter counts against torchvision and
against a count written here from each architecture's definition, shapes,
stems, widths, serialization, synchronised BatchNorm, mixed precision and
errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

E = kc.encoders


def trainable(model):
    return sum(w.shape.num_elements() for w in model.trainable_weights)


def counted(blocks, kind, width=1, width_per_group=64, cifar_stem=False, channels=3):
    """Trainable parameters from the definition: conv k·k·c_in·c_out (no bias),
    BatchNorm 2·c; a projection shortcut where the stride or the width changes."""
    stem = 64 * width
    total = (3 if cifar_stem else 7) ** 2 * channels * stem + 2 * stem
    c_in = stem
    for stage, n in enumerate(blocks):
        planes = 64 * 2 ** stage * width
        out = planes * (4 if kind == "bottleneck" else 1)
        inner = planes * width_per_group // 64
        for index in range(n):
            stride = 2 if stage > 0 and index == 0 else 1
            if kind == "basic":
                total += 9 * c_in * planes + 2 * planes + 9 * planes * planes + 2 * planes
            else:
                total += (c_in * inner + 2 * inner + 9 * inner * inner + 2 * inner
                          + inner * out + 2 * out)
            if stride != 1 or c_in != out:
                total += c_in * out + 2 * out
            c_in = out
    return total


@pytest.mark.parametrize("depth,expected", [(18, 11_176_512), (34, 21_284_672),
                                            (50, 23_508_032)])
def test_parameter_counts_equal_torchvision(depth, expected):
    """torchvision's resnet18/34/50 (11,689,512; 21,797,672; 25,557,032
    parameters) minus the 1000-way classifier (513,000; 513,000; 2,049,000)."""
    model = E.resnet(depth)
    assert trainable(model) == expected
    assert model.output_shape == (None, 512 if depth < 50 else 2048)


@pytest.mark.parametrize(
    "kwargs,blocks,kind,table_millions",
    [
        # Li et al. (arXiv 2209.15007) Table 1 "Params" (with the 1000-way fc).
        (dict(depth=26), (2, 2, 2, 2), "bottleneck", 16.0),
        (dict(depth=26, width_per_group=128), (2, 2, 2, 2), "bottleneck", 39.6),
        # Table 1 prints 31.9M for basic-50; the authors' resnet_variants.py
        # (BasicBlock, [5, 6, 9, 4]) has 30.8M: we follow the code.
        (dict(depth=50, block="basic"), (5, 6, 9, 4), "basic", None),
        (dict(depth=18, width_multiplier=2, cifar_stem=True, input_shape=(32, 32, 3)),
         (2, 2, 2, 2), "basic", None),
    ],
)
def test_li_variants_and_widths_match_their_definition(kwargs, blocks, kind, table_millions):
    model = E.resnet(**kwargs)
    width = kwargs.get("width_multiplier", 1)
    got = trainable(model)
    assert got == counted(blocks, kind, width, kwargs.get("width_per_group", 64),
                          kwargs.get("cifar_stem", False))
    rep = (2048 if kind == "bottleneck" else 512) * width
    assert model.output_shape == (None, rep)
    if table_millions is not None:
        assert abs((got + rep * 1000 + 1000) / 1e6 - table_millions) < 0.1  # + the fc


def test_cifar_stem_keeps_resolution():
    """CIFAR stem: 3×3 stride 1, no max-pool, so a 32×32 image reaches the last
    stage at 4×4; the ImageNet stem leaves 1×1."""
    cifar = E.resnet(18, cifar_stem=True, input_shape=(32, 32, 3))
    imagenet = E.resnet(18, input_shape=(32, 32, 3))
    assert cifar.get_layer("stage4_block2_out").output.shape[1:3] == (4, 4)
    assert imagenet.get_layer("stage4_block2_out").output.shape[1:3] == (1, 1)
    assert cifar.get_layer("stem_conv").kernel.shape == (3, 3, 3, 64)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in cifar.layers)
    for layer in cifar.layers:
        if isinstance(layer, keras.layers.Conv2D):
            assert not layer.use_bias
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.synchronized


def test_stride_two_pads_symmetrically_as_pytorch():
    """A stride-2 3×3 convolution with PyTorch's padding 1 on a 4×4 input
    sees rows/cols −1..4 (symmetric); Keras' "same" would pad only after.
    With a kernel of ones on a ramp image the first output is the sum of the
    top-left 2×2 (the padded row/column adds 0)."""
    model = E.resnet(18, cifar_stem=True, input_shape=(8, 8, 1))
    conv = model.get_layer("stage2_block1_conv1")
    pad = model.get_layer("stage2_block1_conv1_pad")
    x = tf.reshape(tf.range(16, dtype=tf.float32), (1, 4, 4, 1))
    x = tf.tile(x, [1, 1, 1, conv.kernel.shape[2]])
    kernel = np.ones(conv.kernel.shape, "float32")
    conv.kernel.assign(kernel)
    out = conv(pad(x)).numpy()[0, :, :, 0]
    channels = conv.kernel.shape[2]
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(channels * (0 + 1 + 4 + 5))


def test_serialization_round_trip(tmp_path):
    model = E.resnet(18, width_multiplier=1, cifar_stem=True, input_shape=(16, 16, 3))
    x = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype("float32")
    expected = model(x, training=False).numpy()
    model.save(tmp_path / "r.keras")
    loaded = keras.saving.load_model(tmp_path / "r.keras")
    np.testing.assert_allclose(loaded(x, training=False).numpy(), expected, rtol=1e-5,
                               atol=1e-6)


def test_trains_in_a_siamese_model_with_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        encoder = E.resnet(18, cifar_stem=True, input_shape=(8, 8, 3))
        model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(8))
        model.compile(optimizer=kc.optimizers.LARS(0.1), loss=kc.losses.NTXent(0.2))
        x = np.random.default_rng(1).uniform(size=(6, 8, 8, 3)).astype("float32")
        history = model.fit((x, x[:, ::-1]), batch_size=3, epochs=1, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert encoder.get_layer("stem_conv").compute_dtype == "float16"
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("build", [E.convnet, E.mlp])
def test_small_encoders(build):
    model = build((8, 8, 1), width=2, representation_dim=5)
    assert model.output_shape == (None, 5)
    assert build((8, 8, 1), width=2).output_shape == (None, 8)


@pytest.mark.parametrize(
    "call,argument,error",
    [
        (lambda: E.resnet(20), "depth", ValueError),
        (lambda: E.resnet(18, block="bottleneck"), "depth", ValueError),
        (lambda: E.resnet(18, block="dense"), "block", ValueError),
        (lambda: E.resnet(18, width_multiplier=0), "width_multiplier", ValueError),
        (lambda: E.resnet(18, width_multiplier=1.5), "width_multiplier", TypeError),
        (lambda: E.resnet(18, cifar_stem="yes"), "cifar_stem", TypeError),
        (lambda: E.resnet(18, input_shape=(32, 32)), "input_shape", ValueError),
        (lambda: E.convnet((8, 8, 1), width=0), "width", ValueError),
    ],
)
def test_invalid_arguments_name_the_argument(call, argument, error):
    with pytest.raises(error, match=f"Invalid value for argument `{argument}`"):
        call()


def test_solo_learn_stem_pads_by_two():
    """stem_padding=2: solo-learn's CIFAR conv1 (`nn.Conv2d(3, 64, kernel_size=3,
    stride=1, padding=2, bias=False)`, solo/methods/base.py lines 201 and 650 at
    vturrisi/solo-learn 9187ea3): 34×34 after the stem, stages 34/17/9/5 by
    PyTorch's size rule floor((n + 2 − 3) / 2) + 1; the stem's output is the
    cross-correlation of the image with 2 zeros on each side (NumPy below)."""
    solo = E.resnet(18, cifar_stem=True, input_shape=(32, 32, 3), stem_padding=2)
    sizes = [solo.get_layer(f"stage{s}_block2_out").output.shape[1] for s in (1, 2, 3, 4)]
    assert sizes == [34, 17, 9, 5]
    assert trainable(solo) == trainable(E.resnet(18, cifar_stem=True, input_shape=(32, 32, 3)))
    image = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    conv = solo.get_layer("stem_conv")
    got = keras.Model(solo.input, conv.output)(image).numpy()[0]
    kernel = conv.kernel.numpy()  # (3, 3, c_in, c_out)
    padded = np.pad(image[0], ((2, 2), (2, 2), (0, 0)))
    want = np.zeros((34, 34, kernel.shape[-1]), "float32")
    for i in range(34):
        for j in range(34):
            want[i, j] = np.tensordot(padded[i:i + 3, j:j + 3], kernel, axes=3)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs, error", [
    (dict(cifar_stem=True, stem_padding=0), ValueError),
    (dict(cifar_stem=True, stem_padding=1.5), TypeError),
    (dict(cifar_stem=False, stem_padding=2), ValueError),
])
def test_stem_padding_errors_name_the_argument(kwargs, error):
    with pytest.raises(error, match="stem_padding"):
        E.resnet(18, input_shape=(32, 32, 3), **kwargs)
