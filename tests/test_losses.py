"""Tests of keras_collapse.losses: every objective against an independent
NumPy reference (tests/reference.py), hand-worked values, symmetry,
stop-gradients, serialization, sample weights and input validation.

A table of all objectives (`LOSSES`) drives the shared checks; the numerical
checks (XLA, mixed precision, extreme values) live in test_losses_numerics.py
and reuse the same table.
"""

import dataclasses
import math
from typing import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
import reference as ref

L = kc.losses


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    cls: type
    kwargs: dict
    fn: Callable  # the functional twin, called fn(view_a, view_b, **kwargs)
    reference: Callable  # numpy (view_a, view_b, **kwargs) -> per-example or scalar
    per_example: bool  # returns (batch,) rather than a scalar
    symmetric: bool  # per-example (or scalar) value invariant to swapping views
    temperature: bool = False
    siamese: bool = False  # views are (prediction, target) pairs
    min_batch: int = 2

    def make(self, **overrides):
        return self.cls(**{**self.kwargs, **overrides})

    def reference_value(self, view_a, view_b, **overrides):
        kwargs = {**self.kwargs, **overrides}
        kwargs.pop("momentum", None)
        kwargs.pop("total_steps", None)
        if self.siamese:
            return self.reference(view_a[0], view_a[1], view_b[0], view_b[1], **kwargs)
        return self.reference(view_a, view_b, **kwargs)

    def call_fn(self, view_a, view_b, **overrides):
        kwargs = {**self.kwargs, **overrides}
        kwargs.pop("momentum", None)
        kwargs.pop("total_steps", None)
        return self.fn(view_a, view_b, **kwargs)


LOSSES = [
    Case("infonce_dot_sym", L.InfoNCE, dict(temperature=0.5, similarity="dot", symmetric=True),
         L.info_nce, ref.info_nce, True, True, temperature=True),
    Case("infonce_dot_one", L.InfoNCE, dict(temperature=0.5, similarity="dot", symmetric=False),
         L.info_nce, ref.info_nce, True, False, temperature=True),
    # The authors' DirectCLR code (directclr/main.py infoNCE): normalised, τ = 0.1.
    Case("infonce_cosine_sym", L.InfoNCE,
         dict(temperature=0.1, similarity="cosine", symmetric=True),
         L.info_nce, ref.info_nce, True, True, temperature=True),
    Case("infonce_gauss_sym", L.InfoNCE,
         dict(temperature=1.0, similarity="gaussian", symmetric=True),
         L.info_nce, ref.info_nce, True, True, temperature=True),
    Case("infonce_gauss_one", L.InfoNCE,
         dict(temperature=0.7, similarity="gaussian", symmetric=False),
         L.info_nce, ref.info_nce, True, False, temperature=True),
    # Ziyin et al.'s weighted InfoNCE (arXiv 2210.00638): α on the positive.
    Case("infonce_gauss_weighted", L.InfoNCE,
         dict(temperature=1.0, similarity="gaussian", symmetric=True, positive_weight=0.1),
         L.info_nce, ref.info_nce, True, True, temperature=True),
    Case("infonce_dot_weighted", L.InfoNCE,
         dict(temperature=0.5, similarity="dot", symmetric=False, positive_weight=0.3),
         L.info_nce, ref.info_nce, True, False, temperature=True),
    # ... with the denominator padded by 1 - α (the normalisation of that paper's expansion).
    Case("infonce_gauss_padded", L.InfoNCE,
         dict(temperature=1.0, similarity="gaussian", symmetric=True, positive_weight=0.1,
              partition="padded"),
         L.info_nce, ref.info_nce, True, True, temperature=True),
    Case("ntxent", L.NTXent, dict(temperature=0.5), L.nt_xent,
         ref.nt_xent, True, True, temperature=True),
    # per-anchor values are not swap-symmetric, only their mean (see below)
    Case("spectral", L.SpectralContrastive, {}, L.spectral_contrastive,
         None, True, False),
    Case("barlow_twins", L.BarlowTwins, dict(redundancy_weight=5e-3), L.barlow_twins,
         ref.barlow_twins, False, True),
    Case("vicreg", L.VICReg, dict(invariance_weight=25.0, variance_weight=25.0,
                                 covariance_weight=1.0), L.vicreg,
         ref.vicreg, False, True),
    Case("simsiam", L.SimSiam, {}, L.simsiam, ref.simsiam, True, True,
         siamese=True, min_batch=1),
    Case("byol", L.BYOL, dict(momentum=0.99), L.byol, ref.byol, True, True,
         siamese=True, min_batch=1),
    Case("moco_v3", L.MoCoV3, dict(temperature=0.2, momentum=0.99), L.moco_v3, ref.moco_v3,
         True, True, temperature=True, siamese=True),
]
SIAMESE_CASES = [case for case in LOSSES if case.siamese]
BY_ID = {case.id: case for case in LOSSES}
PER_EXAMPLE = [case for case in LOSSES if case.per_example]
SYMMETRIC = [case for case in LOSSES if case.symmetric]
TEMPERATURE = [case for case in LOSSES if case.temperature]
CONTRASTIVE = [case for case in LOSSES if case.min_batch >= 2]
ids = pytest.mark.parametrize("case", LOSSES, ids=lambda c: c.id)


