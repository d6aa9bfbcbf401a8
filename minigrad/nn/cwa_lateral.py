"""CWA with lateral inhibition: interneurons that read a layer's activity and inhibit it back.

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission, section 4.4
(``shared/papers/cwa-hodgkin-huxley-networks.txt``). The paper gives no
equations for this variant, only the prose::

    "extra inhibitory neurons were added to each layer of CWA and activated
    recurrently in a temporal rollout, simulating the effect of lateral
    inhibitory interneurons, which potentially regulate the overall activity
    level within cortical regions."                   (section 4.4, table 2)

The equations below are our choice. They use nothing but the paper's own
building blocks, equation 3/5 (a CWA neuron) and equation 4 (its activity),
so that every quantity keeps its meaning and the output stays in [-1, 1].

"extra inhibitory neurons were added to each layer": besides its M principal
CWA neurons, the layer has K interneurons with activities q (N, K) in [0, 1).

"activated recurrently ... lateral inhibitory interneurons": an interneuron
k is itself a CWA neuron (equation 3) whose presynaptic partners are the
layer's own principal neurons, read through their activity r = max(z, 0)
(equation 4), all counted as driving it (valence +1), with resting conductance
G_r and resting potential 0 (so q >= 0 without a further ReLU)::

    s_t = r_(t-1) @ H                     (N, K)   H = h(g_in)  (M, K) >= 0
    q_t = (G_r * 0 + s_t) / (G_r + s_t)   (N, K)   equation 3, e_j = +1, e_r = 0: q in [0, 1)

"... which regulate the overall activity level": the interneurons feed back
onto the principal neurons as extra *inhibitory* presynaptic neurons
(valence -1), i.e. as more conductance in equation 5 pulling towards -1::

    lat_t = q_t @ L                       (N, M)   L = h(g_out) (K, M) >= 0
    z_t = (G_r e_r + exc - inh - lat_t) / (G_r + exc + inh + lat_t)       equation 5

with ``exc = x_E @ G_E`` and ``inh = x_I @ G_I`` the feed-forward evidence of
``nn.CWA`` (computed once: the input does not change during the rollout).
z_t is still a conductance-weighted average of -1, +1 and e_r, so z_t in
[-1, 1] for every t (section 2.3), whatever the lateral conductances.

"in a temporal rollout": start from the plain feed-forward CWA (no
interneuron active yet, q_0 = 0) and run T steps; the layer's output is the
last one::

    z_0 = (G_r e_r + exc - inh) / (G_r + exc + inh)       nn.CWA's output
    for t = 1 .. T:   r_(t-1) = max(z_(t-1), 0);  q_t, lat_t, z_t as above
    output z_T                                             (N, M)

T = 0 is exactly ``nn.CWA``; T = 1 already has one round of inhibition. The
parameters are shared across steps and trained by backpropagation through
time (BPTT): their gradients are summed over the steps.

Backward, given dz_T (N, M). With a = G_r e_r + exc - inh and b = G_r + exc +
inh, each step is z_t = (a - lat_t) / (b + lat_t); walking t = T .. 1::

    dnum  = dz_t / den_t;   dden = -dnum * z_t     (0 where the 1e-6 floor acted)
    da   += dnum;           db  += dden            a, b feed every step
    dlat  = dden - dnum                            lat: -1 in num, +1 in den
    dL   += q_t^T @ dlat;   dq   = dlat @ L^T      lat = q @ L
    ds    = dq * G_r / (G_r + s_t)^2               q = s / (G_r + s)
    dH   += r_(t-1)^T @ ds; dr   = ds @ H^T        s = r @ H
    dz_(t-1) = dr * [z_(t-1) > 0]                  r = max(z, 0)

then step 0 (z_0 = a / b) adds ``dz_0 / den_0`` to da and ``-dz_0 z_0 / den_0``
to db, and a, b go back to the inputs and g exactly as in ``nn.CWA``::

    dexc = da + db,  dinh = db - da;  dG_E = x_E^T @ dexc,  dG_I = x_I^T @ dinh
    dx   = [dinh @ G_I^T, dexc @ G_E^T]
    dg = dG * [G > 0],  dg_in = dH * [H > 0],  dg_out = dL * [L > 0]     h(g) = max(1 + g, 0)

The ReLU's kink at z = 0 takes derivative 0 there (as ``nn.ReLU``).
"""
import numpy as np

