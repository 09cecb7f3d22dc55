"""Property-based tests (hypothesis) of the objectives and the collapse metrics.

Random shapes (batch 2..64, dim 1..32), scales 1e-3..1e4 and degenerate inputs
(all zeros, duplicated rows, rank 1, constant columns) must give finite losses
with finite gradients with respect to the embeddings, and finite metrics inside
their documented ranges; what the package documents as invalid (batch < 2 for
contrastive objectives, NaN/Inf embeddings for the metrics) must raise the
documented ValueError.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_collapse as kc

L = kc.losses
M = kc.metrics

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

KINDS = ("random", "zeros", "duplicated_rows", "rank_1", "constant_columns", "same_views")

#: (id, objective on (z_a, z_b), contrastive: needs a batch of 2)
OBJECTIVES = [
    ("infonce_dot", lambda a, b: L.info_nce(a, b, temperature=0.1), True),
    ("infonce_dot_tau0.01", lambda a, b: L.info_nce(a, b, 0.01, symmetric=False), True),
    ("infonce_gaussian", lambda a, b: L.info_nce(a, b, 0.5, similarity="gaussian"), True),
    ("ntxent", lambda a, b: L.nt_xent(a, b, temperature=0.1), True),
    ("spectral", L.spectral_contrastive, True),
    ("barlow_twins", L.barlow_twins, True),
    ("vicreg", L.vicreg, True),
    ("simsiam", L.simsiam, False),
    ("byol", L.byol, False),
    ("simsiam_pairs", lambda a, b: L.simsiam((a, b), (b, a)), False),
    ("byol_pairs", lambda a, b: L.byol((a, b), (b, a)), False),
]
CLASSES = [L.InfoNCE(0.1), L.InfoNCE(0.5, "gaussian"), L.NTXent(0.1), L.SpectralContrastive(),
           L.BarlowTwins(), L.VICReg(), L.SimSiam(), L.BYOL()]


@st.composite
def embedding_pairs(draw, min_batch=2, max_batch=64, max_dim=32):
    """Two views `(n, d)` float32 of one kind, scale and shape."""
    n = draw(st.integers(min_batch, max_batch))
    d = draw(st.integers(1, max_dim))
    scale = 10.0 ** draw(st.floats(-3.0, 4.0))
    kind = draw(st.sampled_from(KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z_a = rng.normal(size=(n, d))
    z_b = z_a + 0.3 * rng.normal(size=(n, d))
    if kind == "zeros":
        z_a, z_b = np.zeros((n, d)), np.zeros((n, d))
    elif kind == "duplicated_rows":
        z_a, z_b = np.tile(z_a[:1], (n, 1)), np.tile(z_b[:1], (n, 1))
    elif kind == "rank_1":
        u, v = rng.normal(size=(n, 1)), rng.normal(size=(1, d))
        z_a, z_b = u @ v, (u + 0.1 * rng.normal(size=(n, 1))) @ v
    elif kind == "constant_columns":
        columns = rng.random(d) < 0.5
        z_a[:, columns], z_b[:, columns] = 1.0, 1.0
    elif kind == "same_views":
        z_b = z_a
    return kind, (scale * z_a).astype("float32"), (scale * z_b).astype("float32")


def _loss_and_gradients(fn, z_a, z_b):
    z_a, z_b = tf.constant(z_a), tf.constant(z_b)
    with tf.GradientTape() as tape:
        tape.watch([z_a, z_b])
        loss = tf.reduce_mean(fn(z_a, z_b))
    return loss.numpy(), [g.numpy() for g in tape.gradient(loss, [z_a, z_b]) if g is not None]


# ------------------------------------------------------------------ objectives
@SETTINGS
@given(embedding_pairs())
def test_objectives_and_their_gradients_are_finite(example):
    kind, z_a, z_b = example
    for name, fn, _ in OBJECTIVES:
        loss, grads = _loss_and_gradients(fn, z_a, z_b)
        assert np.isfinite(loss), (name, kind, loss)
        assert grads, name
        for g in grads:
            assert g.shape == z_a.shape
            assert np.all(np.isfinite(g)), (name, kind)


@SETTINGS
@given(embedding_pairs(max_batch=16, max_dim=8))
def test_loss_classes_are_finite_and_float32(example):
    _, z_a, z_b = example
    for loss in CLASSES:
        value = loss(z_a, z_b)
        assert value.dtype == tf.float32 and value.shape == ()
        assert np.isfinite(value.numpy()), type(loss).__name__


@SETTINGS
@given(embedding_pairs(min_batch=1, max_batch=1))
def test_contrastive_objectives_reject_a_batch_of_one(example):
    _, z_a, z_b = example
    for name, fn, contrastive in OBJECTIVES:
        if contrastive:
            with pytest.raises(ValueError, match=r"needs a batch of at least 2 examples"):
                fn(z_a, z_b)
        else:  # Siamese objectives are per example: one is enough
            loss, grads = _loss_and_gradients(fn, z_a, z_b)
            assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads)


@SETTINGS
@given(embedding_pairs(max_batch=16, max_dim=8), st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_embeddings_give_non_finite_loss_not_a_crash(example, bad):
    """Losses do not check values (it would cost a sync per step); NaN/Inf
    propagate to the loss, where NonFiniteGuard catches them."""
    _, z_a, z_b = example
    z_a = z_a.copy()
    z_a[0, 0] = bad
    for name, fn, _ in OBJECTIVES:
        value = np.asarray(fn(z_a, z_b))
        assert not np.all(np.isfinite(value)), name


# --------------------------------------------------------------------- metrics
def _check_metrics(z):
    n, d = z.shape
    spectrum = M.covariance_spectrum(z)
    assert spectrum.shape == (d,) and np.all(np.isfinite(spectrum)) and np.all(spectrum >= 0)
    assert np.all(np.diff(spectrum) <= 1e-12 * max(spectrum[0], 1e-300))
    erank = M.effective_rank(z)
    assert np.isfinite(erank) and 0.0 <= erank <= min(n, d) * (1 + 1e-9)
    rme = M.rankme(z)
    assert np.isfinite(rme) and 0.0 <= rme <= min(n, d) * (1 + 1e-5)
    area = M.auc(z)
    assert np.isfinite(area) and (d + 1) / (2 * d) - 1e-9 <= area <= 1.0 + 1e-9
    collapsed = M.collapsed_dimensions(z)
    assert isinstance(collapsed, int) and 0 <= collapsed <= d
    std = M.normalized_std(z)
    assert np.isfinite(std) and 0.0 <= std <= 1.0 + 1e-6
    return spectrum, erank, rme, area, collapsed, std


@SETTINGS
@given(embedding_pairs())
def test_metrics_are_finite_and_in_range(example):
    kind, z, _ = example
    spectrum, erank, _, area, collapsed, std = _check_metrics(z)
    n, d = z.shape
    if kind == "zeros":
        assert erank == 0.0 and collapsed == d and area == 1.0 and std == 0.0
        assert M.is_completely_collapsed(z)
    if kind == "duplicated_rows":
        assert M.is_completely_collapsed(z)
        assert erank <= 1.0 + 1e-6 and area == pytest.approx(1.0)
    if kind == "rank_1":
        assert erank <= 1.0 + 1e-6
        assert collapsed >= d - 1
    if kind == "constant_columns":
        constant = int(np.sum(np.all(z == z[:1], axis=0)))
        assert collapsed >= constant
        assert erank <= d - constant + 1e-6


@SETTINGS
@given(embedding_pairs(), st.integers(0, 2**32 - 1))
def test_streaming_accumulator_matches_one_shot(example, seed):
    """Random chunking, and merging two accumulators, give the one-shot spectrum."""
    _, z, _ = example
    n = z.shape[0]
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, n), size=min(3, n - 1),
                                                      replace=False))
    streamed = M.CovarianceAccumulator()
    for chunk in np.split(z, cuts):
        streamed.update(chunk)
    half = int(cuts[0])
    merged = M.CovarianceAccumulator().update(z[:half]).merge(
        M.CovarianceAccumulator().update(z[half:]))
    one_shot = M.covariance_spectrum(z)
    top = max(float(one_shot[0]), 1e-30)
    for acc in (streamed, merged):
        assert acc.count == n
        spectrum = acc.spectrum()
        assert np.all(np.isfinite(spectrum))
        # float32 products: agreement to rounding of the largest eigenvalue
        np.testing.assert_allclose(spectrum, one_shot, rtol=0, atol=1e-4 * top)
        np.testing.assert_allclose(acc.mean, z.astype(np.float64).mean(0), rtol=1e-5,
                                   atol=1e-5 * np.abs(z).max() + 1e-30)
        assert M.normalized_std(acc) == pytest.approx(M.normalized_std(z), abs=1e-5)
        _check_metrics_on_accumulator(acc, z.shape)


def _check_metrics_on_accumulator(acc, shape):
    n, d = shape
    assert 0.0 <= M.effective_rank(acc) <= min(n, d) * (1 + 1e-9)
    assert 0.0 <= M.rankme(acc) <= min(n, d) * (1 + 1e-5)
    assert (d + 1) / (2 * d) - 1e-9 <= M.auc(acc) <= 1.0 + 1e-9
    assert 0 <= M.collapsed_dimensions(acc) <= d


METRICS = [M.covariance_spectrum, M.effective_rank, M.rankme, M.auc, M.collapsed_dimensions,
           M.normalized_std, M.covariance, M.is_completely_collapsed,
           lambda z: M.CovarianceAccumulator().update(z)]


@SETTINGS
@given(embedding_pairs(max_batch=16, max_dim=8), st.sampled_from([np.nan, np.inf, -np.inf]),
       st.integers(0, 2**32 - 1))
def test_metrics_reject_non_finite_embeddings(example, bad, seed):
    _, z, _ = example
    z = z.copy()
    rng = np.random.default_rng(seed)
    z[rng.integers(z.shape[0]), rng.integers(z.shape[1])] = bad
    for metric in METRICS:
        with pytest.raises(ValueError, match=r"Expected finite embeddings \(no NaN or Inf\)"
                                             r".*1 non-finite values"):
            metric(z)
    with pytest.raises(ValueError, match=r"finite embeddings"):
        M.CovarianceAccumulator().update(np.ones_like(z)).update(z)


@SETTINGS
@given(st.integers(1, 32), st.sampled_from(["float16", "float32", "float64", "int32"]))
def test_metrics_accept_any_real_dtype_and_a_single_sample(d, dtype):
    z = np.arange(d, dtype="float64").reshape(1, d).astype(dtype)
    _, erank, _, area, collapsed, _ = _check_metrics(z)
    assert erank == 0.0 and collapsed == d and area == 1.0