def make_views(case, seed=0, n=8, dim=5, scale=1.0):
    """Two correlated views (z_b = z_a + noise); for Siamese losses each view is
    a (prediction, target) pair of independent tensors."""
    rng = np.random.default_rng(seed)

    def pair():
        z_a = rng.normal(size=(n, dim))
        z_b = z_a + 0.5 * rng.normal(size=(n, dim))
        return (scale * z_a).astype("float32"), (scale * z_b).astype("float32")

    if case.siamese:
        (p_a, p_b), (t_a, t_b) = pair(), pair()
        return (p_a, t_a), (p_b, t_b)
    return pair()


def class_expected(case, view_a, view_b, **overrides):
    """Expected class output with Keras' 'sum_over_batch_size' reduction."""
    value = case.reference_value(view_a, view_b, **overrides)
    return float(np.mean(value)) if case.per_example else float(value)


def swap(view_a, view_b):
    return view_b, view_a


# The spectral case's reference is whole-batch; give it a per-anchor twin.
def _spectral_per_anchor(z_a, z_b):
    z_a, z_b = np.float64(z_a), np.float64(z_b)
    n = len(z_a)
    return np.array([
        -2 * z_a[i] @ z_b[i] + sum((z_a[i] @ z_b[j]) ** 2 for j in range(n) if j != i) / (n - 1)
        for i in range(n)
    ])


# ------------------------------------------------------------- reference
@ids
@pytest.mark.parametrize("seed,n,dim", [(0, 8, 5), (1, 3, 2), (2, 16, 4)])
def test_function_matches_numpy_reference(case, seed, n, dim):
    view_a, view_b = make_views(case, seed, n, dim)
    got = case.call_fn(view_a, view_b).numpy()
    if case.id == "spectral":
        expected = _spectral_per_anchor(view_a, view_b)
        assert np.isclose(got.mean(), ref.spectral_contrastive(view_a, view_b), rtol=1e-5,
                          atol=1e-5)
    else:
        expected = case.reference_value(view_a, view_b)
    assert got.dtype == np.float32
    assert got.shape == ((n,) if case.per_example else ())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@ids
def test_class_matches_numpy_reference_with_batch_mean(case):
    view_a, view_b = make_views(case, seed=3)
    got = case.make()(view_a, view_b)
    if case.id == "spectral":
        expected = ref.spectral_contrastive(view_a, view_b)
    else:
        expected = class_expected(case, view_a, view_b)
    assert got.shape == ()
    assert np.isclose(float(got), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("temperature", [0.05, 0.3, 2.0])
@pytest.mark.parametrize("case", TEMPERATURE, ids=lambda c: c.id)
def test_temperature_matches_reference(case, temperature):
    view_a, view_b = make_views(case, seed=4, scale=0.3)
    got = case.call_fn(view_a, view_b, temperature=temperature).numpy()
    expected = case.reference_value(view_a, view_b, temperature=temperature)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-5)


def test_barlow_twins_and_vicreg_non_default_weights_match_reference():
    case = BY_ID["vicreg"]
    view_a, view_b = make_views(case, seed=5)
    got = L.vicreg(view_a, view_b, 10.0, 3.0, 0.5, epsilon=1e-3)
    expected = ref.vicreg(view_a, view_b, 10.0, 3.0, 0.5, epsilon=1e-3)
    assert np.isclose(float(got), expected, rtol=1e-5)
    got = L.barlow_twins(view_a, view_b, redundancy_weight=0.3)
    assert np.isclose(float(got), ref.barlow_twins(view_a, view_b, 0.3), rtol=1e-5)