from ..backend import make_rng, xp
from .base import check_arg
from .cwa import CWA, EPS, check_activities, conductance


class LateralCWA(CWA):
    """Dense CWA layer with K lateral inhibitory interneurons, unrolled over T steps (section 4.4).

    Args:
        in_features: D, the number of presynaptic neurons.
        out_features: M, the number of principal CWA neurons.
        n_lateral: K, the number of inhibitory interneurons; default max(1, M // 5)
            (a choice: the paper gives no number; about a fifth of cortical
            neurons are inhibitory).
        steps: T >= 0, the length of the rollout (default 3, "a short temporal
            rollout"; T = 0 is plain ``nn.CWA``).
        rng, dtype, n_inhibitory, rest_conductance, rest_potential, init_std,
        check_input_range: as ``nn.CWA``. ``init_std`` also sets the spread of the
            lateral parameters (default Glorot, sqrt(2 / (D + M)) for g and
            sqrt(2 / (M + K)) for g_in and g_out, conductances near 1).
        lateral_conductance: c > 0, where the interneuron -> principal conductances L
            start: L = c (1 + std * noise) (default 1, near 1 like every other conductance).
            The interneurons' activities q are O(0.1-0.5) whatever the layer's activity
            scale (they are CWA neurons themselves), so K of them at L ~ 1 add a conductance
            ~K/5 at -1 that silences a layer whose feed-forward evidence is small, as it is
            at initialisation (``nn.CWA``: ~1e-3 after doubled inputs). ``models.cwa_mlp``
            therefore starts them at c = 1e-4 (``LATERAL_CONDUCTANCE``): the layer begins as
            plain CWA and training grows the inhibition it needs.

    Params: ``g`` (D, M) feed-forward conductances G = h(g) as in ``nn.CWA``;
    ``g_in`` (M, K) principal -> interneuron conductances H = h(g_in);
    ``g_out`` (K, M) interneuron -> principal (inhibitory) conductances L = h(g_out).
    Shapes: forward x (N, D) -> z (N, M), z in [-1, 1] for x >= 0. After
    ``forward``, ``self.zs`` holds z_0 .. z_T and ``self.qs`` q_1 .. q_T (for plots).
    """

    def __init__(self, in_features, out_features, n_lateral=None, steps=3, rng=None, dtype=None,
                 n_inhibitory=None, rest_conductance=1.0, rest_potential=-0.4, init_std=None,
                 check_input_range=True, lateral_conductance=1.0):
        rng = make_rng(rng)
        super().__init__(in_features, out_features, rng=rng, dtype=dtype, n_inhibitory=n_inhibitory,
                         rest_conductance=rest_conductance, rest_potential=rest_potential,
                         init_std=init_std, check_input_range=check_input_range)
        if n_lateral is None:
            n_lateral = max(1, out_features // 5)
        self.n_lateral = check_arg(self, "n_lateral", n_lateral, 1, integer=True)
        self.steps = check_arg(self, "steps", steps, 0, integer=True)
        K, M = self.n_lateral, out_features
        std = np.sqrt(2.0 / (M + K)) if init_std is None else init_std
        self._init_param("g_in", std * rng.standard_normal((M, K)), dtype)
        c = self.lateral_conductance = check_arg(self, "lateral_conductance", lateral_conductance, 0,
                                                 low_open=True)
        # L = h(g_out) = c (1 + std * noise): near c (c = 1: g_out = std * noise, Glorot as g)
        self._init_param("g_out", (c - 1) + c * std * rng.standard_normal((K, M)), dtype)

    def forward(self, x):
        """x: (N, D) activities in [0, 1] -> z_T: (N, M) in [-1, 1]."""
        D = self.in_features
        self._check_input(x, 2, f"(N, D) with D={D}", sizes={1: D})
        if self.check_input_range:
            check_activities(self, x)
        ni, Gr, er = self.n_inhibitory, self.rest_conductance, self.rest_potential
        G = self.conductances()                       # (D, M)  h(g), sec. 4.3
        H = conductance(self.params["g_in"])          # (M, K)  principal -> interneuron
        L = conductance(self.params["g_out"])         # (K, M)  interneuron -> principal
        inh = x[:, :ni] @ G[:ni]                      # (N, M)  inhibitory evidence, eq. 5
        exc = x[:, ni:] @ G[ni:]                      # (N, M)  excitatory evidence, eq. 5
        a = Gr * er + exc - inh                       # (N, M)  feed-forward numerator of eq. 3
        b = Gr + exc + inh                            # (N, M)  feed-forward denominator of eq. 3
        den = xp.maximum(b, EPS)
        zs, dens, ss, qs = [a / den], [den], [], []   # z_0: plain CWA (q_0 = 0)
        for _ in range(self.steps):
            r = xp.maximum(zs[-1], 0)                 # (N, M)  activity of the layer, eq. 4
            s = r @ H                                 # (N, K)  drive of the interneurons
            q = s / (Gr + s)                          # (N, K)  eq. 3 with e_j = +1, e_r = 0
            lat = q @ L                               # (N, M)  lateral inhibitory conductance
            den = xp.maximum(b + lat, EPS)            # (N, M)  G_r + exc + inh + lat
            zs.append((a - lat) / den)                # (N, M)  eq. 5 with the interneurons at -1
            dens.append(den)
            ss.append(s)
            qs.append(q)
        self.x, self.G, self.H, self.L = x, G, H, L
        self.zs, self.dens, self.ss, self.qs = zs, dens, ss, qs
        return zs[-1]

    def backward(self, dz):
        """dz: (N, M) gradient of z_T -> dx: (N, D); fills grads g, g_in, g_out (BPTT)."""
        x, G, H, L, ni, Gr = self.x, self.G, self.H, self.L, self.n_inhibitory, self.rest_conductance
        zs, dens, ss, qs = self.zs, self.dens, self.ss, self.qs
        da, db = xp.zeros_like(dz), xp.zeros_like(dz)
        dH, dL = xp.zeros_like(H), xp.zeros_like(L)
        for t in range(self.steps, 0, -1):            # z_t = (a - lat_t) / den_t
            dnum = dz / dens[t]
            dden = xp.where(dens[t] > EPS, -dnum * zs[t], 0)
            da += dnum                                # a enters num with +1
            db += dden                                # b enters den with +1
            dlat = dden - dnum                        # lat: -1 in num, +1 in den
            q, s = qs[t - 1], ss[t - 1]
            dL += q.T @ dlat                          # lat = q @ L
            dq = dlat @ L.T
            ds = dq * Gr / (Gr + s) ** 2              # q = s / (G_r + s)
            r = xp.maximum(zs[t - 1], 0)
            dH += r.T @ ds                            # s = r @ H
            dz = (ds @ H.T) * (zs[t - 1] > 0)         # r = max(z_(t-1), 0)
        dnum = dz / dens[0]                           # z_0 = a / den_0
        da += dnum
        db += xp.where(dens[0] > EPS, -dnum * zs[0], 0)
        dexc = da + db                                # exc: +1 in a, +1 in b
        dinh = db - da                                # inh: -1 in a, +1 in b
        dG = xp.empty_like(G)
        dG[:ni] = x[:, :ni].T @ dinh
        dG[ni:] = x[:, ni:].T @ dexc
        self.grads["g"] = xp.where(G > 0, dG, 0)      # h(g) = max(1 + g, 0)
        self.grads["g_in"] = xp.where(H > 0, dH, 0)
        self.grads["g_out"] = xp.where(L > 0, dL, 0)
        if not self.needs_input_grad:
            return None
        return xp.concatenate([dinh @ G[:ni].T, dexc @ G[ni:].T], axis=1)   # (N, D)
