"""Tests of keras_collapse.theory.landscape (Ziyin et al. 2023, arXiv 2210.00638).

Each curvature is checked against an independent NumPy reference: the loss
written from its formula in NumPy and differentiated twice by a central finite
difference on the same sampled views, and against the closed forms whose
derivation is in the module docstring (restated in each test).
"""

import functools

import numpy as np
import pytest

import keras_collapse as kc
from keras_collapse.theory import landscape as L


def np_spectral(za, zb):
    n = za.shape[0]
    p = za @ zb.T
    return -2 * np.mean(np.sum(za * zb, 1)) + (np.sum(p**2) - np.sum(np.diag(p) ** 2)) / (n * (n - 1))


def np_info_nce_dot(za, zb, tau):
    def one(a, b):
        logits = a @ b.T / tau
        m = logits.max(1, keepdims=True)
        lse = np.log(np.exp(logits - m).sum(1)) + m[:, 0]
        return lse - np.diag(logits)
    return np.mean(0.5 * (one(za, zb) + one(zb, za)))


def fd_curvature(np_loss, views_a, views_b, k, output_dim=8, h=1e-2):
    """Central second difference of mean_b loss(ε x_k e_1) in float64."""
    def value(eps):
        out = []
        for xa, xb in zip(views_a.astype(np.float64), views_b.astype(np.float64)):
            za = np.zeros((xa.shape[0], output_dim)); zb = np.zeros_like(za)
            za[:, 0] = eps * xa[:, k]; zb[:, 0] = eps * xb[:, k]
            out.append(np_loss(za, zb))
        return np.mean(out)
    return (value(h) - 2 * value(0.0) + value(-h)) / h**2


@pytest.fixture(scope="module")
def views():
    s = np.array([1.0, 0.25, 0.0])
    a = np.array([0.5, 2.0, 1.0])
    return s, a, L.gaussian_views(s, a, batch_size=128, num_batches=4, seed=3)


def test_spectral_autodiff_matches_numpy_finite_difference(views):
    """Spectral: the cross term is O(ε⁴), so d²/dε² = −4 mean(y y') exactly."""
    s, a, (va, vb) = views
    ad = L.curvature_at_origin(kc.losses.spectral_contrastive, va, vb)
    ref = [fd_curvature(np_spectral, va, vb, k) for k in range(3)]
    np.testing.assert_allclose(ad, ref, rtol=1e-3, atol=1e-3)
    y = [np.mean(va[..., k] * vb[..., k]) for k in range(3)]
    np.testing.assert_allclose(ad, -4 * np.array(y), rtol=1e-4, atol=1e-5)
    # per_batch: each batch's −4 mean(y y'), the batches of `va` (4 of them).
    each = L.curvature_at_origin(kc.losses.spectral_contrastive, va, vb, per_batch=True)
    assert each.shape == (3, 4)
    np.testing.assert_allclose(each, -4 * np.mean(va * vb, axis=1).T, rtol=1e-4, atol=1e-5)