def test_vicreg_variance_hinge_is_active_for_small_embeddings():
    """With std < 1 per dimension the variance term must contribute: the
    reference and the package agree, and the value exceeds the μ = 0 value."""
    case = BY_ID["vicreg"]
    view_a, view_b = make_views(case, seed=6, n=32, scale=0.1)
    full = float(L.vicreg(view_a, view_b))
    assert np.isclose(full, ref.vicreg(view_a, view_b), rtol=1e-5)
    assert full > float(L.vicreg(view_a, view_b, variance_weight=0.0)) + 10.0


# ------------------------------------------------------------ hand-worked
def test_info_nce_dot_hand_worked():
    """z_a = [[1, 0], [0, 1]], z_b = [[2, 1], [0, 3]], τ = 1.

    a→b logits z_a z_bᵀ = [[2, 0], [1, 3]]:
      ℓ_0 = −2 + log(e² + e⁰) = log(1 + e⁻²) = 0.126928
      ℓ_1 = −3 + log(e¹ + e³) = log(1 + e⁻²) = 0.126928
    b→a logits z_b z_aᵀ = [[2, 1], [0, 3]]:
      ℓ_0 = −2 + log(e² + e¹) = log(1 + e⁻¹) = 0.313262
      ℓ_1 = −3 + log(e⁰ + e³) = log(1 + e⁻³) = 0.048587
    symmetric = mean of the directions = [0.220095, 0.087758].
    """
    z_a = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    z_b = np.array([[2.0, 1.0], [0.0, 3.0]], "float32")
    one = L.info_nce(z_a, z_b, temperature=1.0, symmetric=False).numpy()
    np.testing.assert_allclose(one, [math.log1p(math.exp(-2))] * 2, rtol=1e-6)
    both = L.info_nce(z_a, z_b, temperature=1.0).numpy()
    np.testing.assert_allclose(both, [0.220095, 0.087758], atol=1e-6)
    assert np.isclose(float(L.InfoNCE(temperature=1.0)(z_a, z_b)), (0.220095 + 0.087758) / 2,
                      atol=1e-6)


def test_info_nce_gaussian_hand_worked():
    """Paper form at τ = 1, z = [[0, 0], [1, 0]], z' = [[0, 1], [1, 0]].

    anchor 0: positive |z_0 − z'_0|² = 1 → e^{−1/2}; negative |z_0 − z_1|² = 1
      → e^{−1/2}; ℓ_0 = −log(e^{−1/2} / 2e^{−1/2}) = log 2 = 0.693147
    anchor 1: positive |z_1 − z'_1|² = 0 → 1; negative |z_1 − z_0|² = 1
      → e^{−1/2}; ℓ_1 = log(1 + e^{−1/2}) = 0.474077
    """
    z = np.array([[0.0, 0.0], [1.0, 0.0]], "float32")
    z_prime = np.array([[0.0, 1.0], [1.0, 0.0]], "float32")
    got = L.info_nce(z, z_prime, temperature=1.0, similarity="gaussian", symmetric=False)
    np.testing.assert_allclose(got.numpy(), [math.log(2), math.log1p(math.exp(-0.5))],
                               rtol=1e-6)


def test_weighted_info_nce_without_positive_hand_worked():
    """α = 0 (Ziyin et al.'s "NT-Xent", arXiv 2210.00638) on the same pairs:
    anchor 0: −(−1/2) + log e^{−1/2} = 0; anchor 1: 0 + log e^{−1/2} = −1/2."""
    z = np.array([[0.0, 0.0], [1.0, 0.0]], "float32")
    z_prime = np.array([[0.0, 1.0], [1.0, 0.0]], "float32")
    got = L.info_nce(z, z_prime, temperature=1.0, similarity="gaussian", symmetric=False,
                     positive_weight=0.0)
    np.testing.assert_allclose(got.numpy(), [0.0, -0.5], atol=1e-6)


