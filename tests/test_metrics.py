"""Tests of keras_collapse.metrics against NumPy references written from the papers."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_collapse import metrics as km


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- independent references (from the formulas, via an SVD of the N×d matrix)

def ref_entropy_rank(sigma, eps=0.0):
    p = sigma / sigma.sum() + eps
    return np.exp(-np.sum(p * np.log(p)))


def ref_effective_rank(z):
    sigma = np.linalg.svd(z - z.mean(0), compute_uv=False)
    sigma = sigma[sigma > 1e-12 * sigma[0]]
    return ref_entropy_rank(sigma)


def ref_rankme(z):
    return ref_entropy_rank(np.linalg.svd(z, compute_uv=False), 1e-7)


def ref_auc(z):
    sigma = np.linalg.svd(z - z.mean(0), compute_uv=False)
    return np.mean(np.cumsum(sigma) / sigma.sum())


def ref_normalized_std(z):
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    return np.mean(np.std(u, axis=0))


def low_rank(n, d, k, seed=0, scale=None):
    """n samples spanning exactly k orthonormal directions in R^d (+ an offset)."""
    rng = _rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, k)))[0]
    coeffs = rng.normal(size=(n, k))
    coeffs = (coeffs - coeffs.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(coeffs.T, bias=True)))).T
    if scale is not None:
        coeffs = coeffs * scale
    return coeffs @ basis.T + rng.normal(size=d)


# ---- accumulator / spectrum

def test_streamed_statistics_equal_one_shot():
    z = _rng().normal(size=(1000, 16)) * np.linspace(0.1, 3, 16) + 50.0
    acc = km.CovarianceAccumulator()
    for start in range(0, 1000, 128):
        acc.update(z[start:start + 128])
    zc = z - z.mean(0)
    np.testing.assert_allclose(acc.mean, z.mean(0), rtol=1e-12)
    np.testing.assert_allclose(acc.covariance(), zc.T @ zc / 1000, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(acc.second_moment(), z.T @ z / 1000, rtol=1e-10)
    np.testing.assert_allclose(acc.spectrum(), np.sort(np.linalg.eigvalsh(zc.T @ zc / 1000))[::-1],
                               rtol=1e-9)
    one_shot = km.CovarianceAccumulator().update(z)
    for fn in (km.effective_rank, km.rankme, km.auc, km.normalized_std, km.collapsed_dimensions):
        assert fn(acc) == pytest.approx(fn(one_shot), rel=1e-9)
        assert fn(acc) == pytest.approx(fn(z), rel=1e-9)


def test_chunk_buffer_boundaries_and_dtype_changes(monkeypatch):
    """Batches that fill the chunk buffer exactly, overflow it, exceed it, and
    switch between float32 and float64 all give the one-shot statistics."""
    from keras_collapse.metrics import spectrum

    monkeypatch.setattr(spectrum, "_CHUNK_BYTES", 10 * 3 * 8)  # 10 float64 / 20 float32 rows
    z = _rng(7).normal(size=(120, 3)) * np.array([1.0, 0.1, 5.0]) + 2.0
    acc = km.CovarianceAccumulator()
    sizes = [4, 6, 3, 25, 7, 10, 1, 30, 20, 14]
    dtypes = [np.float64, np.float64, np.float32, np.float32, np.float64, np.float64,
              np.float32, np.float64, np.float32, np.float32]
    start = 0
    for size, dtype in zip(sizes, dtypes, strict=True):
        acc.update(z[start:start + size].astype(dtype))
        start += size
    assert start == len(z) == acc.count
    rounded = np.concatenate([z[a:a + n].astype(t).astype(np.float64) for a, n, t in zip(
        np.cumsum([0] + sizes[:-1]), sizes, dtypes)])
    np.testing.assert_allclose(acc.covariance(), np.cov(rounded.T, bias=True), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(acc.mean, rounded.mean(0), rtol=1e-6)


def test_merge_equals_single_pass():
    z = _rng(1).normal(size=(300, 5)) + 3.0
    a = km.CovarianceAccumulator().update(z[:100])
    b = km.CovarianceAccumulator().update(z[100:250]).update(z[250:])
    a.merge(b).merge(km.CovarianceAccumulator())
    assert a.count == 300
    np.testing.assert_allclose(a.covariance(), np.cov(z.T, bias=True), atol=1e-12)
    np.testing.assert_allclose(a.second_moment(), z.T @ z / 300, rtol=1e-12)
    assert a.normalized_std() == pytest.approx(ref_normalized_std(z), rel=1e-10)


def test_float32_large_mean_keeps_small_variances():
    """Shifted sums: mean 1000, std 1e-2 survives float32 products."""
    z = (_rng(2).normal(size=(4096, 4)) * 1e-2 + 1000.0).astype(np.float32)
    expected = np.cov(z.astype(np.float64).T, bias=True)
    acc = km.CovarianceAccumulator()
    for start in range(0, 4096, 512):
        acc.update(z[start:start + 512])
    np.testing.assert_allclose(acc.covariance(), expected, rtol=1e-3, atol=1e-9)


def test_covariance_hand_example():
    """z = (±3, 0), (0, ±1): C = diag(9/2, 1/2)."""
    z = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    np.testing.assert_allclose(km.covariance(z), np.diag([4.5, 0.5]))
    np.testing.assert_allclose(km.covariance_spectrum(z), [4.5, 0.5])


# ---- ranks

@pytest.mark.parametrize("k", [1, 3, 7])
def test_rank_k_data_gives_k_used_dimensions(k):
    d = 12
    z = low_rank(500, d, k)
    assert km.collapsed_dimensions(z) == d - k
    assert km.effective_rank(z) == pytest.approx(k, rel=1e-9)


def test_effective_rank_and_rankme_match_svd_reference():
    z = _rng(3).normal(size=(200, 10)) * np.geomspace(1, 1e-3, 10) + 0.5
    assert km.effective_rank(z) == pytest.approx(ref_effective_rank(z), rel=1e-8)
    assert km.rankme(z) == pytest.approx(ref_rankme(z), rel=1e-8)
    # fewer samples than dims: RankMe uses the min(N, d) singular values
    small = _rng(4).normal(size=(5, 20))
    assert km.rankme(small) == pytest.approx(ref_rankme(small), rel=1e-8)


def test_rankme_is_uncentred_effective_rank_is_centred():
    """One direction of variation around a far offset: erank 1, RankMe ~2."""
    z = np.zeros((100, 3))
    z[:, 0] = np.linspace(-1, 1, 100)
    z[:, 1] = 10.0
    assert km.effective_rank(z) == pytest.approx(1.0)
    assert 1.2 < km.rankme(z) < 2.0
    assert km.rankme(z) == pytest.approx(ref_rankme(z), rel=1e-8)


def test_auc_isotropic_gaussian():
    d = 32
    z = _rng(5).normal(size=(20000, d))
    assert km.auc(z) == pytest.approx((d + 1) / (2 * d), abs=0.01)
    assert km.auc(z) == pytest.approx(ref_auc(z), rel=1e-8)


def test_auc_one_direction_is_one():
    z = np.outer(_rng(6).normal(size=50), _rng(7).normal(size=8)) + 2.0
    assert km.auc(z) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(km.cumulative_explained_variance(z), np.ones(8), atol=1e-6)


def test_auc_hand_example():
    """σ ∝ (3, 1): e = (3/4, 1), AUC = 7/8."""
    z = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    np.testing.assert_allclose(km.cumulative_explained_variance(z), [0.75, 1.0])
    assert km.auc(z) == pytest.approx(0.875)


def test_normalized_std():
    d = 64
    z = _rng(8).normal(size=(20000, d))
    assert km.normalized_std(z) == pytest.approx(1 / np.sqrt(d), rel=0.02)
    assert km.normalized_std(z) == pytest.approx(ref_normalized_std(z), rel=1e-9)
    assert km.normalized_std(np.ones((10, 4))) == pytest.approx(0.0, abs=1e-7)


def test_complete_collapse():
    z = np.tile(_rng(9).normal(size=(1, 6)), (20, 1)).astype(np.float32)
    assert km.is_completely_collapsed(z)
    assert km.collapsed_dimensions(z) == 6
    assert km.auc(z) == 1.0
    assert km.effective_rank(z) == 0.0
    assert not km.is_completely_collapsed(_rng(9).normal(size=(20, 6)))


def test_collapsed_dimensions_rtol():
    z = _rng(10).normal(size=(1000, 3)) * [1.0, 1e-2, 1e-4]  # λ ≈ 1, 1e-4, 1e-8
    assert km.collapsed_dimensions(z) == 1
    assert km.collapsed_dimensions(z, rtol=1e-3) == 2
    assert km.collapsed_dimensions(z, rtol=1e-10) == 0


def test_log_spectrum_floors_zeros():
    out = km.log_spectrum([1.0, 0.0])
    assert out[0] == 0.0 and np.isfinite(out[1]) and out[1] < -30


# ---- bad inputs

@pytest.mark.parametrize("bad, match", [
    (np.zeros((0, 3)), r"argument `z`.*at least one sample.*\(0, 3\)"),
    (np.zeros(5), r"argument `z`.*rank 2.*\(5,\)"),
    (np.zeros((2, 3, 4)), r"argument `z`.*rank 2.*\(2, 3, 4\)"),
    (np.array([[1.0, np.nan], [0.0, np.inf]]), r"argument `z`.*finite.*2 non-finite"),
])
def test_bad_embeddings(bad, match):
    with pytest.raises(ValueError, match=match):
        km.effective_rank(bad)


def test_accumulator_errors():
    acc = km.CovarianceAccumulator()
    with pytest.raises(ValueError, match="empty CovarianceAccumulator"):
        acc.spectrum()
    acc.update(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"argument `batch`.*dim 3.*\(2, 4\)"):
        acc.update(np.ones((2, 4)))
    with pytest.raises(ValueError, match="argument `rtol`"):
        km.collapsed_dimensions(np.eye(3), rtol=-1.0)


# ---- weights and alignment

def test_weight_singular_values_dense_and_conv():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.Flatten(), keras.layers.Dense(5, name="dense")],
                             name="net")
    sv = km.weight_singular_values(model)
    assert list(sv) == ["net/conv", "net/dense"]
    conv = model.get_layer("conv").kernel.numpy().reshape(18, 4)
    np.testing.assert_allclose(sv["net/conv"], np.linalg.svd(conv, compute_uv=False), rtol=1e-5)
    assert sv["net/dense"].shape == (5,)


def aligned_pair(d=5, seed=0):
    """W1 = U S1 Vᵀ, W2 = Q S2 Uᵀ (so V_2 = U_1): A = I; Keras kernels are Wᵀ."""
    rng = _rng(seed)
    u, v, q = (np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(3))
    w1 = u @ np.diag(np.arange(d, 0, -1.0)) @ v.T
    w2 = q @ np.diag(np.arange(2 * d, d, -1.0)) @ u.T
    return w1, w2


def test_alignment_of_aligned_pair_is_identity():
    w1, w2 = aligned_pair()
    np.testing.assert_allclose(km.alignment_matrix(w1, w2), np.eye(5), atol=1e-10)
    assert km.alignment_score(km.alignment_matrix(w1, w2)) == pytest.approx(1.0)
    # through a Keras model: Dense kernels K = Wᵀ
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(5, use_bias=False),
                              keras.layers.Dense(5, use_bias=False)])
    model.layers[0].kernel.assign(w1.T)
    model.layers[1].kernel.assign(w2.T)
    (pair, a), = km.alignment_matrices(model).items()
    assert "->" in pair
    np.testing.assert_allclose(a, np.eye(5), atol=1e-5)


def test_alignment_of_random_pair_is_small():
    rng = _rng(1)
    a = km.alignment_matrix(rng.normal(size=(64, 64)), rng.normal(size=(64, 64)))
    assert km.alignment_score(a) < 0.3


def test_alignment_shape_mismatch():
    with pytest.raises(ValueError, match=r"argument `w_second`.*\(3, 4\)"):
        km.alignment_matrix(np.ones((5, 3)), np.ones((3, 4)))


# ---- spectrum_report

class _Siamese:
    """Duck-typed stand-in for kc.models.SiameseModel (encoder + head)."""

    def __init__(self):
        self.encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="h1"),
                                         keras.layers.Dense(4, name="rep")], name="enc")
        self.head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="proj")],
                                     name="head")


def test_report_on_embeddings_matches_metrics():
    z = _rng(11).normal(size=(300, 6)) * [3, 2, 1, 0.5, 0, 0]
    report = km.spectrum_report(None, z, batch_size=64)
    assert report.num_samples == 300
    assert report.effective_rank == pytest.approx(ref_effective_rank(z), rel=1e-8)
    assert report.rankme == pytest.approx(ref_rankme(z), rel=1e-8)
    assert report.auc == pytest.approx(ref_auc(z), rel=1e-8)
    assert report.collapsed_dims == 2
    d = report.to_dict()
    json.dumps(d)
    assert d["collapsed_dims"] == 2 and len(d["eigenvalues"]) == 6


def test_report_siamese_outputs_and_layers():
    keras.utils.set_random_seed(0)
    model = _Siamese()
    x = _rng(12).normal(size=(100, 6)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(100))).batch(32)
    rep = km.spectrum_report(model, ds, output="representation")
    emb = km.spectrum_report(model, ds, output="embedding")
    assert rep.eigenvalues.shape == (4,) and emb.eigenvalues.shape == (3,)
    z_rep = model.encoder(x).numpy()
    assert rep.effective_rank == pytest.approx(ref_effective_rank(z_rep.astype(np.float64)), rel=1e-4)
    assert list(rep.weight_singular_values) == ["enc/h1", "enc/rep"]
    assert list(emb.weight_singular_values) == ["enc/h1", "enc/rep", "head/proj"]
    assert len(emb.alignment) == 2
    by_layer = km.spectrum_report(model, x, layer="h1")
    assert by_layer.eigenvalues.shape == (8,)
    h1 = model.encoder.get_layer("h1")
    z_h1 = x @ h1.kernel.numpy() + h1.bias.numpy()
    assert by_layer.effective_rank == pytest.approx(ref_effective_rank(z_h1.astype(np.float64)),
                                                    rel=1e-4)
    fig = emb.figure()
    assert len(fig.axes) == 3


def test_report_bad_inputs():
    model = _Siamese()
    with pytest.raises(ValueError, match=r"argument `dataset`.*non-empty"):
        km.spectrum_report(model.encoder, np.zeros((0, 6), np.float32))
    with pytest.raises(ValueError, match=r"argument `dataset`.*non-empty"):
        km.spectrum_report(model.encoder, tf.data.Dataset.from_tensor_slices(np.zeros((0, 6))).batch(4))
    with pytest.raises(ValueError, match=r"argument `layer`.*\['h1', 'rep'\].*nope"):
        km.spectrum_report(model, np.zeros((4, 6)), layer="nope")
    with pytest.raises(ValueError, match=r"argument `output`.*'embedding', 'representation'"):
        km.spectrum_report(model, np.zeros((4, 6)), output="logits")
    with pytest.raises(ValueError, match=r"argument `dataset`.*finite.*1 non-finite"):
        km.spectrum_report(None, np.array([[1.0, np.nan], [1.0, 2.0]]))
    conv = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"argument `embeddings`.*rank 2.*\(3, 2, 2, 2\)"):
        km.spectrum_report(conv, np.zeros((3, 4, 4, 1), np.float32))


def test_normalized_auc_endpoints():
    """Hand-derived: a flat spectrum has AUC (d+1)/(2d) -> 0; complete collapse
    AUC = 1 -> 1; halfway between -> 0.5."""
    assert km.normalized_auc(9 / 16, 8) == pytest.approx(0.0)
    assert km.normalized_auc(1.0, 8) == pytest.approx(1.0)
    assert km.normalized_auc((9 / 16 + 1.0) / 2, 8) == pytest.approx(0.5)
    np.testing.assert_allclose(km.normalized_auc(np.array([9 / 16, 1.0]), 8), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"argument `dim`.*integer >= 2.*Received: dim=1"):
        km.normalized_auc(0.7, 1)
    flat = np.vstack([np.eye(8), -np.eye(8)])  # ±e_i: eight equal singular values
    assert km.normalized_auc(km.auc(flat), 8) == pytest.approx(0.0, abs=1e-9)


def test_report_singular_values_are_those_of_the_centred_matrix():
    z = np.random.default_rng(0).normal(size=(500, 4)) @ np.diag([1.0, 2.0, 3.0, 0.0])
    report = km.spectrum_report(None, z)
    expected = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(report.singular_values, expected, rtol=1e-9, atol=1e-9)
    assert report.to_dict()["singular_values"] == pytest.approx(expected.tolist(), abs=1e-9)
    assert report.collapsed_dims == 1
