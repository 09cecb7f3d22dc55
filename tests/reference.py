"""Independent float64 NumPy references written from the papers' formulas.

Deliberately naive (explicit loops, exp-then-log) so each line can be checked
against the paper; fine at the small sizes used in the tests. This module does
NOT import keras_collapse.
"""

import numpy as np


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def numeric_gradient(objective, x, step=1e-6):
    """Central differences of a float64 scalar `objective` at array `x`."""
    x = _f64(x)
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        grad[index] = (objective(up) - objective(down)) / (2 * step)
    return grad


def _cos(u, v):
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


# ---------------------------------------------------------------- InfoNCE
def info_nce_gaussian_one_direction(z, z_prime, temperature=1.0, positive_weight=1.0,
                                    partition="weighted"):
    """Jing et al. 2022 (arXiv 2110.09348) Lemma 1 form, per anchor i:

    -log exp(-|z_i - z'_i|^2/2) / (sum_{j!=i} exp(-|z_i - z_j|^2/2) + a exp(-|z_i - z'_i|^2/2))

    with every similarity additionally divided by the temperature (tau = 1 is the
    paper's loss). Negatives are the same view's other examples. a is the
    positive weight of Ziyin et al.'s weighted InfoNCE (arXiv 2210.00638);
    partition="padded" adds the constant 1 - a to the denominator.
    """
    z, z_prime = _f64(z), _f64(z_prime)
    n = len(z)
    out = np.zeros(n)
    for i in range(n):
        positive = np.exp(-np.sum((z[i] - z_prime[i]) ** 2) / 2.0 / temperature)
        negatives = 0.0
        for j in range(n):
            if j != i:
                negatives += np.exp(-np.sum((z[i] - z[j]) ** 2) / 2.0 / temperature)
        pad = 1.0 - positive_weight if partition == "padded" else 0.0
        out[i] = -np.log(positive / (negatives + positive_weight * positive + pad))
    return out


def info_nce_dot_one_direction(z_a, z_b, temperature=0.1, positive_weight=1.0,
                               partition="weighted"):
    """Cross-entropy of z_a z_b^T / tau against the diagonal, per row (the
    diagonal's term in the denominator weighted by positive_weight; plus
    1 - positive_weight with partition="padded")."""
    z_a, z_b = _f64(z_a), _f64(z_b)
    n = len(z_a)
    out = np.zeros(n)
    for i in range(n):
        terms = np.array([np.exp(np.dot(z_a[i], z_b[j]) / temperature) for j in range(n)])
        denominator = np.sum(terms) - (1.0 - positive_weight) * terms[i]
        if partition == "padded":
            denominator += 1.0 - positive_weight
        out[i] = -np.log(terms[i] / denominator)
    return out


def info_nce_cosine_one_direction(z_a, z_b, temperature=0.1, positive_weight=1.0,
                                  partition="weighted"):
    """The authors' DirectCLR infoNCE (directclr/main.py): the dot form of
    z / |z|, written per pair as cos(z_a,i, z_b,j) / tau (positive weight and
    partition as the dot form)."""
    z_a, z_b = _f64(z_a), _f64(z_b)
    n = len(z_a)
    out = np.zeros(n)
    for i in range(n):
        terms = np.array([np.exp(_cos(z_a[i], z_b[j]) / temperature) for j in range(n)])
        denominator = np.sum(terms) - (1.0 - positive_weight) * terms[i]
        if partition == "padded":
            denominator += 1.0 - positive_weight
        out[i] = -np.log(terms[i] / denominator)
    return out


def info_nce(z_a, z_b, temperature=0.1, similarity="dot", symmetric=True, positive_weight=1.0,
             partition="weighted"):
    """Per-example InfoNCE; symmetric averages the a->b and b->a directions."""
    one = {"dot": info_nce_dot_one_direction, "cosine": info_nce_cosine_one_direction,
           "gaussian": info_nce_gaussian_one_direction}[similarity]
    loss = one(z_a, z_b, temperature, positive_weight, partition)
    if symmetric:
        loss = 0.5 * (loss + one(z_b, z_a, temperature, positive_weight, partition))
    return loss


# ---------------------------------------------------------------- NT-Xent
def nt_xent_anchors(z_a, z_b, temperature=0.5):
    """SimCLR (arXiv 2002.05709): the 2N per-anchor losses

    l(k, p) = -log exp(sim(h_k, h_p)/tau) / sum_{m != k} exp(sim(h_k, h_m)/tau)

    with sim the cosine similarity, h = [z_a; z_b], p the other view of k.
    """
    h = np.concatenate([_f64(z_a), _f64(z_b)], axis=0)
    n = len(z_a)
    out = np.zeros(2 * n)
    for k in range(2 * n):
        p = k + n if k < n else k - n
        denominator = 0.0
        for m in range(2 * n):
            if m != k:
                denominator += np.exp(_cos(h[k], h[m]) / temperature)
        out[k] = -np.log(np.exp(_cos(h[k], h[p]) / temperature) / denominator)
    return out


def nt_xent(z_a, z_b, temperature=0.5):
    """Per example i: mean of its two anchors' losses (batch mean = mean over 2N)."""
    anchors = nt_xent_anchors(z_a, z_b, temperature)
    n = len(z_a)
    return 0.5 * (anchors[:n] + anchors[n:])