def test_nt_xent_hand_worked():
    """τ = 1, z_a = [[1, 0], [0, 1]], z_b = [[3, 0], [2, 0]] (normalised:
    h = a0 (1,0), a1 (0,1), b0 (1,0), b1 (1,0)).

    a0: positive b0 (cos 1); others a1 0, b0 1, b1 1 → −1 + log(1 + 2e) = log(2 + e⁻¹) = 0.861995
    a1: positive b1 (cos 0); others a0 0, b0 0, b1 0 → log 3 = 1.098612
    b0: positive a0 (cos 1); others a0 1, a1 0, b1 1 → log(2 + e⁻¹) = 0.861995
    b1: positive a1 (cos 0); others a0 1, a1 0, b0 1 → log(1 + 2e) = 1.861994
    per example: [(0.861995 + 0.861995)/2, (1.098612 + 1.861994)/2] = [0.861995, 1.480303]
    """
    z_a = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    z_b = np.array([[3.0, 0.0], [2.0, 0.0]], "float32")
    got = L.nt_xent(z_a, z_b, temperature=1.0).numpy()
    e = math.e
    expected = [math.log(2 + 1 / e), (math.log(3) + math.log(1 + 2 * e)) / 2]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(got, [0.861995, 1.480303], atol=1e-6)
    assert np.isclose(float(L.NTXent(1.0)(z_a, z_b)), np.mean(expected), rtol=1e-6)


def test_spectral_contrastive_hand_worked_and_swap():
    """z_a = [[1, 0], [0, 2]], z_b = [[1, 1], [1, 0]].

    products z_a,i·z_b,j: (0,0) 1, (0,1) 1, (1,0) 2, (1,1) 0
    L = −2·mean(1, 0) + mean(1², 2²) = −1 + 2.5 = 1.5
    per anchor: ℓ_0 = −2·1 + 1² = −1, ℓ_1 = −2·0 + 2² = 4 (mean 1.5)
    swapped (z_b, z_a): products (0,0) 1, (0,1) 2, (1,0) 1, (1,1) 0
      ℓ_0 = −2 + 2² = 2, ℓ_1 = 0 + 1² = 1: different anchors, same mean 1.5,
    as the formula (a sum over all ordered pairs i ≠ j) is symmetric.
    """
    z_a = np.array([[1.0, 0.0], [0.0, 2.0]], "float32")
    z_b = np.array([[1.0, 1.0], [1.0, 0.0]], "float32")
    np.testing.assert_allclose(L.spectral_contrastive(z_a, z_b).numpy(), [-1.0, 4.0])
    np.testing.assert_allclose(L.spectral_contrastive(z_b, z_a).numpy(), [2.0, 1.0])
    assert float(L.SpectralContrastive()(z_a, z_b)) == pytest.approx(1.5)
    assert float(L.SpectralContrastive()(z_b, z_a)) == pytest.approx(1.5)
    assert ref.spectral_contrastive(z_a, z_b) == pytest.approx(1.5)


def test_barlow_twins_hand_worked():
    """z_a = [[1, 2], [−1, −2]], z_b = [[1, −1], [−1, 1]], λ = 5e-3.

    Batch standardisation (mean 0, biased var 1 and 4 for z_a, 1 and 1 for z_b):
      ẑ_a = [[s, t], [−s, −t]], ẑ_b = [[s, −s], [−s, s]],
      s = 1/√(1 + 1e-5), t = 2/√(4 + 1e-5).
    C = ẑ_aᵀẑ_b / 2 = [[s², −s²], [ts, −ts]]
    L = (1 − s²)² + (1 + ts)² + λ(s⁴ + t²s²) ≈ 0 + 3.999975 + 0.01 = 4.009975
    """
    z_a = np.array([[1.0, 2.0], [-1.0, -2.0]], "float32")
    z_b = np.array([[1.0, -1.0], [-1.0, 1.0]], "float32")
    s = 1 / math.sqrt(1 + 1e-5)
    t = 2 / math.sqrt(4 + 1e-5)
    lam = 5e-3
    expected = (1 - s * s) ** 2 + (1 + t * s) ** 2 + lam * (s**4 + (t * s) ** 2)
    assert expected == pytest.approx(4.009975, abs=1e-5)
    assert float(L.barlow_twins(z_a, z_b)) == pytest.approx(expected, rel=1e-5)
    assert float(L.BarlowTwins()(z_a, z_b)) == pytest.approx(expected, rel=1e-5)


