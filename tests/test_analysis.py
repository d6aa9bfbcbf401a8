"""minigrad.analysis on inputs with known answers: sparsity of constructed maps, response
distributions of Gaussian and Laplace samples (the Laplace tail crosses its Gaussian at a point
solvable by hand), the Lambert W crossing formula, kernel similarity of constructed kernels, and
sign shares of a hand-counted array."""
import matplotlib
import numpy as np
import pytest

from minigrad import analysis
from minigrad.backend import to_device

matplotlib.use("Agg")


# ----------------------------------------------------------------- sparsity
def test_sparsity_known_values():
    r = np.random.default_rng(0)
    maps = np.empty((200, 3, 10, 10))
    maps[:, 0] = r.choice([-2.0, 2.0], size=(200, 10, 10))      # two-point: kurtosis exactly 1
    maps[:, 1] = r.standard_normal((200, 10, 10))                # Gaussian: 3
    maps[:, 2] = r.laplace(size=(200, 10, 10))                   # Laplace: 6
    maps[:, 2, :5] = 0.0                                         # half the positions exactly zero
    out = analysis.sparsity(to_device(maps))                     # device arrays are fine
    assert out["kurtosis"][0] == pytest.approx(1.0, abs=1e-2)
    assert out["kurtosis"][1] == pytest.approx(3.0, abs=0.15)
    assert out["zero_fraction"].tolist() == [0.0, 0.0, 0.5]
    lap = maps[:, 2].ravel()
    c = lap - lap.mean()
    assert out["kurtosis"][2] == pytest.approx((c ** 4).mean() / (c ** 2).mean() ** 2, rel=1e-12)
    assert analysis.sparsity(maps, excess=True)["kurtosis"][1] == pytest.approx(out["kurtosis"][1] - 3)


def test_sparsity_relu_maps_get_sparser_as_threshold_rises():
    """The trend figure 6 measures: raising a ReLU's threshold zeroes more and raises kurtosis."""
    g = np.random.default_rng(1).standard_normal((50, 1, 12, 12))
    a = analysis.sparsity(np.maximum(g, 0))
    b = analysis.sparsity(np.maximum(g - 1, 0))
    assert a["zero_fraction"][0] == pytest.approx(0.5, abs=0.02) and b["zero_fraction"][0] > 0.8
    assert b["kurtosis"][0] > a["kurtosis"][0]


def test_sparsity_constant_map_is_nan_and_bad_shape():
    out = analysis.sparsity(np.zeros((4, 2, 3, 3)))
    assert np.isnan(out["kurtosis"]).all() and (out["zero_fraction"] == 1).all()
    with pytest.raises(ValueError, match="sparsity: expected maps of shape"):
        analysis.sparsity(np.zeros(5))


# ----------------------------------------------------------------- response distribution
def test_gaussian_responses_match_their_gaussian():
    """For r ~ N(0, s^2), |r| has exactly the folded Gaussian's density: the curves agree."""
    r = 0.7 * np.random.default_rng(2).standard_normal(10 ** 6)
    res = analysis.response_distribution(r, bins=30, x_range=(0.05, 2.0))
    assert res["sigma"] == pytest.approx(0.7, rel=1e-2)
    np.testing.assert_allclose(res["density"], res["gaussian"], rtol=0.05)
    assert res["counts"].sum() == ((np.abs(r) >= 0.05) & (np.abs(r) <= 2.0)).sum()


def test_laplace_tail_crosses_gaussian_where_computed_by_hand():
    """|r| for Laplace(scale b) has density e^(-x/b) / b and variance 2 b^2; the folded Gaussian of
    that variance is e^(-x^2 / 4b^2) / (b sqrt(pi)). They meet where x^2/4b^2 - x/b + ln(pi)/2 = 0,
    the outer root x = b (2 + 2 sqrt(1 - ln(pi) / 2)) = 3.3079 b: the start of the heavy tail."""
    b = 0.5
    r = np.random.default_rng(3).laplace(scale=b, size=10 ** 6)
    res = analysis.response_distribution(r, bins=60, x_range=(0.005, 5.0))
    expected = b * (2 + 2 * np.sqrt(1 - np.log(np.pi) / 2))
    assert res["intersection"] == pytest.approx(expected, rel=0.03)
    # beyond it the data lie above the Gaussian, and far above it further out
    far = res["centers"] > 2 * expected
    assert (res["density"][far & (res["counts"] > 20)] > 10 * res["gaussian"][far & (res["counts"] > 20)]).all()


def test_intersection_is_the_last_upward_crossing_in_log_log():
    """Constructed curves: the crossing is interpolated linearly in log x and log density; with
    several crossings the outermost upward one counts; a curve that stays below gives NaN."""
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    gauss = np.array([2.0, 2.0, 0.5, 0.5, 0.5])
    crossing = analysis._last_upward_crossing
    assert crossing(x, np.ones(5), gauss) == pytest.approx(np.sqrt(8))        # midway between 2 and 4 in log x
    assert crossing(x, np.array([1.0, 4.0, 0.25, 0.25, 1.0]), gauss) == pytest.approx(np.sqrt(128))
    assert np.isnan(crossing(x, 0.1 * gauss, gauss))
    # an empty bin (density 0, no log) is skipped: the neighbours 2 and 8 are joined, midway 4
    assert crossing(x, np.array([1.0, 1.0, 0.0, 1.0, 1.0]), gauss) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="every response is 0"):
        analysis.response_distribution(np.zeros(10))


