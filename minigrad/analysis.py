"""Measurements of trained networks, for lessons and plots (host-side NumPy, float64).

Paper: "Incorporating visual cortical lateral connection properties into CNN:
recurrent activation and excitatory-inhibitory separation"
(``shared/papers/lateral-connections-cnn.txt``), section 4 and appendix A. Its
equations did not survive text extraction; each function says which reading
of the prose it implements.

==========================================  =====================================================
``sparsity(maps)``                          per-map kurtosis and fraction of zeros (figure 6)
``response_distribution(values)``           log-binned response density vs the Gaussian of the
                                            same variance, and where they cross (figure 7, A.3)
``fit_power_law(x, density)``               c x^-alpha through a log-log line
``powerlaw_gaussian_intersection(...)``     the crossing in closed form via Lambert W (eq. 12-13)
``lambert_w(z, branch)``                    the Lambert W function, real branches 0 and -1
``kernel_similarity(Wa, Wl)``               afferent vs lateral kernel distances + linear fit
                                            (figure 9, section A.4)
``sign_shares(W, thresholds)``              share of weights > t and < -t (table 3)
``plot_response_distribution``,             matplotlib helpers for the two figures
``plot_kernel_similarity``
==========================================  =====================================================

Everything here runs at the edge: inputs may be device arrays; they are copied
to the host once with ``backend.to_numpy`` and analysed in float64.
"""
import numpy as np

from .backend import to_numpy


def _host(a):
    return np.asarray(to_numpy(a), dtype=np.float64)


# --------------------------------------------------------------------------- sparsity (figure 6)
def sparsity(maps, excess=False):
    """Sparsity of each feature map: kurtosis and the fraction of exact zeros.

    "Kurtosis (fourth central moment) is a well-known measure of sparsity [Barlow, 1972],
    and sparsity can also be measured directly by counting zero values in FM activation"
    (section 4.1, figure 6). For map c, over all its values v (every image, every position)::

        kurtosis_c      = E[(v - mean v)^4] / Var(v)^2      (3 for a Gaussian; larger = sparser)
        zero_fraction_c = share of v == 0                   (ReLU maps: silent units)

    For the maps of a recurrent block over its loops, call it once per loop:
    ``[sparsity(A) for A in maps_per_loop]``.

    Args:
        maps: (N, C, ...) activations, e.g. (N, C, H, W) feature maps (host or device).
        excess: if True, report kurtosis - 3 (0 for a Gaussian).
    Returns:
        dict with "kurtosis" (C,) and "zero_fraction" (C,), float64. A constant map has no
        defined kurtosis: NaN.
    """
    x = _host(maps)
    if x.ndim < 2:
        raise ValueError(f"sparsity: expected maps of shape (N, C, ...), got {x.shape}")
    v = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)       # (C, N * H * W)
    centred = v - v.mean(axis=1, keepdims=True)
    m2 = (centred ** 2).mean(axis=1)
    m4 = (centred ** 4).mean(axis=1)
    kurt = np.full(len(v), np.nan)
    ok = m2 > 0
    kurt[ok] = m4[ok] / m2[ok] ** 2 - (3.0 if excess else 0.0)
    return {"kurtosis": kurt, "zero_fraction": (v == 0).mean(axis=1)}


