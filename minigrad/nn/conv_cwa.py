"""Convolutional conductance-weighted averaging (ConvCWA): CWA applied to every receptive field.

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission, section 4.2 (equation 6) and its reference
code, supplement 6.1 (``shared/papers/cwa-hodgkin-huxley-networks.txt``).
The dense layer and the meaning of every symbol are in ``cwa.py``.

"the simplest adaptation is to assign each presynaptic channel a valence
(i.e., zero-current potential) in the context of the receptive field. For the
experiments, half of the channels were considered excitatory and half
inhibitory" (section 4.2). Where an affine convolution computes
z = b + W * p, CWA computes (equation 6)::

    z = (G_r e_r + (G . e) * p) / max(G_r + G * p, 1e-6)

with ``*`` the convolution, ``.`` the elementwise product with the valences
broadcast over the filters, G = h(g) = max(1 + g, 0) (F, C, HH, WW) the
conductances, e (C,) the valence of each input channel: the first
``n_inhibitory`` channels -1, the others +1 (as the paper's code does,
``es[:in_channels//2] = -1``; its equation 6 writes the halves the other way
round, which only relabels channels). G_r = 1 and e_r = 0 for convolutional
nets (section 4.3, "Bias Term": any other e_r "caused training to fail").
The floor 1e-6 is the paper's code's ``clamp(normalizer, 1e-6)``; for inputs
p >= 0 the denominator is >= G_r and the floor never acts.

As in ``nn.CWA``, the valences split the sum into inhibitory and excitatory
evidence, each one ordinary convolution over its own channels (the paper's
code runs two full convolutions, ``(G . e) * p`` and ``G * p``; the split has
the multiply-adds of one)::

    inh = G_I * p_I        (N, F, Ho, Wo)   channels [0, n_inhibitory),   e = -1
    exc = G_E * p_E        (N, F, Ho, Wo)   channels [n_inhibitory, C),   e = +1
    num = G_r e_r + exc - inh
    den = max(G_r + exc + inh, 1e-6)
    z   = num / den

Each convolution is the engine's one machinery (``conv.py``: ``conv_patches``
turns p_I and p_E into patch rows, ``filter_rows`` lays G_I and G_E out in
the same order, the products are matrix products of rows, ``rows_to_image``
and ``conv_input_grad`` go back to images; ``conv_rows`` and
``conv_rows_backward`` chain them), so ConvCWA runs the textbook
im2col/col2im under ``MINIGRAD_KERNELS=reference`` and the channels-last fast
layout otherwise, like ``Conv2d``.

Backward, given dz (N, F, Ho, Wo) as rows (N*Ho*Wo, F), the lines in reverse::

    dnum = dz / den
    dden = -dnum * z            (0 where the 1e-6 floor acted)
    dexc = dnum + dden          exc: +1 in num, +1 in den
    dinh = dden - dnum          inh: -1 in num, +1 in den
    dG_E = rows_to_filters(dexc^T @ cols_E),  dp_E = conv_input_grad(dexc, G_E)   (conv_rows_backward)
    dG_I = rows_to_filters(dinh^T @ cols_I),  dp_I = conv_input_grad(dinh, G_I)
    dg   = dG * [1 + g > 0]     h(g) = max(1 + g, 0): slope 1 above 0, 0 below

Feedback alignment (``feedback="fa"``, beyond the paper): the conductances'
role in dp, G_E and G_I in ``conv_input_grad``, is taken by fixed random
non-negative filters B (F, C, HH, WW), uniform in [0, 2) (``cwa_feedback_init``),
through the engine's one feedback mechanism (``feedback_of``, ``dx_weight``).

Shapes: x (N, C, H, W) activities >= 0; g (F, C, HH, WW); output
(N, F, Ho, Wo) in [-1, 1], Ho = 1 + (H + 2 pad - HH) // stride.
"""
import numpy as np

from ..backend import make_rng, xp
from .conv import conv_rows, conv_rows_backward, image_to_rows, rows_to_image
from .cwa import EPS, ConductanceLayer, check_activities, cwa_feedback_init


