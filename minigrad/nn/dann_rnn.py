"""Recurrent Dale's ANN layer (Cornford et al. 2021, appendix B.2, equation 19).

Unrolled over time, an RNN is a deep network whose layers share weights; the
DANN recurrence puts feedforward inhibition between time steps (the paper's
"fast feedback inhibition") and on the input. Two E/I blocks (see
``dann.py``), one reading the previous hidden state and one the input::

    r_t   = (Wee h_{t-1} - Wei Wie h_{t-1}) / (Wei (e^alpha . Wie h_{t-1}) + eps)    recurrent block, d = H
    q_t   = (Uee x_t - Uei Uie x_t) / (Uei (e^alpha_x . Uie x_t) + eps)              input block, d = D
    z_t   = g * r_t + gx * q_t + b
    h_t   = ReLU(z_t)

Only the H excitatory units form the state and the output. The input block
does not depend on the recurrence, so it runs once on all N*T rows. With
h_0 = 0 the recurrent drive at t = 1 is 0 (r_1 = 0/eps = 0).

Backward (BPTT), walking t = T..1::

    dz_t     = (dout_t + dh_next) * [z_t > 0]
    dr_t     = dz_t * g          -> recurrent block backward: grads (summed over t), dh_{t-1}
    dh_next  = dh_{t-1}
    dq       = dz * gx  (all steps at once) -> input block backward: grads, dx

Shapes: x (N, T, D) non-negative; output h (N, T, H). Params: recurrent block
Wee (H, H), Wie (Hi, H), Wei (H, Hi), alpha (Hi,), g (H,); input block Uee
(H, D), Uie (Di, D), Uei (H, Di), alpha_x (Di,), gx (H,); bias b (H,).
Both blocks are initialised by algorithm 1 (d = H and d = D) and corrected
as DANN blocks by ``minigrad.dale`` (``dale_groups`` lists both).

Kernels: one version of each pass (the loops below, on the blocks of
``dann.py``), the textbook code under both ``MINIGRAD_KERNELS`` settings.
"""
import numpy as np

from ..backend import make_rng, xp
from .base import Layer, check_arg
from .dann import dann_block_backward, dann_block_forward, dann_feedback_init, dann_init
from .rnn import check_h0