def test_info_nce_autodiff_matches_numpy_finite_difference(views):
    s, a, (va, vb) = views
    fn = functools.partial(kc.losses.info_nce, temperature=0.5)
    ad = L.curvature_at_origin(fn, va, vb, weight_decay=0.2)
    ref = [fd_curvature(lambda p, q: np_info_nce_dot(p, q, 0.5), va, vb, k) + 0.4 for k in range(3)]
    np.testing.assert_allclose(ad, ref, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("loss,fn,kwargs,scale", [
    ("spectral_contrastive", kc.losses.spectral_contrastive, {}, 1.0),
    ("info_nce", functools.partial(kc.losses.info_nce, temperature=0.5), {"temperature": 0.5}, 1.0),
    ("info_nce", functools.partial(kc.losses.info_nce, temperature=0.5, similarity="gaussian"),
     {"temperature": 0.5}, 1.0),
    ("nt_xent", functools.partial(kc.losses.nt_xent, temperature=0.5), {"temperature": 0.5}, 1e12),
    ("barlow_twins", kc.losses.barlow_twins, {}, 1e5),
    ("vicreg", kc.losses.vicreg, {}, 100.0),
])
def test_closed_form_matches_autodiff_in_expectation(loss, fn, kwargs, scale):
    """Closed forms (module docstring) vs autodiff on 16 batches of 256.

    The autodiff estimate is a sample mean whose error is about
    scale·√((s+a)²/n) with n = 4096 pairs: a tolerance of 0.12·scale·(1 + a).
    """
    s = np.array([1.0, 0.3, 0.0]); a = np.array([0.5, 1.5, 1.0])
    va, vb = L.gaussian_views(s, a, batch_size=256, num_batches=16, seed=0)
    ad = L.curvature_at_origin(fn, va, vb, output_dim=8)
    cf = L.closed_form_curvature(loss, s, a, batch_size=256, output_dim=8, **kwargs)
    np.testing.assert_allclose(ad, cf, atol=0.12 * scale * (1 + a.max()) * (4 if loss == "vicreg" else 1))


def test_closed_forms_hand_values():
    """Spectral −4s+2γ; InfoNCE −2(1−1/N)s/τ+2γ; VICReg [4λa − μ(s+a)/√ε]/m + 2γ.

    s = [1, 0], a = [1, 1], γ = 0.5, N = 2, τ = 0.5, m = 2, λ = μ = 1, ε = 0.01:
    spectral [−3, 1]; InfoNCE [−2·½·1/½ + 1, 1] = [−1, 1];
    VICReg [(4 − 20)/2 + 1, (4 − 10)/2 + 1] = [−7, −2].
    """
    kw = dict(weight_decay=0.5, batch_size=2)
    np.testing.assert_allclose(L.closed_form_curvature("spectral_contrastive", [1, 0], [1, 1], **kw), [-3, 1])
    np.testing.assert_allclose(L.closed_form_curvature("info_nce", [1, 0], [1, 1], temperature=0.5, **kw), [-1, 1])
    np.testing.assert_allclose(L.closed_form_curvature(
        "vicreg", [1, 0], [1, 1], output_dim=2, invariance_weight=1.0, variance_weight=1.0,
        epsilon=0.01, **kw), [-7, -2])


def test_secant_approaches_hessian(views):
    s, a, (va, vb) = views
    hess = L.curvature_at_origin(kc.losses.spectral_contrastive, va, vb)
    sec = L.curvature_at_origin(kc.losses.spectral_contrastive, va, vb, radius=1e-2)
    np.testing.assert_allclose(sec, hess, atol=5e-3)


def test_gaussian_views_statistics():
    va, vb = L.gaussian_views([2.0, 0.0], [0.5, 1.0], batch_size=4000, num_batches=1, seed=1)
    np.testing.assert_allclose(np.mean(va[0] * vb[0], 0), [2.0, 0.0], atol=0.15)
    np.testing.assert_allclose(va[0].var(0), [2.5, 1.0], atol=0.15)


def test_learned_directions_and_agreement():
    kernel = np.array([[1.0, 0.0], [0.0, 0.05], [0.3, 0.4]])
    np.testing.assert_allclose(L.direction_norms(kernel), [1.0, 0.05, 0.5])
    assert L.learned_directions(kernel, rtol=0.1).tolist() == [True, False, True]
    assert L.learned_directions(np.zeros((3, 2))).tolist() == [False] * 3
    assert L.predict_learned([-0.1, 0.0, 0.1]).tolist() == [True, False, False]
    assert L.agreement_rate([True, False, True, True], [True, True, True, False]) == 0.5


def test_errors():
    with pytest.raises(ValueError, match="data_variance"):
        L.gaussian_views([-1.0], [1.0])
    with pytest.raises(ValueError, match="loss"):
        L.closed_form_curvature("byol", [1.0], [1.0])
    with pytest.raises(ValueError, match="views_a"):
        L.curvature_at_origin(kc.losses.spectral_contrastive, np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(TypeError, match="loss_fn"):
        L.curvature_at_origin("spectral", np.ones((1, 2, 3)), np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="predicted"):
        L.agreement_rate([True], [True, False])


def test_exported_from_theory_package():
    import keras_collapse.theory as theory
    for name in L.__all__:
        assert getattr(theory, name) is getattr(L, name)