def test_vicreg_hand_worked():
    """z_a = [[1, 0.5], [−1, −0.5]], z_b = [[0.5, 0.5], [−0.5, −0.5]] (N = 2).

    invariance: diff = [[0.5, 0], [−0.5, 0]], MSE = 0.5/4 = 0.125 → ×25 = 3.125
    variance (unbiased, ε = 1e-4): z_a var = (2, 0.5), z_b var = (0.5, 0.5);
      hinge relu(1 − √(var + ε)): √2.0001 > 1 → 0, 1 − √0.5001 = 0.292823
      v(z_a) = 0.292823/2, v(z_b) = 0.292823; [v_a + v_b]/2 = 0.75·0.292823
      → ×25 = 18.75·(1 − √0.5001) = 5.490424
    covariance: Cov(z_a) = [[2, 1], [1, 0.5]] → 2·1²/2 = 1;
      Cov(z_b) = [[.5, .5], [.5, .5]] → 2·0.25/2 = 0.25 → ×1 = 1.25
    L = 3.125 + 5.490424 + 1.25 = 9.865424
    """
    z_a = np.array([[1.0, 0.5], [-1.0, -0.5]], "float32")
    z_b = np.array([[0.5, 0.5], [-0.5, -0.5]], "float32")
    expected = 3.125 + 18.75 * (1 - math.sqrt(0.5001)) + 1.25
    assert expected == pytest.approx(9.865424, abs=1e-5)
    assert float(L.vicreg(z_a, z_b)) == pytest.approx(expected, rel=1e-5)
    assert float(L.VICReg()(z_a, z_b)) == pytest.approx(expected, rel=1e-5)


SIAMESE_HAND = dict(
    p_a=np.array([[1.0, 0.0], [1.0, 1.0]], "float32"),
    z_a=np.array([[0.0, 3.0], [0.0, 5.0]], "float32"),
    p_b=np.array([[0.0, 1.0], [2.0, 0.0]], "float32"),
    z_b=np.array([[1.0, 1.0], [-1.0, -1.0]], "float32"),
)


def test_simsiam_hand_worked():
    """p_a = [[1, 0], [1, 1]], z_a = [[0, 3], [0, 5]], p_b = [[0, 1], [2, 0]],
    z_b = [[1, 1], [−1, −1]].

    ex 0: cos(p_a, z_b) = 1/√2, cos(p_b, z_a) = 1 → −½(0.707107) − ½ = −0.853553
    ex 1: cos(p_a, z_b) = −1,   cos(p_b, z_a) = 0 → ½
    mean = −0.176777
    """
    h = SIAMESE_HAND
    got = L.simsiam((h["p_a"], h["z_a"]), (h["p_b"], h["z_b"])).numpy()
    np.testing.assert_allclose(got, [-0.5 / math.sqrt(2) - 0.5, 0.5], atol=1e-6)
    got = float(L.SimSiam()((h["p_a"], h["z_a"]), (h["p_b"], h["z_b"])))
    assert got == pytest.approx(-0.176777, abs=1e-6)


def test_byol_hand_worked():
    """Same tensors as the SimSiam case, ℓ = (2 − 2cos(p_a, z'_b)) + (2 − 2cos(p_b, z'_a)).

    ex 0: (2 − 2/√2) + (2 − 2·1) = 2 − √2 = 0.585786
    ex 1: (2 + 2) + (2 − 0) = 6
    mean = 3.292893
    """
    h = SIAMESE_HAND
    got = L.byol((h["p_a"], h["z_a"]), (h["p_b"], h["z_b"])).numpy()
    np.testing.assert_allclose(got, [2 - math.sqrt(2), 6.0], atol=1e-6)
    got = float(L.BYOL()((h["p_a"], h["z_a"]), (h["p_b"], h["z_b"])))
    assert got == pytest.approx(3.292893, abs=1e-6)