# ------------------------------------------------------ spectral contrastive
def spectral_contrastive(z_a, z_b):
    """HaoChen et al. 2021 (arXiv 2106.04156), empirical whole-batch form:

    L = -2 E_i[z_a,i . z_b,i] + E_{i != j}[(z_a,i . z_b,j)^2]
    """
    z_a, z_b = _f64(z_a), _f64(z_b)
    n = len(z_a)
    positive = np.mean([np.dot(z_a[i], z_b[i]) for i in range(n)])
    negative = [np.dot(z_a[i], z_b[j]) ** 2 for i in range(n) for j in range(n) if i != j]
    return -2.0 * positive + np.mean(negative)


# -------------------------------------------------------------- Barlow Twins
def barlow_twins(z_a, z_b, redundancy_weight=5e-3):
    """Zbontar et al. 2021 (arXiv 2103.03230) with BatchNorm1d(affine=False):

    z_hat = (z - mean) / sqrt(var_biased + 1e-5); C = z_hat_a^T z_hat_b / N;
    L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2
    """
    z_a, z_b = _f64(z_a), _f64(z_b)
    n, d = z_a.shape

    def bn(z):
        mean = z.sum(axis=0) / n
        var = ((z - mean) ** 2).sum(axis=0) / n
        return (z - mean) / np.sqrt(var + 1e-5)

    a, b = bn(z_a), bn(z_b)
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c_ij = sum(a[k, i] * b[k, j] for k in range(n)) / n
            loss += (1.0 - c_ij) ** 2 if i == j else redundancy_weight * c_ij ** 2
    return loss


# -------------------------------------------------------------------- VICReg
def vicreg(z_a, z_b, invariance_weight=25.0, variance_weight=25.0,
           covariance_weight=1.0, epsilon=1e-4):
    """Bardes et al. 2022 (arXiv 2105.04906), as in the official code:

    repr = MSE(x, y); std = sqrt(var_unbiased + eps);
    std_loss = mean(relu(1 - std_x))/2 + mean(relu(1 - std_y))/2;
    cov = x_c^T x_c / (N - 1); cov_loss = sum offdiag(cov_x)^2 / D + (same for y).
    """
    x, y = _f64(z_a), _f64(z_b)
    n, d = x.shape
    repr_loss = np.mean((x - y) ** 2)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    std_x = np.sqrt(np.var(xc, axis=0, ddof=1) + epsilon)
    std_y = np.sqrt(np.var(yc, axis=0, ddof=1) + epsilon)
    std_loss = np.mean(np.maximum(0.0, 1.0 - std_x)) / 2 + np.mean(
        np.maximum(0.0, 1.0 - std_y)
    ) / 2
    cov_x, cov_y = xc.T @ xc / (n - 1), yc.T @ yc / (n - 1)

    def off_sq(m):
        return sum(m[i, j] ** 2 for i in range(d) for j in range(d) if i != j)

    cov_loss = off_sq(cov_x) / d + off_sq(cov_y) / d
    return invariance_weight * repr_loss + variance_weight * std_loss + covariance_weight * cov_loss


# -------------------------------------------------------- SimSiam and BYOL
def simsiam(p_a, z_a, p_b, z_b):
    """Chen & He 2021 (arXiv 2011.10566): -1/2 cos(p_a, z_b) - 1/2 cos(p_b, z_a)."""
    return np.array([
        -0.5 * _cos(p_a[i], z_b[i]) - 0.5 * _cos(p_b[i], z_a[i]) for i in range(len(p_a))
    ])


def byol(p_a, zt_a, p_b, zt_b):
    """Grill et al. 2020 (arXiv 2006.07733): |p/|p| - z'/|z'||^2 summed both ways."""
    out = []
    for i in range(len(p_a)):
        total = 0.0
        for p, t in ((p_a[i], zt_b[i]), (p_b[i], zt_a[i])):
            p, t = _f64(p), _f64(t)
            total += np.sum((p / np.linalg.norm(p) - t / np.linalg.norm(t)) ** 2)
        out.append(total)  # = (2 - 2cos) + (2 - 2cos)
    return np.array(out)


def moco_v3(q_a, k_a, q_b, k_b, temperature=1.0):
    """Chen, Xie, He 2021 (arXiv 2104.02057), Algorithm 1, per example:
    ctr(q1, k2) + ctr(q2, k1), ctr(q, k) = 2τ · CE(q kᵀ/τ, labels = arange(N)),
    q and k ℓ2-normalised. The batch mean is Algorithm 1's loss."""
    def ctr(q, k):
        q, k = _f64(q), _f64(k)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        k = k / np.linalg.norm(k, axis=1, keepdims=True)
        logits = q @ k.T / temperature
        top = logits.max(axis=1, keepdims=True)
        log_softmax = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        return -2.0 * temperature * np.diag(log_softmax)

    return ctr(q_a, k_b) + ctr(q_b, k_a)


# -------------------------------------------------------------------- WERank
def werank(kernel, alpha=0.1):
    """Saheb Pasand et al. (arXiv 2402.09586): alpha ||W^T W - I||_F, or
    alpha ||W W^T - I||_F when d_out > d_in; conv kernels (kh, kw, cin, cout)
    are flattened to (kh*kw*cin, cout)."""
    w = _f64(kernel)
    if w.ndim == 4:
        w = w.reshape(-1, w.shape[-1])
    d_in, d_out = w.shape
    gram = w.T @ w if d_in >= d_out else w @ w.T
    return alpha * np.sqrt(np.sum((gram - np.eye(len(gram))) ** 2))


# ------------------------------------------------------------ effective rank
def effective_rank(z):
    """Roy & Vetterli 2007 on the centred embedding matrix:
    p_k = sigma_k / sum sigma, erank = exp(-sum p_k log p_k)."""
    z = _f64(z)
    sigma = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    p = sigma / sigma.sum()
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))
