"""keras_collapse.theory.strong_augmentation (Jing et al. 2022, arXiv 2110.09348)."""

import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
from keras_collapse.theory import strong_augmentation as sa


def _data(seed=0, n=7, d=4, d_out=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x_prime = x + rng.normal(size=(n, d)) * np.r_[0.0, 0.0, 1.5, 1.5]
    w = 0.5 * rng.normal(size=(d_out, d))
    return w, x, x_prime


def _reference_terms(w, x, x_prime, tau):
    """Lemma 2 with explicit loops, α from the paper's Gaussian similarity."""
    n, d = x.shape
    z, zp = x @ w.T, x_prime @ w.T
    sigma0, sigma1 = np.zeros((d, d)), np.zeros((d, d))
    for i in range(n):
        logits = [(-np.sum((z[i] - zp[i]) ** 2) if j == i else -np.sum((z[i] - z[j]) ** 2))
                  / (2 * tau) for j in range(n)]
        e = np.exp(np.array(logits) - max(logits))
        alpha = e / e.sum()
        for j in range(n):
            diff = x[i] - x[j]
            sigma0 += alpha[j] * np.outer(diff, diff)
        aug = x_prime[i] - x[i]
        sigma1 += (1 - alpha[i]) * np.outer(aug, aug)
    return sigma0 / tau, sigma1 / tau


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_lemma2_terms_match_explicit_loops(tau):
    w, x, x_prime = _data()
    sigma0, sigma1 = sa.strong_augmentation_terms(w, x, x_prime, tau, "gaussian")
    ref0, ref1 = _reference_terms(w, x, x_prime, tau)
    np.testing.assert_allclose(sigma0, ref0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sigma1, ref1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sa.strong_augmentation_x(w, x, x_prime, tau), ref0 - ref1,
                               rtol=1e-10, atol=1e-12)
    # Both terms are PSD (Lemma 2).
    assert np.linalg.eigvalsh(sigma0).min() > -1e-9
    assert np.linalg.eigvalsh(sigma1).min() > -1e-9


def test_hand_derived_two_point_case():
    """W = 0 makes every similarity equal, so α_ij = 1/2 for both rows.

    x_1 = (1, 0), x_2 = (−1, 0); x'_i = x_i ± (0, 3).
    Σ̂0 = ½(x1 − x2)(x1 − x2)ᵀ + ½(x2 − x1)(x2 − x1)ᵀ = diag(4, 0).
    Σ̂1 = (1 − ½)·9·e2e2ᵀ · 2 = diag(0, 9).  X = diag(4, −9): one collapsing
    direction, e2 (the augmented coordinate).
    """
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    x_prime = x + np.array([[0.0, 3.0], [0.0, -3.0]])
    x_matrix = sa.strong_augmentation_x(np.zeros((2, 2)), x, x_prime)
    np.testing.assert_allclose(x_matrix, np.diag([4.0, -9.0]), atol=1e-12)
    values, vectors = sa.predicted_collapsing_directions(x_matrix)
    np.testing.assert_allclose(values, [-9.0])
    np.testing.assert_allclose(np.abs(vectors[:, 0]), [0.0, 1.0], atol=1e-12)


def test_weak_augmentation_gives_positive_definite_x():
    w, x, _ = _data(n=40)
    x_prime = x + 1e-3 * np.random.default_rng(1).normal(size=x.shape)
    values, _ = sa.predicted_collapsing_directions(sa.strong_augmentation_x(w, x, x_prime))
    assert values.size == 0


@pytest.mark.parametrize("similarity,tau", [("gaussian", 1.0), ("gaussian", 0.4),
                                            ("dot", 0.1), ("dot", 1.0)])
def test_exact_x_matches_autodiff_of_info_nce(similarity, tau):
    """∂L/∂W = −W X for L = Σ_i ℓ_i of kc.losses.info_nce(symmetric=False)."""
    w, x, x_prime = _data(seed=3)
    variable = tf.Variable(w)
    with tf.GradientTape() as tape:
        z = tf.matmul(x, variable, transpose_b=True)
        zp = tf.matmul(x_prime, variable, transpose_b=True)
        loss = tf.reduce_sum(kc.losses.info_nce(z, zp, temperature=tau,
                                                similarity=similarity, symmetric=False))
    grad = tape.gradient(loss, variable).numpy()
    x_matrix = sa.infonce_gradient_x(w, x, x_prime, tau, similarity)
    np.testing.assert_allclose(grad, -w @ x_matrix, rtol=1e-4, atol=1e-4 * np.abs(grad).max())


def test_lemma2_is_the_symmetric_part_of_the_exact_gaussian_x():
    w, x, x_prime = _data(seed=5, n=9)
    exact = sa.infonce_gradient_x(w, x, x_prime, 1.0, "gaussian")
    np.testing.assert_allclose(0.5 * (exact + exact.T), sa.strong_augmentation_x(w, x, x_prime),
                               rtol=1e-9, atol=1e-9)


def test_contrastive_weights_rows_sum_to_one_and_dot_form():
    rng = np.random.default_rng(0)
    z, zp = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    alpha = sa.contrastive_weights(z, zp, 0.5, "dot")
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    logits = z @ zp.T / 0.5
    np.testing.assert_allclose(alpha[2], np.exp(logits[2]) / np.exp(logits[2]).sum())


def test_subspace_overlap_values():
    e = np.eye(4)
    assert sa.subspace_overlap(e[:, :2], e[:, :2]) == pytest.approx(1.0)
    assert sa.subspace_overlap(e[:, :2], e[:, 2:]) == pytest.approx(0.0)
    # span(e1 + e2) against span(e1): cos² 45° = 1/2.
    assert sa.subspace_overlap(np.array([[1.0], [1.0], [0], [0]]), e[:, :1]) == pytest.approx(0.5)
    assert np.isnan(sa.subspace_overlap(e[:, :0], e[:, :1]))


def test_errors_name_the_argument():
    w, x, x_prime = _data()
    with pytest.raises(ValueError, match="x_prime"):
        sa.strong_augmentation_x(w, x, x_prime[:3])
    with pytest.raises(ValueError, match="weights"):
        sa.strong_augmentation_x(np.zeros((3, 5)), x, x_prime)
    with pytest.raises(ValueError, match="temperature"):
        sa.strong_augmentation_x(w, x, x_prime, temperature=0.0)
    with pytest.raises(ValueError, match="similarity"):
        sa.infonce_gradient_x(w, x, x_prime, similarity="cosine")
    with pytest.raises(ValueError, match="x_matrix"):
        sa.predicted_collapsing_directions(np.zeros((2, 3)))


def test_exported_from_kc_theory():
    assert kc.theory.strong_augmentation_x is sa.strong_augmentation_x
    assert set(sa.__all__) <= set(dir(kc.theory))