@pytest.mark.parametrize("cls", [L.BYOL, L.MoCoV3])
def test_momentum_schedule(cls):
    """Cosine schedule m_k = 1 − (1 − m0)(cos(πk/K) + 1)/2: m0 = 0.9, K = 10,
    k = 5 → 1 − 0.1·(0 + 1)/2 = 0.95; past K it stays 1; constant without K."""
    loss = cls(momentum=0.9, total_steps=10)
    assert float(loss.target_momentum(0)) == pytest.approx(0.9)
    assert float(loss.target_momentum(5)) == pytest.approx(0.95)
    assert float(loss.target_momentum(20)) == pytest.approx(1.0)
    assert float(cls(momentum=0.9).target_momentum(7)) == pytest.approx(0.9)


def test_moco_v3_hand_worked():
    """Two orthogonal unit queries, keys equal to the queries, τ = 0.5:
    each row's logits are (2, 0) with the positive first, so
    ℓ = log(e² + 1) − 2 = 0.126928 per direction; times 2τ = 1 and two
    directions: 0.253856 per example. With the keys swapped between the two
    examples every positive has cos 0 and the negative cos 1:
    2 · (log(e² + 1) − 0) = 4.253856."""
    q = np.eye(2, dtype="float32")
    got = L.moco_v3((q, q), (q, q), temperature=0.5).numpy()
    np.testing.assert_allclose(got, [0.253856] * 2, atol=1e-5)
    flipped = q[::-1].copy()
    got = L.moco_v3((q, flipped), (q, flipped), temperature=0.5).numpy()
    np.testing.assert_allclose(got, [4.253856] * 2, atol=1e-5)


def test_moco_v3_scales_with_two_tau():
    """Algorithm 1 multiplies the cross-entropy by 2τ: the loss divided by 2τ
    is the plain symmetrised cross-entropy, whatever τ."""
    view_a, view_b = make_views(BY_ID["moco_v3"], seed=3)
    for tau in (0.1, 1.0):
        got = L.moco_v3(view_a, view_b, temperature=tau).numpy() / (2 * tau)
        expected = ref.moco_v3(*view_a, *view_b, temperature=tau) / (2 * tau)
        np.testing.assert_allclose(got, expected, rtol=1e-5)


