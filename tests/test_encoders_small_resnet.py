"""Tests of keras_collapse.encoders.small_resnet: parameters counted from the
definition, the identity shortcut of the last block (the path DirectCLR relies
on, Jing et al. 2022, arXiv 2110.09348), serialization and errors."""

import keras
import numpy as np
import pytest

import keras_collapse as kc

E = kc.encoders


def counted(width, blocks, dim):
    """Trainable parameters from the definition: a 3×3 stem (1 channel in), basic
    blocks of two 3×3 convolutions, BatchNorm 2·c, a 1×1 projection shortcut
    where the stride or the width changes."""
    total = 9 * width + 2 * width
    c_in = width
    for stage, n in enumerate(blocks):
        planes = dim if stage == len(blocks) - 1 else width * 2 ** stage
        for index in range(n):
            stride = 2 if stage > 0 and index == 0 else 1
            total += 9 * c_in * planes + 9 * planes * planes + 4 * planes
            if stride != 1 or c_in != planes:
                total += c_in * planes + 2 * planes
            c_in = planes
    return total


@pytest.mark.parametrize("width, blocks, dim, out_dim", [
    (4, (1, 1, 2), None, 16), (8, (2,), None, 8), (4, (1, 2), 12, 12)])
def test_shapes_and_parameters_follow_the_definition(width, blocks, dim, out_dim):
    encoder = E.small_resnet((8, 8, 1), width=width, blocks=blocks, representation_dim=dim)
    assert encoder.output_shape == (None, out_dim)
    trainable = sum(w.shape.num_elements() for w in encoder.trainable_weights)
    assert trainable == counted(width, blocks, out_dim)
    x = np.random.default_rng(0).uniform(size=(5, 8, 8, 1)).astype("float32")
    assert np.all(np.asarray(encoder(x)) >= 0.0)  # post-ReLU, pooled


def test_last_block_starts_as_its_identity_shortcut():
    """With zero_init_residual the last BatchNorm of the last block has γ = 0,
    so the representation is the pooled output of the block before (post-ReLU,
    so relu(x + 0) = x)."""
    encoder = E.small_resnet((8, 8, 1), width=4)
    before = keras.Model(encoder.input, keras.layers.GlobalAveragePooling2D()(
        encoder.get_layer("stage3_block1_out").output))
    x = np.random.default_rng(1).uniform(size=(6, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(encoder(x), before(x), rtol=1e-6)
    plain = E.small_resnet((8, 8, 1), width=4, zero_init_residual=False)
    assert np.all(plain.get_layer("stage3_block2_bn2").gamma.numpy() == 1.0)


def test_directclr_trains_only_the_subvector_and_copies_the_rest():
    """Trained with DirectCLR on r[:d0] (InfoNCE on the ℓ2-normalised
    sub-vector, plain SGD), the last block's convolution and BatchNorm of the
    channels outside d0 get no gradient: γ stays 0, so r[d0:] stays exactly the
    pooled output of the block before (the paper: "copied from the layer before
    the last residual block"), while that block itself trains."""
    d0 = 6
    encoder = E.small_resnet((8, 8, 1), width=4)
    conv = encoder.get_layer("stage3_block2_conv2")
    kernel = conv.kernel.numpy().copy()
    earlier = encoder.get_layer("stage3_block1_conv1").kernel.numpy().copy()
    model = kc.models.SiameseModel(encoder, head=kc.layers.DirectCLRHead(d0))
    model.compile(keras.optimizers.SGD(0.5), kc.losses.InfoNCE(0.1))
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(16, 8, 8, 1)).astype("float32")
    model.fit((x, x + 0.05 * rng.normal(size=x.shape).astype("float32")), batch_size=16,
              epochs=3, verbose=0)
    gamma = encoder.get_layer("stage3_block2_bn2").gamma.numpy()
    assert np.all(gamma[d0:] == 0.0) and np.any(gamma[:d0] != 0.0)
    np.testing.assert_array_equal(conv.kernel.numpy()[..., d0:], kernel[..., d0:])
    assert np.any(conv.kernel.numpy()[..., :d0] != kernel[..., :d0])
    assert np.any(encoder.get_layer("stage3_block1_conv1").kernel.numpy() != earlier)
    before = keras.Model(encoder.input, keras.layers.GlobalAveragePooling2D()(
        encoder.get_layer("stage3_block1_out").output))
    np.testing.assert_allclose(np.asarray(encoder(x))[:, d0:], np.asarray(before(x))[:, d0:],
                               rtol=1e-6)


def test_serialization_round_trip(tmp_path):
    encoder = E.small_resnet((8, 8, 1), width=2, blocks=(1, 2))
    x = np.random.default_rng(3).uniform(size=(2, 8, 8, 1)).astype("float32")
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(x), encoder(x), rtol=1e-6)


@pytest.mark.parametrize("kwargs, argument, error", [
    (dict(width=0), "width", ValueError),
    (dict(blocks=()), "blocks", ValueError),
    (dict(blocks=(1, 0)), "blocks", ValueError),
    (dict(blocks=3), "blocks", ValueError),
    (dict(representation_dim=-1), "representation_dim", ValueError),
    (dict(zero_init_residual="yes"), "zero_init_residual", TypeError),
])
def test_invalid_arguments_name_the_argument(kwargs, argument, error):
    with pytest.raises(error, match=f"Invalid value for argument `{argument}`"):
        E.small_resnet((8, 8, 1), **kwargs)
    with pytest.raises(ValueError, match="input_shape"):
        E.small_resnet((8, 8))