def test_lambert_w_inverts_w_exp_w():
    z0 = np.array([-1 / np.e, -0.3, -0.05, 0.0, 0.7, 3.0, 1e4])
    w0 = analysis.lambert_w(z0, 0)
    np.testing.assert_allclose(w0 * np.exp(w0), z0, rtol=1e-12, atol=1e-15)
    assert w0[0] == -1 and (w0 >= -1).all()
    zm = np.array([-1 / np.e, -0.3, -0.05, -1e-8])
    wm = analysis.lambert_w(zm, -1)
    np.testing.assert_allclose(wm * np.exp(wm), zm, rtol=1e-12, atol=1e-15)
    assert (wm <= -1).all()
    assert np.isnan(analysis.lambert_w(-1.0, 0)) and np.isnan(analysis.lambert_w(0.5, -1))
    assert analysis.lambert_w(1.0) == pytest.approx(0.5671432904097838, rel=1e-15)   # the omega constant


def test_powerlaw_gaussian_intersection_solves_the_equation():
    c, alpha, sigma = 0.02, 2.5, 0.8
    A = 2 / (sigma * np.sqrt(2 * np.pi))
    xs = [analysis.powerlaw_gaussian_intersection(c, alpha, sigma, branch=k) for k in (0, -1)]
    for x in xs:
        assert c * x ** -alpha == pytest.approx(A * np.exp(-x ** 2 / (2 * sigma ** 2)), rel=1e-10)
    assert xs[0] < xs[1]
    # a power law high above the Gaussian everywhere: no crossing
    assert np.isnan(analysis.powerlaw_gaussian_intersection(100.0, alpha, sigma))


def test_fit_power_law_recovers_exponent():
    x = np.geomspace(0.1, 10, 30)
    c, alpha = analysis.fit_power_law(x, 0.3 * x ** -1.7)
    assert c == pytest.approx(0.3, rel=1e-10) and alpha == pytest.approx(1.7, rel=1e-10)
    c2, alpha2 = analysis.fit_power_law(x, np.where(x < 1, 5.0, 0.3 * x ** -1.7), x_min=1.0)
    assert alpha2 == pytest.approx(1.7, rel=1e-10)


# ----------------------------------------------------------------- kernel similarity
def test_kernel_similarity_of_scaled_copies():
    """Lateral slices that are scaled copies of the afferent kernels, Wl[o, p] = s_o Wa[p, 0]:
    every lateral distance is s_o times the afferent one, so the fit has slope mean(s),
    intercept 0, r = 1, and the SE over o is std(s) / sqrt(F) times the afferent distance."""
    r = np.random.default_rng(5)
    F, k = 6, 5
    Wa = r.standard_normal((F, 1, k, k))
    s = r.random(F) + 0.5
    Wl = s[:, None, None, None] * Wa[None, :, 0]
    res = analysis.kernel_similarity(Wa, Wl)
    assert res["pairs"].shape == (15, 2) and (res["pairs"][:, 0] < res["pairs"][:, 1]).all()
    p, q = 1, 4
    i = np.nonzero((res["pairs"][:, 0] == p) & (res["pairs"][:, 1] == q))[0][0]
    assert res["afferent"][i] == pytest.approx(np.sqrt(((Wa[p] - Wa[q]) ** 2).mean()), rel=1e-12)
    np.testing.assert_allclose(res["lateral_mean"], s.mean() * res["afferent"], rtol=1e-12)
    np.testing.assert_allclose(res["lateral_se"], s.std(ddof=1) / np.sqrt(F) * res["afferent"], rtol=1e-10)
    assert res["slope"] == pytest.approx(s.mean(), rel=1e-10)
    assert res["intercept"] == pytest.approx(0, abs=1e-10)
    assert res["r"] == pytest.approx(1.0, abs=1e-12)


def test_kernel_similarity_unrelated_kernels_have_weak_fit():
    r = np.random.default_rng(6)
    res = analysis.kernel_similarity(r.standard_normal((12, 1, 7, 7)), r.standard_normal((12, 12, 7, 7)))
    assert abs(res["r"]) < 0.5
    with pytest.raises(ValueError, match=r"kernel_similarity: expected Wa \(F, C, k, k\) and Wl \(F, F, k, k\)"):
        analysis.kernel_similarity(np.zeros((4, 1, 3, 3)), np.zeros((4, 3, 3, 3)))


# ----------------------------------------------------------------- sign shares
def test_sign_shares_hand_counted():
    W = to_device(np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]))
    out = analysis.sign_shares(W, thresholds=(0.0, 1.5, 3.5, 10.0))
    np.testing.assert_allclose(out["positive"][:3], [4 / 7, 3 / 5, 1.0])
    np.testing.assert_allclose(out["negative"][:3], [3 / 7, 2 / 5, 0.0])
    assert out["count"].tolist() == [7, 5, 1, 0]
    assert np.isnan(out["positive"][3]) and np.isnan(out["negative"][3])
    with pytest.raises(ValueError, match="thresholds must be >= 0"):
        analysis.sign_shares(W, thresholds=(-1.0,))


# ----------------------------------------------------------------- plots
def test_plot_helpers_draw_what_they_are_given(tmp_path):
    r = np.random.default_rng(7)
    res = analysis.response_distribution(r.laplace(size=10 ** 4), bins=20)
    ax = analysis.plot_response_distribution(res, label="loop 3")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3                              # data, Gaussian, intersection
    sim = analysis.kernel_similarity(r.standard_normal((5, 1, 3, 3)), r.standard_normal((5, 5, 3, 3)))
    ax2 = analysis.plot_kernel_similarity(sim)
    ax2.figure.savefig(tmp_path / "fig9.png")
    assert (tmp_path / "fig9.png").stat().st_size > 1000
