"""The pipelines on data as Keras gives it: a folder of images read by
`keras.utils.image_dataset_from_directory` (batched, float 0..255, with or
without labels), datasets of batches, images of different sizes, streamed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
from keras_collapse import data as kd

IDENTITY = lambda x, s: kd.to_float(x)  # noqa: E731


def write_pngs(directory, count=12, sizes=((20, 24), (16, 16), (24, 18))):
    """`count` RGB PNGs in two class folders, of the given sizes in turn;
    returns the uint8 images written, in file-name order per class."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        image = rng.integers(0, 256, sizes[i % len(sizes)] + (3,), dtype=np.uint8)
        folder = directory / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(folder / f"{i:03d}.png"), tf.io.encode_png(image))
        images.append(image)
    return images


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pngs")
    write_pngs(directory)
    return directory


def _collect(ds):
    return [(a.numpy(), b.numpy()) for ((a, b),) in ds]


@pytest.mark.parametrize("form", [dict(), dict(labels=None), dict(labels=None, batch_size=None)])
def test_image_folder_views_equal_those_of_its_images_as_an_array(folder, form):
    """Batched `(images, labels)`, batched images, single images: the views
    are those of the same images given as a [0, 1] array (Keras' 0..255
    floats scaled), rebatched with the pipeline's batch size."""
    ds = keras.utils.image_dataset_from_directory(
        folder, image_size=(10, 12), shuffle=False, **{"batch_size": 5, **form})
    elements = [e[0] if isinstance(e, tuple) else e for e in ds.as_numpy_iterator()]
    array = np.concatenate([x[None] if x.ndim == 3 else x for x in elements])
    assert array.shape == (12, 10, 12, 3) and array.max() > 1  # Keras' 0..255 floats
    from_folder = _collect(kd.two_views(ds, IDENTITY, batch_size=4, shuffle=False))
    from_array = _collect(kd.two_views(array / 255.0, IDENTITY, batch_size=4, shuffle=False))
    assert len(from_folder) == 3
    for (a, b), (a_ref, b_ref) in zip(from_folder, from_array):
        assert a.shape == (4, 10, 12, 3)
        np.testing.assert_allclose(a, a_ref, rtol=1e-6)
        np.testing.assert_allclose(b, b_ref, rtol=1e-6)


def test_augmented_views_of_a_folder_are_in_the_unit_range_and_seeded(folder):
    ds = keras.utils.image_dataset_from_directory(folder, image_size=(16, 16), batch_size=4,
                                                  shuffle=False)
    augment = kd.Compose([kd.RandomResizedCrop(8), kd.ColorJitter(0.4, 0.4, 0.4, 0.1)])
    first = _collect(kd.two_views(ds, augment, batch_size=4, seed=1))
    again = _collect(kd.two_views(ds, augment, batch_size=4, seed=1))
    a, b = first[0]
    assert a.shape == b.shape == (4, 8, 8, 3)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.05  # not clipped to white
    for (a1, b1), (a2, b2) in zip(first, again):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(b1, b2)


@pytest.mark.parametrize("images, scaled", [
    (np.full((6, 4, 4, 3), 0.5, np.float32), False),          # already [0, 1]
    (np.linspace(-2, 2, 288).reshape(6, 4, 4, 3), False),     # standardised: negative values
    (np.full((6, 4, 4, 3), 200.0, np.float32), True),         # Keras' 0..255
    (np.full((6, 5), 200.0, np.float32), False),              # vectors, not images
])
def test_only_float_images_on_the_255_scale_are_rescaled(images, scaled):
    for data in (images, tf.data.Dataset.from_tensor_slices(images).batch(4)):
        examples = kd.examples_of(data)
        got = np.stack(list(examples.as_numpy_iterator())) if isinstance(
            examples, tf.data.Dataset) else examples
        np.testing.assert_allclose(got, images / 255.0 if scaled else images, rtol=1e-6)