# --------------------------------------------------------------- symmetry
@pytest.mark.parametrize("case", SYMMETRIC, ids=lambda c: c.id)
def test_swapping_views_gives_same_value(case):
    view_a, view_b = make_views(case, seed=7)
    forward = case.call_fn(view_a, view_b).numpy()
    backward = case.call_fn(*swap(view_a, view_b)).numpy()
    np.testing.assert_allclose(forward, backward, rtol=1e-5, atol=1e-6)
    assert float(case.make()(view_a, view_b)) == pytest.approx(
        float(case.make()(view_b, view_a)), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("case", [BY_ID["infonce_dot_one"], BY_ID["infonce_gauss_one"]],
                         ids=lambda c: c.id)
def test_one_directional_infonce_is_not_symmetric(case):
    view_a, view_b = make_views(case, seed=7)
    forward = case.call_fn(view_a, view_b).numpy()
    backward = case.call_fn(view_b, view_a).numpy()
    assert np.max(np.abs(forward - backward)) > 1e-3
    # and the symmetric form is exactly the average of the two directions
    both = L.info_nce(view_a, view_b, temperature=case.kwargs["temperature"],
                      similarity=case.kwargs["similarity"], symmetric=True).numpy()
    np.testing.assert_allclose(both, 0.5 * (forward + backward), rtol=1e-5, atol=1e-6)


def test_spectral_swap_symmetric_in_mean_only():
    case = BY_ID["spectral"]
    view_a, view_b = make_views(case, seed=8)
    forward = L.spectral_contrastive(view_a, view_b).numpy()
    backward = L.spectral_contrastive(view_b, view_a).numpy()
    assert np.max(np.abs(forward - backward)) > 1e-3  # per anchor: not symmetric
    assert forward.mean() == pytest.approx(backward.mean(), rel=1e-5)
    assert ref.spectral_contrastive(view_b, view_a) == pytest.approx(
        ref.spectral_contrastive(view_a, view_b), rel=1e-12)
    assert forward.mean() == pytest.approx(ref.spectral_contrastive(view_b, view_a), rel=1e-5)


# ---------------------------------------------------------- stop-gradient
@pytest.mark.parametrize("case", SIAMESE_CASES, ids=lambda c: c.id)
def test_no_gradient_through_stop_gradient_targets(case):
    (p_a, t_a), (p_b, t_b) = [tuple(tf.constant(x) for x in v) for v in make_views(case, 9)]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([p_a, t_a, p_b, t_b])
        loss = case.make()((p_a, t_a), (p_b, t_b))
    grads = tape.gradient(loss, [p_a, t_a, p_b, t_b])
    for target_grad in (grads[1], grads[3]):
        assert target_grad is None or not np.any(target_grad.numpy())
    for prediction_grad in (grads[0], grads[2]):
        assert prediction_grad is not None
        assert np.all(np.isfinite(prediction_grad.numpy()))
        assert np.abs(prediction_grad.numpy()).max() > 1e-3


@pytest.mark.parametrize("case", SIAMESE_CASES, ids=lambda c: c.id)
def test_single_tensor_views_only_differentiate_the_prediction_path(case):
    """Without a predictor the tensor is both prediction and target; its gradient
    must equal that of the prediction slot with the target held constant."""
    view_a, view_b = make_views(case, seed=10)
    z_a, z_b = tf.constant(view_a[0]), tf.constant(view_b[0])
    with tf.GradientTape() as tape:
        tape.watch([z_a, z_b])
        single = case.fn(z_a, z_b)
    g_single = tape.gradient(single, [z_a, z_b])
    with tf.GradientTape() as tape:
        tape.watch([z_a, z_b])
        paired = case.fn((z_a, tf.identity(view_a[0])), (z_b, tf.identity(view_b[0])))
    g_paired = tape.gradient(paired, [z_a, z_b])
    np.testing.assert_allclose(single.numpy(), paired.numpy(), rtol=1e-6)
    for a, b in zip(g_single, g_paired):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------ serialization
NON_DEFAULT = {
    "infonce_dot_sym": dict(temperature=0.3, similarity="gaussian", symmetric=False),
    "ntxent": dict(temperature=0.2),
    "barlow_twins": dict(redundancy_weight=0.01),
    "vicreg": dict(invariance_weight=10.0, variance_weight=10.0, covariance_weight=2.0,
                   epsilon=1e-3),
    "byol": dict(momentum=0.9, total_steps=50),
    "moco_v3": dict(temperature=0.5, momentum=0.9, total_steps=50),
}


@ids
def test_serialization_round_trip(case):
    loss = case.make(**NON_DEFAULT.get(case.id, {}), name=f"my_{case.id}",
                     reduction="sum")
    view_a, view_b = make_views(case, seed=11)
    expected = float(loss(view_a, view_b))

    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert float(restored(view_a, view_b)) == pytest.approx(expected, rel=1e-6)

    again = type(loss).from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    assert float(again(view_a, view_b)) == pytest.approx(expected, rel=1e-6)
    for key, value in NON_DEFAULT.get(case.id, {}).items():
        assert getattr(restored, key) == value
        assert loss.get_config()[key] == value
    assert restored.reduction == "sum"


# --------------------------------------------------------------- sample weight
@pytest.mark.parametrize("case", PER_EXAMPLE, ids=lambda c: c.id)
def test_sample_weight_per_example(case):
    view_a, view_b = make_views(case, seed=12, n=6)
    per_example = case.call_fn(view_a, view_b).numpy()
    weights = np.array([1.0, 0.0, 2.0, 0.5, 0.0, 3.0], "float32")
    got = float(case.make()(view_a, view_b, sample_weight=weights))
    # 'sum_over_batch_size': Σ w_i ℓ_i / N
    assert got == pytest.approx(float(np.sum(weights * per_example) / 6), rel=1e-5, abs=1e-6)
    assert got != pytest.approx(float(per_example.mean()), rel=1e-3)
    none = case.make(reduction="none")(view_a, view_b, sample_weight=weights).numpy()
    np.testing.assert_allclose(none, weights * per_example, rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------- bad input
@ids
def test_mismatched_view_shapes_raise(case):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    c = rng.normal(size=(5, 3))
    for first, second in ((a, b), (a, c)):
        if case.siamese:
            first, second = (first, first), (second, second)
        with pytest.raises(ValueError, match=r"same shape.*z_a.shape=\(4, 3\)"):
            case.call_fn(first, second)
        with pytest.raises(ValueError, match="same shape"):
            case.make()(first, second)


@ids
@pytest.mark.parametrize("shape", [(4,), (4, 3, 2)])
def test_rank_other_than_2_raises(case, shape):
    z = np.ones(shape, "float32")
    view = (z, z) if case.siamese else z
    with pytest.raises(ValueError, match=r"argument `z_a`.*rank-2"):
        case.call_fn(view, view)


@pytest.mark.parametrize("case", CONTRASTIVE, ids=lambda c: c.id)
def test_batch_of_one_raises_for_batch_objectives(case):
    z = np.ones((1, 3), "float32")
    with pytest.raises(ValueError, match=r"`z_a`.*at least 2"):
        case.call_fn(z, z)
    with pytest.raises(ValueError, match=r"`z_a`.*at least 2"):
        case.make()(z, z)


@pytest.mark.parametrize("case", TEMPERATURE, ids=lambda c: c.id)
@pytest.mark.parametrize("temperature", [0.0, -0.1, float("nan"), float("inf")])
def test_non_positive_temperature_raises(case, temperature):
    with pytest.raises(ValueError, match="argument `temperature`"):
        case.make(temperature=temperature)
    z = np.eye(3, dtype="float32")
    with pytest.raises(ValueError, match="argument `temperature`"):
        case.call_fn(z, z, temperature=temperature)


@pytest.mark.parametrize(
    "factory,argument",
    [
        (lambda: L.BarlowTwins(redundancy_weight=-1), "redundancy_weight"),
        (lambda: L.VICReg(variance_weight=-1), "variance_weight"),
        (lambda: L.VICReg(invariance_weight=-1), "invariance_weight"),
        (lambda: L.VICReg(covariance_weight=-0.5), "covariance_weight"),
        (lambda: L.VICReg(epsilon=0), "epsilon"),
        (lambda: L.BYOL(momentum=1.5), "momentum"),
        (lambda: L.BYOL(momentum=-0.1), "momentum"),
        (lambda: L.BYOL(total_steps=0), "total_steps"),
        (lambda: L.MoCoV3(temperature=0), "temperature"),
        (lambda: L.MoCoV3(momentum=2.0), "momentum"),
        (lambda: L.InfoNCE(similarity="euclidean"), "similarity"),
        (lambda: L.InfoNCE(positive_weight=-0.1), "positive_weight"),
        (lambda: L.InfoNCE(partition="softmax"), "partition"),
        (lambda: L.InfoNCE(positive_weight=2.0, partition="padded"), "positive_weight"),
        (lambda: L.barlow_twins(np.eye(3), np.eye(3), redundancy_weight=-1),
         "redundancy_weight"),
        (lambda: L.vicreg(np.eye(3), np.eye(3), variance_weight=-1), "variance_weight"),
    ],
)
def test_invalid_settings_raise_value_error(factory, argument):
    with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
        factory()


@pytest.mark.parametrize(
    "factory,argument",
    [
        (lambda: L.InfoNCE(temperature="0.1"), "temperature"),
        (lambda: L.NTXent(temperature=None), "temperature"),
        (lambda: L.BarlowTwins(redundancy_weight=True), "redundancy_weight"),
        (lambda: L.BYOL(total_steps=2.5), "total_steps"),
        (lambda: L.nt_xent(tf.constant([["a"], ["b"]]), np.ones((2, 1))), "z_a"),
    ],
)
def test_wrong_types_raise_type_error(factory, argument):
    with pytest.raises(TypeError, match=f"argument `{argument}`"):
        factory()


def test_siamese_view_must_be_tensor_or_pair():
    z = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match="argument `z_a`.*length 3"):
        L.simsiam((z, z, z), (z, z))


@pytest.mark.parametrize("case", SIAMESE_CASES, ids=lambda c: c.id)
def test_prediction_and_target_of_different_shapes_raise(case):
    view = (np.ones((4, 3), "float32"), np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match=r"argument `z_a`.*prediction.shape=\(4, 3\)"):
        case.call_fn(view, view)


@pytest.mark.parametrize("loss", [kc.losses.BarlowTwins(), kc.losses.VICReg()], ids=type)
def test_sample_weight_on_whole_batch_objective_raises(loss):
    """A whole-batch objective has one value per batch: weights would silently
    rescale it, so they are refused with a message naming the argument."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"`sample_weight`.*whole-batch objective"):
        loss(z, z, sample_weight=np.ones(6, "float32"))