# --------------------------------------------------------------------------- response distribution (figure 7)
def response_distribution(values, bins=40, x_range=None):
    """Response density on log-log axes against the Gaussian of the same variance (figure 7).

    "the response distribution ... initially close to a normal distribution (dashed red
    curve), but becoming closer to a power-law"; "the intersection point of the
    power-law-like response distribution and the matching Gaussian (same variance) meets
    where the heavy tail begins" (section 4.1).

    Our reading, for responses r (any shape, e.g. ReLU feature maps):
    - sigma^2 = Var(r) over all responses (zeros included);
    - the empirical density of the magnitudes x = |r| > 0 in log-spaced bins, normalised
      by the number of *all* responses and the bin widths (so zeros are a point mass at 0
      that log axes cannot show, and the curve integrates to the share of nonzero r);
    - the matching Gaussian: N(0, sigma^2) folded onto x > 0, 2 phi(x / sigma) / sigma,
      which is exactly the density of |r| when r is Gaussian with mean 0;
    - ``intersection``: where, going outwards, the density last crosses from below the
      Gaussian to above it (the start of the heavy tail), interpolated linearly in log-log
      between bin centres; NaN if it never does (no heavy tail).

    Args:
        values: responses, any shape (host or device).
        bins: number of log-spaced bins.
        x_range: (lo, hi) of the bins; default the smallest and largest nonzero |r|.
    Returns:
        dict with "centers" (B,) geometric bin centres, "density" (B,), "gaussian" (B,),
        "counts" (B,) ints, "sigma", "intersection" (floats).
    """
    r = _host(values).ravel()
    if r.size == 0:
        raise ValueError("response_distribution: no values")
    sigma = float(r.std())
    x = np.abs(r[r != 0])
    if x.size == 0 or sigma == 0:
        raise ValueError("response_distribution: every response is 0 (or all are equal); nothing to plot")
    lo, hi = x_range if x_range is not None else (x.min(), x.max())
    if not 0 < lo < hi:
        raise ValueError(f"response_distribution: need 0 < lo < hi for log bins, got ({lo}, {hi})")
    edges = np.geomspace(lo, hi * (1 + 1e-12), bins + 1)
    counts, _ = np.histogram(x, edges)
    centers = np.sqrt(edges[:-1] * edges[1:])
    density = counts / (r.size * np.diff(edges))
    gaussian = 2 * np.exp(-0.5 * (centers / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return {"centers": centers, "density": density, "gaussian": gaussian, "counts": counts,
            "sigma": sigma, "intersection": _last_upward_crossing(centers, density, gaussian)}


def _last_upward_crossing(x, a, b):
    """Largest x where log a - log b goes from <= 0 to > 0 between neighbouring points (a > 0 only)."""
    keep = (a > 0) & (b > 0)
    x, d = np.log(x[keep]), np.log(a[keep]) - np.log(b[keep])
    ups = np.nonzero((d[:-1] <= 0) & (d[1:] > 0))[0]
    if len(ups) == 0:
        return float("nan")
    i = ups[-1]
    t = -d[i] / (d[i + 1] - d[i])                  # linear in log x
    return float(np.exp(x[i] + t * (x[i + 1] - x[i])))


def fit_power_law(x, density, x_min=None):
    """Fit density ~ c x^-alpha by least squares of log density on log x (bins with density > 0).

    Args:
        x, density: (B,) bin centres and densities (``response_distribution``'s output).
        x_min: only use x >= x_min (the tail); default all.
    Returns:
        (c, alpha) floats.
    """
    x, density = _host(x), _host(density)
    keep = (density > 0) & (x > 0) & (x >= (x_min if x_min is not None else 0))
    if keep.sum() < 2:
        raise ValueError("fit_power_law: need at least two bins with density > 0")
    slope, intercept = np.polyfit(np.log(x[keep]), np.log(density[keep]), 1)
    return float(np.exp(intercept)), float(-slope)


def lambert_w(z, branch=0):
    """The Lambert W function on its real branches: the w with w e^w = z.

    Branch 0 (principal): z >= -1/e, w >= -1. Branch -1 (lower): -1/e <= z < 0, w <= -1.
    Halley's iteration from the usual series starting points; float64, to ~1e-15.

    Args:
        z: float or array.
        branch: 0 or -1.
    Returns:
        float64 array (or float) of w; NaN outside the branch's domain.
    """
    if branch not in (0, -1):
        raise ValueError(f"lambert_w: branch must be 0 or -1, got {branch}")
    z = np.asarray(z, dtype=np.float64)
    ok = (z >= -1 / np.e) & ((z < 0) if branch == -1 else np.isfinite(z))
    zz = np.where(ok, z, -0.1)
    p = np.sqrt(np.maximum(2 * (np.e * zz + 1), 0))          # distance to the branch point -1/e
    if branch == 0:
        near = -1 + p - p * p / 3                            # series at the branch point
        w = np.where(zz < -0.25, near, np.log1p(np.maximum(zz, -0.25)))
    else:
        near = -1 - p - p * p / 3
        lz = np.log(np.maximum(-zz, 1e-300))                 # W_-1(z) ~ log(-z) - log(-log(-z)) near 0
        w = np.where(zz < -0.25, near, lz - np.log(-lz))
    for _ in range(60):                                       # Halley: f = w e^w - z
        ew = np.exp(w)
        f = w * ew - zz
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 at the branch point w = -1
            step = f / (ew * (w + 1) - (w + 2) * f / (2 * w + 2))
        step = np.where(np.abs(w + 1) < 1e-12, 0.0, step)     # there w = -1 is exact: stop
        w = w - step
        if np.all(np.abs(step) <= 1e-15 * (1 + np.abs(w))):
            break
    w = np.where(ok, w, np.nan)
    return float(w) if w.ndim == 0 else w


def powerlaw_gaussian_intersection(c, alpha, sigma, amplitude=None, branch=-1):
    """Where the power law c x^-alpha meets the Gaussian A exp(-x^2 / (2 sigma^2)), in closed form.

    The paper's equations 12-13 (sketched in A.3) solve "power law = Gaussian" with the
    Lambert W function; our derivation::

        c x^-alpha = A e^{-x^2 / (2 sigma^2)}
        x^2 = K^(-2/alpha) e^{x^2 / (alpha sigma^2)}               K = A / c  (power -2/alpha)
        w e^w = -K^(-2/alpha) / (alpha sigma^2)                    w = -x^2 / (alpha sigma^2)
        x = sigma sqrt(-alpha W_k(-K^(-2/alpha) / (alpha sigma^2)))

    Branch k = 0 gives the crossing nearer 0, k = -1 the outer one, where the heavy tail
    rises above the Gaussian; no real solution (NaN) when the argument is below -1/e
    (the curves do not meet).

    Args:
        c, alpha: the power law (``fit_power_law``), alpha > 0.
        sigma: the Gaussian's standard deviation.
        amplitude: A; default 2 / (sigma sqrt(2 pi)), the folded Gaussian of
            ``response_distribution``.
        branch: 0 or -1.
    Returns:
        x (float).
    """
    if amplitude is None:
        amplitude = 2 / (sigma * np.sqrt(2 * np.pi))
    K = amplitude / c
    z = -K ** (-2 / alpha) / (alpha * sigma ** 2)
    w = lambert_w(z, branch)
    return float(sigma * np.sqrt(-alpha * w))


# --------------------------------------------------------------------------- kernel similarity (figure 9)
def kernel_similarity(Wa, Wl):
    """Distances between pairs of afferent kernels against the same pairs' lateral slices (section A.4).

    "We compute the Euclidean distance between the convolutional kernels for channels p
    and q in W_a, and do the same for slices p and q in the tensor of each lateral
    activation channel. This is computed over all pairs of p and q" (section 4.1);
    eq. 14 normalises by K, the square of the kernel size, and eq. 15-16 take the mean
    and standard error over the F lateral output channels. Our reading::

        d_a(p, q)    = sqrt( mean over (c, i, j) of (Wa[p, c, i, j] - Wa[q, c, i, j])^2 )
        d_l(o, p, q) = sqrt( mean over (i, j)    of (Wl[o, p, i, j] - Wl[o, q, i, j])^2 )
        lateral_mean(p, q) = mean_o d_l(o, p, q),   lateral_se(p, q) = std_o d_l / sqrt(F)

    (Wl[o, p] is what feature map p sends to map o: map p's outgoing lateral kernel.) A
    linear relation means maps with similar afferent kernels have similar lateral outputs.

    Args:
        Wa: (F, C, k, k) afferent kernels (C = 1 for gray images).
        Wl: (F, F, k', k') lateral kernels (output map, input map, ...).
    Returns:
        dict with "pairs" (P, 2) ints (p < q, P = F(F-1)/2), "afferent" (P,),
        "lateral_mean" (P,), "lateral_se" (P,), and the least-squares line
        lateral_mean = slope * afferent + intercept: "slope", "intercept", "r" (Pearson).
    """
    Wa, Wl = _host(Wa), _host(Wl)
    F = Wa.shape[0]
    if Wa.ndim != 4 or Wl.ndim != 4 or Wl.shape[:2] != (F, F):
        raise ValueError(f"kernel_similarity: expected Wa (F, C, k, k) and Wl (F, F, k, k), "
                         f"got {Wa.shape} and {Wl.shape}")
    if F < 3:
        raise ValueError(f"kernel_similarity: need F >= 3 maps for a line through the pairs, got F={F}")
    p, q = np.triu_indices(F, k=1)
    a = Wa.reshape(F, -1)
    d_a = np.sqrt(((a[p] - a[q]) ** 2).mean(axis=1))                         # (P,)
    lat = Wl.reshape(F, F, -1)
    d_l = np.sqrt(((lat[:, p] - lat[:, q]) ** 2).mean(axis=2))              # (F, P)
    mean, se = d_l.mean(axis=0), d_l.std(axis=0, ddof=1) / np.sqrt(F)
    slope, intercept = np.polyfit(d_a, mean, 1)
    r = float(np.corrcoef(d_a, mean)[0, 1]) if d_a.std() > 0 and mean.std() > 0 else float("nan")
    return {"pairs": np.stack([p, q], axis=1), "afferent": d_a, "lateral_mean": mean, "lateral_se": se,
            "slope": float(slope), "intercept": float(intercept), "r": r}


# --------------------------------------------------------------------------- E/I shares (table 3)
def sign_shares(W, thresholds=(0.0, 1e-3, 1e-2)):
    """Share of clearly positive and clearly negative weights, at several thresholds (table 3).

    "the ratio of strictly positive (w > t) to strictly negative (w < -t) weight values in
    W_E and W_I ... (with different threshold t)" (section 4.2); the paper's thresholds are
    unreadable in our copy, so they are an argument. For each t::

        positive = #(W > t) / (#(W > t) + #(W < -t)),   negative = 1 - positive

    Args:
        W: weights, any shape (host or device); pass W_E and W_I together or one at a time.
        thresholds: the t's, each >= 0.
    Returns:
        dict with "threshold", "positive", "negative" (T,) floats and "count" (T,) ints
        (#(W > t) + #(W < -t)); shares are NaN where the count is 0.
    """
    w = _host(W).ravel()
    t = np.asarray(thresholds, dtype=np.float64)
    if (t < 0).any():
        raise ValueError(f"sign_shares: thresholds must be >= 0, got {list(thresholds)}")
    pos = (w[None, :] > t[:, None]).sum(axis=1)
    neg = (w[None, :] < -t[:, None]).sum(axis=1)
    count = pos + neg
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(count > 0, pos / np.maximum(count, 1), np.nan)
    return {"threshold": t, "positive": share, "negative": 1 - share, "count": count}


# --------------------------------------------------------------------------- plots
def plot_response_distribution(result, ax=None, label=None, color=None, show_gaussian=True):
    """Figure 7: the density on log-log axes, the matching Gaussian dashed, the intersection marked.

    Args:
        result: ``response_distribution``'s dict.
        ax: matplotlib Axes (default: a new figure's).
    Returns:
        the Axes.
    """
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    keep = result["density"] > 0
    line, = ax.loglog(result["centers"][keep], result["density"][keep], "o-", ms=3, label=label, color=color)
    if show_gaussian:
        ax.loglog(result["centers"], result["gaussian"], "--", color="tab:red", lw=1,
                  label=f"Gaussian, same variance (sigma={result['sigma']:.3g})")
    x = result["intersection"]
    if np.isfinite(x):
        ax.axvline(x, color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel("response |r|")
    ax.set_ylabel("density")
    return ax


def plot_kernel_similarity(result, ax=None, label=None):
    """Figure 9: lateral-slice distance (mean +- SE over output maps) against afferent distance, with the fit.

    Args:
        result: ``kernel_similarity``'s dict.
        ax: matplotlib Axes (default: a new figure's).
    Returns:
        the Axes.
    """
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.5))
    x = result["afferent"]
    ax.errorbar(x, result["lateral_mean"], yerr=result["lateral_se"], fmt="o", ms=3, lw=0.8, label=label)
    xs = np.array([x.min(), x.max()])
    ax.plot(xs, result["slope"] * xs + result["intercept"], "-", color="k", lw=1,
            label=f"fit: slope {result['slope']:.3g}, r = {result['r']:.2f}")
    ax.set_xlabel("afferent kernel distance")
    ax.set_ylabel("lateral slice distance")
    return ax
