"""Tests for keras_collapse.data.orderings (Li et al. 2022, arXiv 2209.15007)."""

import numpy as np
import pytest

from keras_collapse import data as kd

N, E, STEPS, BATCH, SEED = 100, 5, 10, 16, 7  # 160 indices per epoch > N


def _sets(ordering, labels=None, num_epochs=E):
    return [set(kd.epoch_indices(ordering, e, N, num_epochs, STEPS, BATCH, SEED, labels).tolist())
            for e in range(num_epochs)]


def _base(ordering, labels=None):
    return kd.get_ordering(ordering).base_ordering(N, SEED, labels)


def test_multi_pass_everything_each_epoch_reshuffled():
    assert all(s == set(range(N)) for s in _sets("multi_pass"))
    e0 = kd.epoch_indices("multi_pass", 0, N, E, STEPS, BATCH, SEED)
    e1 = kd.epoch_indices("multi_pass", 1, N, E, STEPS, BATCH, SEED)
    assert not np.array_equal(e0, e1)


def test_cumulative_prefixes():
    base = _base("cumulative")
    for e, seen in enumerate(_sets("cumulative")):
        assert seen == set(base[: (e + 1) * N // E].tolist())


def test_single_pass_disjoint_chunks_cover_data():
    base = _base("single_pass")
    sets = _sets("single_pass")
    for e, seen in enumerate(sets):
        assert seen == set(base[e * N // E:(e + 1) * N // E].tolist())
    assert set().union(*sets) == set(range(N))


def test_hybrid_single_pass_then_iid():
    ordering = kd.Hybrid(switch_epoch=2)
    base = ordering.base_ordering(N, SEED)
    sets = _sets(ordering)
    assert sets[0] == set(base[:50].tolist()) and sets[1] == set(base[50:].tolist())
    assert all(s == set(range(N)) for s in sets[2:])


def test_hybrid_with_more_chunks_sees_only_their_first_switch_epoch():
    """Li et al.'s hybrid: the single-pass run of E epochs (E chunks) resumed
    at epoch 2 as iid: epochs 0, 1 read chunks 0, 1 of 5 (40% of the data),
    then everything."""
    ordering = kd.Hybrid(switch_epoch=2, num_chunks=E)
    base = ordering.base_ordering(N, SEED)
    sets = _sets(ordering)
    assert sets[0] == set(base[:20].tolist()) and sets[1] == set(base[20:40].tolist())
    assert all(s == set(range(N)) for s in sets[2:])
    assert ordering.get_config()["num_chunks"] == E


def test_last_fraction():
    base = kd.Last(0.3).base_ordering(N, SEED)
    for seen in _sets(kd.Last(0.3)):
        assert seen == set(base[70:].tolist())


def test_every_epoch_same_length_and_balanced_repeats():
    idx = kd.epoch_indices("single_pass", 3, N, E, STEPS, BATCH, SEED)
    assert idx.shape == (STEPS * BATCH,) and idx.dtype == np.int64
    counts = np.bincount(idx, minlength=N)
    counts = counts[counts > 0]
    assert counts.max() - counts.min() <= 1


def test_class_sorted_order():
    labels = np.repeat(np.arange(5), 20)[np.random.default_rng(0).permutation(N)]
    ordering = kd.SinglePass(order="class")
    for e, seen in enumerate(_sets(ordering, labels)):
        assert set(labels[list(seen)].tolist()) == {e}
    with pytest.raises(ValueError, match="labels"):
        kd.epoch_indices(ordering, 0, N, E, STEPS, BATCH, SEED)


def _pipeline_indices(ordering, initial_epoch):
    x = np.arange(N, dtype=np.float32)[:, None]
    ds = kd.ordered_views(x, ordering, lambda b, s: b, batch_size=BATCH, num_epochs=E,
                          steps_per_epoch=STEPS, seed=SEED, initial_epoch=initial_epoch)
    return np.stack([a.numpy()[:, 0] for ((a, _),) in ds]).astype(int)


@pytest.mark.parametrize("name", ["multi_pass", "cumulative", "single_pass", "last", "hybrid"])
def test_pipeline_matches_epoch_indices_and_resume(name):
    ordering = kd.get_ordering(name, **{"hybrid": {"switch_epoch": 3},
                                        "last": {"fraction": 0.5}}.get(name, {}))
    full = _pipeline_indices(ordering, 0)
    assert full.shape == (E * STEPS, BATCH)
    for e in range(E):
        expected = kd.epoch_indices(ordering, e, N, E, STEPS, BATCH, SEED)
        np.testing.assert_array_equal(full[e * STEPS:(e + 1) * STEPS].ravel(), expected)
    resumed = _pipeline_indices(ordering, 2)
    np.testing.assert_array_equal(resumed, full[2 * STEPS:])


def test_resumed_views_equal_uninterrupted_views():
    x = np.random.default_rng(0).random((N, 4)).astype(np.float32)
    noise = kd.isotropic_noise(1.0)
    kwargs = dict(batch_size=BATCH, num_epochs=E, steps_per_epoch=STEPS, seed=SEED)
    full = [a.numpy() for ((a, _),) in kd.ordered_views(x, "cumulative", noise, **kwargs)]
    resumed = [a.numpy() for ((a, _),) in
               kd.ordered_views(x, "cumulative", noise, initial_epoch=3, **kwargs)]
    np.testing.assert_array_equal(np.stack(resumed), np.stack(full[3 * STEPS:]))


def test_pipeline_takes_labels_from_pair_for_class_order():
    x = np.arange(N, dtype=np.float32)[:, None]
    y = np.arange(N) % 5
    ds = kd.ordered_views((x, y), kd.SinglePass(order="class"), lambda b, s: b,
                          batch_size=10, num_epochs=5, steps_per_epoch=2)
    first = np.concatenate([a.numpy()[:, 0] for ((a, _),) in ds.take(2)]).astype(int)
    assert set(y[first].tolist()) == {0}


def test_model_fit_with_steps_per_epoch_and_initial_epoch():
    import keras

    x = np.random.default_rng(0).random((64, 4)).astype(np.float32)
    inputs = (keras.Input((4,)), keras.Input((4,)))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, keras.layers.Subtract()([dense(inputs[0]), dense(inputs[1])]))
    model.compile(optimizer="sgd", loss=lambda y, z: keras.ops.mean(z ** 2))
    ds = kd.ordered_views(x, "single_pass", kd.isotropic_noise(0.1), batch_size=8,
                          num_epochs=4, steps_per_epoch=3, initial_epoch=1)
    # A zero target via a wrapper so the loss has a y.
    ds = ds.map(lambda views: (views, 0.0))
    history = model.fit(ds, epochs=4, initial_epoch=1, steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 3


@pytest.mark.parametrize("ordering, kwargs", [
    ("single_pass", {"num_epochs": N + 1}),
    ("cumulative", {"num_epochs": N + 1}),
    (kd.Hybrid(switch_epoch=N + 1), {"num_epochs": 3}),
])
def test_more_chunks_than_examples_is_clear_error(ordering, kwargs):
    with pytest.raises(ValueError, match="chunks.*use fewer epochs"):
        kd.epoch_indices(ordering, 0, N, steps_per_epoch=1, batch_size=1, **kwargs)
    with pytest.raises(ValueError, match="use fewer epochs"):
        kd.ordered_views(np.zeros((N, 2)), ordering, lambda b, s: b, batch_size=4, **kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda: kd.get_ordering("random_walk"), "ordering"),
    (lambda: kd.Last(0.0), "fraction"),
    (lambda: kd.Hybrid(0), "switch_epoch"),
    (lambda: kd.Hybrid(40, num_chunks=39), "num_chunks"),
    (lambda: kd.MultiPass(order="alphabetical"), "order"),
    (lambda: kd.epoch_indices("multi_pass", 5, N, 5, 1, 1), "epoch"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=f"argument `{match}`"):
        call()


def test_config_round_trip():
    for ordering in (kd.MultiPass(), kd.Hybrid(40, order="class"),
                     kd.Hybrid(40, num_chunks=100), kd.Last(0.25)):
        again = kd.get_ordering(ordering.name, **ordering.get_config())
        assert again.get_config() == ordering.get_config()