def test_images_of_different_sizes_are_viewed_one_by_one(folder):
    files = tf.data.Dataset.list_files(str(folder / "*" / "*.png"), shuffle=False)
    images = files.map(lambda path: tf.io.decode_png(tf.io.read_file(path), channels=3))
    assert images.element_spec.shape.as_list() == [None, None, 3]
    crop = kd.RandomResizedCrop(8)
    first = _collect(kd.two_views(images, crop, batch_size=4, seed=0))
    assert len(first) == 3 and first[0][0].shape == (4, 8, 8, 3)
    np.testing.assert_array_equal(first[0][1], _collect(kd.two_views(images, crop, batch_size=4,
                                                                   seed=0))[0][1])
    with pytest.raises(ValueError, match=r"argument `augment_a`\. Expected a view function "
                                         r"that gives images of different sizes one size"):
        kd.two_views(images, IDENTITY, batch_size=4)  # nothing gives them one size


def _counted(n, reads):
    """A dataset of n uint8 images whose pixel values are their index,
    counting the examples read."""
    def generate():
        for i in range(n):
            reads.append(i)
            yield np.full((4, 4, 1), i, np.uint8)
    ds = tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec((4, 4, 1), tf.uint8))
    return ds.apply(tf.data.experimental.assert_cardinality(n))


def test_datasets_are_streamed_not_copied():
    reads = []
    ds = kd.two_views(_counted(1000, reads).batch(10), IDENTITY, batch_size=8,
                      shuffle_buffer=16)
    assert reads == []  # building the pipeline reads nothing
    next(iter(ds))
    assert len(reads) < 100  # a shuffle buffer's worth, not the 1000
    reads.clear()
    ordered = kd.ordered_views(_counted(1000, reads), "single_pass", IDENTITY, batch_size=8,
                               num_epochs=10, shuffle_buffer=16)
    assert reads == [] and int(ordered.cardinality()) == 10 * (1000 // 8)
    next(iter(ordered))
    assert len(reads) < 100


def _indices(batches):
    """The example index (its pixel value) of every view a of the batches."""
    return [np.round(a[:, 0, 0, 0] * 255).astype(int).tolist() for a, _ in batches]


def test_ordered_views_of_a_dataset_read_each_epochs_chunk_of_its_stored_order():
    data = _counted(12, []).batch(5).map(lambda x: (x, tf.zeros(tf.shape(x)[:1])))  # as Keras
    ds = kd.ordered_views(data, "single_pass", IDENTITY, batch_size=2, num_epochs=3,
                          steps_per_epoch=2, seed=0)
    epochs = np.array(_indices(_collect(ds))).reshape(3, 4)
    for epoch, chunk in enumerate(epochs):
        assert set(chunk) <= set(range(4 * epoch, 4 * epoch + 4)), (epoch, chunk)
    hybrid = kd.ordered_views(data, kd.Hybrid(switch_epoch=2), IDENTITY, batch_size=3,
                              num_epochs=3, steps_per_epoch=4, seed=0)
    epochs = np.array(_indices(_collect(hybrid))).reshape(3, 12)
    assert set(epochs[0]) == set(range(6)) and set(epochs[1]) == set(range(6, 12))
    assert set(epochs[2]) == set(range(12))  # iid after the switch


def test_a_resumed_streamed_ordering_gives_the_same_batches():
    data = _counted(12, [])
    noise = lambda x, s: kd.to_float(x) + tf.random.stateless_uniform(tf.shape(x), s)  # noqa: E731
    kwargs = dict(batch_size=2, num_epochs=3, steps_per_epoch=2, seed=4)
    full = _collect(kd.ordered_views(data, "cumulative", noise, **kwargs))
    resumed = _collect(kd.ordered_views(data, "cumulative", noise, initial_epoch=1, **kwargs))
    for (a, b), (a_ref, b_ref) in zip(resumed, full[2:]):
        np.testing.assert_array_equal(a, a_ref)
        np.testing.assert_array_equal(b, b_ref)


def test_fit_on_a_folder_without_views_says_how_to_make_them(folder):
    ds = keras.utils.image_dataset_from_directory(folder, image_size=(8, 8), batch_size=4)
    model = kc.models.SiameseModel(keras.Sequential([keras.Input((8, 8, 3)),
                                                     keras.layers.Flatten()]))
    model.compile(optimizer="sgd", loss=kc.losses.NTXent())
    with pytest.raises(ValueError, match=r"keras\.utils\.image_dataset_from_directory.*"
                                         r"kc\.data\.two_views\(dataset"):
        model.fit(ds, epochs=1, verbose=0)
