"""Tests of kc.data.tfds_views (orderings streamed as TFDS split slices) and
kc.data.CenterCrop. The TFDS reader is replaced by a fake that serves split
slices `train[a:b]` of 40 images whose pixels hold their index, so which
examples each epoch reads can be checked against kc.data's orderings."""

import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets

import keras_collapse as kc
from keras_collapse.data import streamed

N = 40


def fake_tfds(name, split="train", data_dir=None, **kwargs):
    """Images (4, 4, 1) filled with their index, labels = index % 3."""
    match = re.fullmatch(r"train\[(\d+):(\d+)\]", split)
    start, stop = (int(match.group(1)), int(match.group(2))) if match else (0, N)
    index = np.arange(start, min(stop, N))
    images = np.repeat(index.astype("uint8"), 16).reshape(-1, 4, 4, 1)
    return tf.data.Dataset.from_tensor_slices((images, index % 3))


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(streamed, "_tfds", fake_tfds)


def identity(batch, seed):
    return tf.cast(batch, tf.float32)


def indices_per_epoch(dataset, steps):
    seen = [int(v) for ((view_a, _),) in dataset for v in view_a[:, 0, 0, 0].numpy()]
    return [set(seen[i:i + steps * 4]) for i in range(0, len(seen), steps * 4)]


@pytest.mark.parametrize("ordering", ["single_pass", "cumulative", "multi_pass",
                                      kc.data.Hybrid(switch_epoch=2), kc.data.Last(0.25)],
                         ids=str)
def test_each_epoch_reads_its_subset_of_the_stored_order(fake, ordering):
    dataset = kc.data.tfds_views("cifar10", identity, batch_size=4, num_epochs=4,
                                 steps_per_epoch=3, ordering=ordering, max_examples=N,
                                 shuffle_buffer=N)
    assert int(dataset.cardinality()) == 12
    got = indices_per_epoch(dataset, 3)
    ordering = kc.data.get_ordering(ordering)
    for epoch, seen in enumerate(got):
        subset = ordering.subset(epoch, N, 4)
        assert seen <= set(range(subset.start, subset.stop)), (epoch, seen)
    if isinstance(ordering, kc.data.SinglePass):  # disjoint chunks of 10
        assert all(not (a & b) for i, a in enumerate(got) for b in got[i + 1:])


def test_resuming_reads_the_remaining_epochs_and_their_seeds(fake):
    """Resumed at epoch 2 the pipeline yields epochs 2-3 with the views
    (seeded by the global step) of the uninterrupted run."""
    def noisy(batch, seed):
        return tf.cast(batch, tf.float32) + tf.random.stateless_uniform(tf.shape(batch), seed)

    kwargs = dict(batch_size=4, num_epochs=4, steps_per_epoch=2, ordering="single_pass",
                  max_examples=N, shuffle_buffer=1)  # buffer 1: the stored order
    full = [b[0][0].numpy() for b in kc.data.tfds_views("cifar10", noisy, **kwargs)]
    resumed = [b[0][0].numpy() for b in kc.data.tfds_views("cifar10", noisy, initial_epoch=2,
                                                             **kwargs)]
    assert len(resumed) == 4
    for a, b in zip(full[4:], resumed):
        np.testing.assert_allclose(a, b)


def test_preprocess_gives_varying_images_one_size(monkeypatch):
    def varying(name, split="train", data_dir=None, **kwargs):
        shapes = [(9, 12, 3), (16, 10, 3), (10, 10, 3)]
        return tf.data.Dataset.from_generator(
            lambda: ((np.full(s, 100, np.uint8), 0) for s in shapes),
            output_signature=(tf.TensorSpec((None, None, 3), tf.uint8),
                              tf.TensorSpec((), tf.int64)))

    monkeypatch.setattr(streamed, "_tfds", varying)
    dataset = kc.data.tfds_views("imagenet2012", kc.data.simclr_augment(6), batch_size=3,
                                 num_epochs=1, steps_per_epoch=1, max_examples=3,
                                 preprocess=kc.data.CenterCrop(8, resize=8))
    ((view_a, view_b),) = next(iter(dataset))
    assert view_a.shape == view_b.shape == (3, 6, 6, 3)


def test_mock_tfds_end_to_end():
    with tensorflow_datasets.testing.mock_data(num_examples=8):
        dataset = kc.data.tfds_views("cifar10", kc.data.simclr_augment(16), batch_size=4,
                                     num_epochs=2, ordering="single_pass", max_examples=8)
        batches = list(dataset)
    assert len(batches) == 4 and batches[0][0][0].shape == (4, 16, 16, 3)  # 2 epochs × 8 // 4


@pytest.mark.parametrize(
    "kwargs,argument,error",
    [
        (dict(ordering=kc.data.SinglePass(order="class")), "ordering", ValueError),
        (dict(initial_epoch=4), "initial_epoch", ValueError),
        (dict(preprocess="crop"), "preprocess", TypeError),
        (dict(batch_size=0), "batch_size", ValueError),
    ],
)
def test_invalid_arguments_name_the_argument(fake, kwargs, argument, error):
    arguments = {"batch_size": 4, "num_epochs": 4, "max_examples": N, **kwargs}
    with pytest.raises(error, match=f"Invalid value for argument `{argument}`"):
        kc.data.tfds_views("cifar10", identity, **arguments)


def test_unprepared_split_without_max_examples_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="argument `split`.*max_examples"):
        kc.data.tfds_views("cifar10", identity, batch_size=4, num_epochs=1,
                           data_dir=str(tmp_path))


# ------------------------------------------------------------------ CenterCrop
def test_center_crop_by_hand():
    """A 4×6 ramp, resize the shorter side 4 -> 2 (6 -> 3), crop 2×2 centred:
    columns 0-1 of the 2×3 resized image ((3-2)//2 = 0)."""
    image = np.arange(24, dtype=np.float32).reshape(4, 6, 1)
    resized = tf.image.resize(image, (2, 3), antialias=True).numpy()
    got = kc.data.CenterCrop(2, resize=2)(image).numpy()
    np.testing.assert_allclose(got, resized[:, 0:2], rtol=1e-6)
    batch = kc.data.CenterCrop((2, 4))(np.stack([image, image]))
    assert batch.shape == (2, 2, 4, 1)
    np.testing.assert_allclose(batch[0, :, :, 0], image[1:3, 1:5, 0])


def test_center_crop_keeps_uint8_and_errors():
    out = kc.data.CenterCrop(3, resize=4)(np.full((8, 10, 3), 200, np.uint8))
    assert out.dtype == tf.uint8 and out.shape == (3, 3, 3) and int(out[0, 0, 0]) == 200
    with pytest.raises(ValueError, match="argument `resize`"):
        kc.data.CenterCrop(3, resize=0)
    with pytest.raises(ValueError, match="argument `size`"):
        kc.data.CenterCrop("big")