class DANNRNN(Layer):
    """ReLU recurrent layer with feedforward inhibition on the recurrence and the input.

    Args:
        input_size: D (non-negative inputs).
        hidden_size: H, excitatory units (the state).
        n_inhibitory: inhibitory units of the recurrent block (default H // 10, at least 1).
        n_inhibitory_input: inhibitory units of the input block (default like n_inhibitory).
        rng: numpy Generator or int seed.
        feedback: "bp" or "fa": fixed non-negative Bee, Bie (recurrence) and Bue, Bui
            (input) carry the error backwards instead of Wee, Wie, Uee, Uie.
        dtype: parameter dtype.

    After ``backward``, ``dh0`` (N, H) holds the gradient of the initial state.
    With ``h0=None`` (zeros) that gradient is huge (~1e9): at the first step the
    recurrent block divides (0 - 0) by (0 + eps), a singular point of the
    divisive inhibition, and the exact derivative there scales like 1 / eps.
    It is correct, and harmless when h0 is not trained; pass a non-zero h0
    if you need a usable dh0.
    ``needs_input_grad`` (default True): set False to skip dx (``dh0`` is still set),
    ``backward`` then returns None (``Trainer`` does so for the first layer while it trains).
    """
    needs_input_grad = True
    feedback_of = {"Wee": "Bee", "Wie": "Bie", "Uee": "Bue", "Uie": "Bui"}

    def __init__(self, input_size, hidden_size, n_inhibitory=None, n_inhibitory_input=None, rng=None,
                 feedback="bp", dtype=None):
        super().__init__()
        rng = make_rng(rng)
        self.input_size = check_arg(self, "input_size", input_size, 1, integer=True)
        self.hidden_size = check_arg(self, "hidden_size", hidden_size, 1, integer=True)
        self.ni = (max(1, self.hidden_size // 10) if n_inhibitory is None
                   else check_arg(self, "n_inhibitory", n_inhibitory, 1, integer=True))
        self.ni_x = (self.ni if n_inhibitory_input is None
                     else check_arg(self, "n_inhibitory_input", n_inhibitory_input, 1, integer=True))
        H, D = self.hidden_size, self.input_size
        rec = dann_init(H, self.ni, H, rng)
        inp = dann_init(H, self.ni_x, D, rng)
        for k in ("Wee", "Wie", "Wei", "alpha", "g"):
            self._init_param(k, rec[k], dtype)
        for k, name in (("Wee", "Uee"), ("Wie", "Uie"), ("Wei", "Uei"), ("alpha", "alpha_x"), ("g", "gx")):
            self._init_param(name, inp[k], dtype)
        self._init_param("b", np.zeros(H), dtype)

        def draw(fb_rng):                       # the recurrent block's feedback first, then the input's
            B = dict(zip(("Wee", "Wie"), dann_feedback_init(H, self.ni, H, fb_rng)))
            B.update(zip(("Uee", "Uie"), dann_feedback_init(H, self.ni_x, D, fb_rng)))
            return B
        self._init_feedback(feedback, rng, draw)
        self.dale_groups = [
            dict(ne=H, ni=self.ni, d=H, Wee="Wee", Wie="Wie", Wei="Wei", alpha="alpha", g="g"),
            dict(ne=H, ni=self.ni_x, d=D, Wee="Uee", Wie="Uie", Wei="Uei", alpha="alpha_x", g="gx"),
        ]

    def forward(self, x, h0=None):
        """x: (N, T, D) non-negative, h0: (N, H) or None (zeros) -> h: (N, T, H)."""
        self._check_input(x, 3, f"(N, T, D) with D={self.input_size}", sizes={2: self.input_size})
        N, T, D = x.shape
        H, p = self.hidden_size, self.params
        if h0 is None:
            h0 = xp.zeros((N, H), dtype=x.dtype)        # first block: 0 / eps, so dh0 ~ 1/eps (see class doc)
        else:
            check_h0("DANNRNN", h0, N, H)
        q, self.in_cache = dann_block_forward(x.reshape(N * T, D), p["Uee"], p["Uie"], p["Uei"], p["alpha_x"])
        drive = (p["gx"] * q + p["b"]).reshape(N, T, H)       # input part of z_t, all steps at once
        h = xp.empty((N, T, H), dtype=drive.dtype)
        self.rec_caches = []
        prev = h0
        for t in range(T):
            r, cache = dann_block_forward(prev, p["Wee"], p["Wie"], p["Wei"], p["alpha"])
            prev = h[:, t] = xp.maximum(p["g"] * r + drive[:, t], 0)     # h_t = ReLU(z_t), eq. 19
            self.rec_caches.append(cache)
        self.x, self.h0, self.h = x, h0, h
        return h

    def backward(self, dout):
        """dout: (N, T, H) -> dx: (N, T, D) (None when ``needs_input_grad`` is False); fills
        every gradient and sets ``self.dh0``."""
        x, h, p = self.x, self.h, self.params
        N, T, D = x.shape
        H = self.hidden_size
        dz = xp.empty_like(h)
        dh_next = xp.zeros((N, H), dtype=h.dtype)
        rec = {k: xp.zeros_like(p[k]) for k in ("Wee", "Wie", "Wei", "alpha", "g")}
        for t in reversed(range(T)):
            dz[:, t] = (dout[:, t] + dh_next) * (h[:, t] > 0)
            cache = self.rec_caches[t]
            rec["g"] += (dz[:, t] * cache["r"]).sum(axis=0)
            grads_t, dh_next = dann_block_backward(dz[:, t] * p["g"], cache, p["Wei"],
                                                   self.dx_weight("Wee"), self.dx_weight("Wie"))
            for k, v in grads_t.items():
                rec[k] += v
        self.dh0 = dh_next
        dz_rows = dz.reshape(N * T, H)
        self.grads.update(rec)
        self.grads["b"] = dz_rows.sum(axis=0)
        self.grads["gx"] = (dz_rows * self.in_cache["r"]).sum(axis=0)
        F = (self.dx_weight("Uee"), self.dx_weight("Uie")) if self.needs_input_grad else (None, None)
        grads_x, dx = dann_block_backward(dz_rows * p["gx"], self.in_cache, p["Uei"], *F)
        for k, name in (("Wee", "Uee"), ("Wie", "Uie"), ("Wei", "Uei"), ("alpha", "alpha_x")):
            self.grads[name] = grads_x[k]
        return None if dx is None else dx.reshape(N, T, D)