class ConvCWA(ConductanceLayer):
    """Convolutional CWA layer (paper equation 6): F CWA filters of size HH x WW over C channels.

    Args:
        in_channels: C, presynaptic channels.
        out_channels: F, CWA channels.
        kernel_size: int k (k x k) or (HH, WW).
        stride, padding: ints (padding adds zero activity).
        n_inhibitory: how many input channels are inhibitory (valence -1): the first ones;
            default C // 2, as in the paper's code.
        rest_conductance: G_r > 0, fixed (paper: 1).
        rest_potential: e_r in [-1, 1], fixed (paper: 0 for convolutional nets).
        rng: numpy Generator or int seed.
        dtype: parameter dtype (default the backend's float32).
        init_std: std of the initial g; default Glorot normal as ``torch.nn.init.xavier_normal_``
            on the filters, sqrt(2 / ((C + F) HH WW)), so the conductances start near 1.
        check_input_range: if True (default) refuse inputs below 0 (naming the smallest value).
        feedback: "bp", or "fa" (fixed random non-negative B in place of G in dx).

    Params: ``g`` (F, C, HH, WW), conductances G = max(1 + g, 0). Buffers: ``B`` (F, C, HH, WW)
    when feedback="fa". ``valences`` (C,): -1 for the first ``n_inhibitory`` channels, else +1.
    ``needs_input_grad`` (default True): set False to skip dx (``backward`` returns None).
    """
    needs_input_grad = True
    valence_axis = 1                         # g (F, C, HH, WW): one valence per input channel C

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, n_inhibitory=None,
                 rest_conductance=1.0, rest_potential=0.0, rng=None, dtype=None, init_std=None,
                 check_input_range=True, feedback="bp"):
        super().__init__()
        HH, WW = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        C, F = int(in_channels), int(out_channels)
        n_inhibitory = C // 2 if n_inhibitory is None else int(n_inhibitory)
        if C < 1 or F < 1 or HH < 1 or WW < 1:
            raise ValueError(f"ConvCWA: channels and kernel size must be >= 1, got in_channels={in_channels}, "
                             f"out_channels={out_channels}, kernel_size={kernel_size}")
        if int(stride) < 1 or int(padding) < 0:
            raise ValueError(f"ConvCWA: stride must be >= 1 and padding >= 0, got stride={stride}, "
                             f"padding={padding}")
        if not 0 <= n_inhibitory <= C:
            raise ValueError(f"ConvCWA: n_inhibitory must be between 0 and in_channels={C}, got {n_inhibitory}")
        if not rest_conductance > 0:
            raise ValueError(f"ConvCWA: rest_conductance must be > 0, got {rest_conductance}")
        if not -1.0 <= rest_potential <= 1.0:
            raise ValueError(f"ConvCWA: rest_potential must lie in [-1, 1], got {rest_potential}")
        rng = make_rng(rng)
        self.in_channels, self.out_channels, self.n_inhibitory = C, F, n_inhibitory
        self.kernel, self.stride, self.padding = (int(HH), int(WW)), int(stride), int(padding)
        self.rest_conductance, self.rest_potential = float(rest_conductance), float(rest_potential)
        self.check_input_range = bool(check_input_range)
        std = np.sqrt(2.0 / ((C + F) * HH * WW)) if init_std is None else init_std
        shape = (F, C, HH, WW)
        self._init_param("g", std * rng.standard_normal(shape), dtype)
        self._init_feedback(feedback, rng, lambda fb_rng: {"g": cwa_feedback_init(shape, fb_rng)})
        # (channel slice, sign): the inhibitory then the excitatory channels, empty groups left out
        self.groups = [(sl, sign) for sl, sign in ((slice(0, n_inhibitory), -1.0), (slice(n_inhibitory, C), 1.0))
                       if sl.stop > sl.start]

    def forward(self, x):
        """x: (N, C, H, W) activities >= 0 -> z: (N, F, Ho, Wo) in [-1, 1]."""
        C = self.in_channels
        self._check_input(x, 4, f"(N, C, H, W) with C={C}", sizes={1: C})
        if self.check_input_range:
            check_activities(self, x)               # p >= 0, sec. 2.3: else z leaves [-1, 1]
        Gr, er = self.rest_conductance, self.rest_potential
        G = self.conductances()                     # (F, C, HH, WW)  G = (1 + g)_+, sec. 4.3
        self.cache = None                           # free the last batch's patches first
        parts = []                                  # per group: (slice, sign, cols, geom)
        exc = inh = 0.0
        for sl, sign in self.groups:
            evidence, cols, geom = conv_rows(x[:, sl], G[:, sl], self.stride, self.padding,
                                             layer="ConvCWA")   # (N*Ho*Wo, F)  G_k * p_k, eq. 6
            if sign < 0:
                inh = evidence                      # inhibitory channels' conductance, e = -1
            else:
                exc = evidence                      # excitatory channels' conductance, e = +1
            parts.append((sl, sign, cols, geom))
        # the elementwise lines below run in place (one new array each for num and den): on the
        # first layers of a CWA net they cost as much as the products
        num = exc - inh                             # a new array (one group empty: exc - 0 or 0 - inh)
        if Gr * er:
            num += Gr * er                          # G_r e_r + (G . e) * p, eq. 6 numerator
        den = exc + inh
        den += Gr                                   # G_r + G * p
        floor_acts = not (self.check_input_range and Gr > EPS)   # p >= 0 checked: den >= G_r > 1e-6
        if floor_acts:
            xp.maximum(den, EPS, out=den)           # floored as in sec. 6.1
        num /= den
        z = num                                     # (N*Ho*Wo, F) eq. 6: num / den
        self.cache = dict(parts=parts, den=den, z=z, G=G, floor_acts=floor_acts)
        return rows_to_image(z, parts[0][3])        # (N, F, Ho, Wo)

    def backward(self, dz):
        """dz: (N, F, Ho, Wo) -> dx: (N, C, H, W) (None when ``needs_input_grad`` is False); fills grads g."""
        c = self.cache
        dz_rows = image_to_rows(dz)                 # (N*Ho*Wo, F)
        dnum = dz_rows / c["den"]                   # z = num / den
        dden = dnum * c["z"]
        xp.negative(dden, out=dden)                 # dden = -dnum * z = -dz num / den^2
        if c["floor_acts"]:
            dden = xp.where(c["den"] > EPS, dden, 0)   # 0 where the 1e-6 floor acted
        d_evidence = {-1.0: dden - dnum, 1.0: dnum + dden}    # dinh, dexc
        back = self.dx_weight("g") if self.needs_input_grad else None   # G = h(g) for backprop, B for FA
        dG, dx = xp.empty_like(c["G"]), []
        for sl, sign, cols, geom in c["parts"]:     # evidence = cols @ G_rows^T, per channel group
            dG[:, sl], dx_k = conv_rows_backward(d_evidence[sign], cols, geom,
                                                 None if back is None else back[:, sl])
            dx.append(dx_k)
        self.grads["g"] = xp.where(c["G"] > 0, dG, 0)  # h(g) = max(1 + g, 0)
        if back is None:
            return None
        return dx[0] if len(dx) == 1 else xp.concatenate(dx, axis=1)   # (N, C, H, W): [dp_I, dp_E]
