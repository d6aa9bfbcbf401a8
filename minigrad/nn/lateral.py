"""Laterally connected convolutions: the LC block (recurrent lateral activation) and the LCEI block
(excitatory and inhibitory lateral paths).

Paper: "Incorporating visual cortical lateral connection properties into CNN:
recurrent activation and excitatory-inhibitory separation", sections 3.1, 3.2
and appendix A.1 (``shared/papers/lateral-connections-cnn.txt``). Its
equations 1-6 did not survive the text extraction; the ones below are derived
from the sentences quoted beside them.

Notation: I (N, C, H, W) the input image, ``*`` a convolution, R the ReLU,
T the tanh, F the channels of the block ("8 channels for model 1 and 4 for
model 2", section 3.3; 7x7 kernels). Every convolution is the engine's one
machinery (``conv.py``: ``conv_rows`` / ``conv_rows_backward``), so both
blocks run the textbook im2col/col2im under ``MINIGRAD_KERNELS=reference``
and the channels-last fast layout otherwise. Maps are kept as rows
(N*Ho*Wo, F), one row per pixel; ``rows_to_image`` views them as images.

LC block (``LateralConv2d``), section 3.1
------------------------------------------
"The process first performs convolution with an input image I [with W_a].
Next, [A] that represents a V1 sheet generates activation using both [the
afferent map] and the previous output of [A] ... the output sizes of W_a and
W_l should be the same. Note that both W_a and W_l are shared across all time
steps" (eqs. 2-3), "where (+) is the element-wise addition operator"::

    aff = W_a * I + b_a                       (N, F, Ho, Wo)   computed once
    A_0 = R(aff)                              eq. 2
    A_t = R(aff (+) W_l * A_(t-1)),  t = 1 .. loops             eq. 3
    output A_loops

W_l (F, F, k, k) has odd k and padding k // 2 (stride 1), so the map keeps
its size and "the input and output channel sizes should match". No bias on
W_l: the afferent bias b_a already enters every step. "(Note that the number
of parameters in F-CNN and LC-CNN are equal due to the weight sharing in
LC-CNN.)": F-CNN (eq. 1) is W_a then a second, unshared F -> F convolution
without bias (``Conv2d(F, F, k, padding=k // 2, bias=False)``), the same
F*C*k*k + F + F*F*k*k parameters.

"Back Propagation Through Time (BPTT) is used for training ... Gradients are
accumulated over all time steps, and the shared weight [W_l] is updated by
summing these accumulated gradients. Since [W_a] is only used once (Eq. 2) and
its output reused (Eq. 3), its gradients are not accumulated." Backward,
given dA_loops, walking t = loops .. 1 (m_t = [pre-activation of A_t > 0])::

    dpre_t   = dA_t * m_t
    daff    += dpre_t                          aff feeds every step
    dW_l    += dpre_t^T-conv A_(t-1)           summed over the steps (BPTT)
    dA_(t-1) = conv_transpose(dpre_t, W_l)
    daff    += dA_0 * m_0
    db_a = sum daff,  dW_a = daff^T-conv I,  dI = conv_transpose(daff, W_a)   once

``maps`` keeps A_0 .. A_loops of the last forward pass (figures 5-7: sparsity
and response distributions over the loops).

LCEI block (``LateralEIConv2d``), section 3.2
---------------------------------------------
"It begins with an input image I undergoing a convolution with W_a, resulting
in the initial afferent activation A. Subsequently, W_exc and W_inh, the
excitatory and inhibitory weights, are applied to compute the lateral
interactions on A. An element-wise addition follows this, passing the sum to
the fully connected layer. We utilize the tanh activation function to enable
[the two paths] to output positive and negative activations" (eqs. 5-6;
appendix A.1's table: afferent conv with ReLU, the two lateral convs with
Tanh, then the sum with no activation)::

    A = R(W_a * I + b_a)                      (N, F, Ho, Wo)   eq. 5
    E = T(W_exc * A)                          excitatory path  eq. 6
    H = T(W_inh * A)                          inhibitory path  eq. 6
    out = A (+) E (+) H

W_exc and W_inh (F, F, k, k) are the parameters ``We`` and ``Wi``, bias-free
(the separation penalties act on the lateral weights alone), odd k, padding
k // 2. Nothing in the forward pass makes one path excitatory: the penalties
of ``minigrad.penalties`` (section 3.2, eqs. 7-10) push ``We`` positive and
``Wi`` negative; they read the parameters by name, e.g. for the block at
index 0 of a Sequential ``SatExpSeparation(exc="0.We", inh="0.Wi", beta=...)``.
Both lateral convolutions read the same patches of A: one patch matrix, one
product with the stacked filters [W_exc; W_inh]. Backward, given dout::

    dE_pre = dout * (1 - E^2),   dH_pre = dout * (1 - H^2)
    dW_exc = dE_pre^T-conv A,    dW_inh = dH_pre^T-conv A
    dA     = dout + conv_transpose([dE_pre, dH_pre], [W_exc; W_inh])
    daff   = dA * [pre-activation of A > 0]
    db_a = sum daff,  dW_a = daff^T-conv I,  dI = conv_transpose(daff, W_a)

``maps`` keeps the last forward pass's {"afferent": A, "excitatory": E,
"inhibitory": H} (figure 11: the feature maps of each path).
"""
import numpy as np

from ..backend import make_rng, xp
from .base import Layer
from .conv import conv_rows, conv_rows_backward, image_to_rows, rows_to_image


def _check_block_args(name, in_channels, channels, kernel_size, padding):
    if int(in_channels) < 1 or int(channels) < 1:
        raise ValueError(f"{name}: in_channels and channels must be >= 1, got {in_channels}, {channels}")
    if not np.isscalar(kernel_size) or int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
        raise ValueError(f"{name}: kernel_size must be an odd int (the lateral convolution keeps the map's "
                         f"size with padding k // 2), got {kernel_size!r}")
    if int(padding) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {padding}")


class _LateralBase(Layer):
    """Shared afferent convolution: ``Wa`` (F, C, k, k), ``ba`` (F,), He-initialised like Conv2d."""
    needs_input_grad = True

    def _init_afferent(self, name, in_channels, channels, kernel_size, padding, rng, dtype):
        _check_block_args(name, in_channels, channels, kernel_size, padding)
        self.in_channels, self.channels = int(in_channels), int(channels)
        self.k, self.padding = int(kernel_size), int(padding)
        C, F, k = self.in_channels, self.channels, self.k
        self._init_param("Wa", np.sqrt(2.0 / (C * k * k)) * rng.standard_normal((F, C, k, k)), dtype)
        self._init_param("ba", np.zeros(F), dtype)

    def _lateral_init(self, rng):
        """A lateral kernel (F, F, k, k), LeCun normal sqrt(1 / (F k k)): the lateral drive starts
        at about the size of the map it reads (He's factor 2 would let it grow loop after loop)."""
        F, k = self.channels, self.k
        return np.sqrt(1.0 / (F * k * k)) * rng.standard_normal((F, F, k, k))

    def _afferent(self, x):
        """aff rows (N*Ho*Wo, F) = W_a * x + b_a, with the patches kept for backward."""
        C = self.in_channels
        self._check_input(x, 4, f"(N, C, H, W) with C={C}", sizes={1: C})
        name = type(self).__name__
        aff, cols, geom = conv_rows(x, self.params["Wa"], 1, self.padding, layer=name)
        aff += self.params["ba"]
        self.aff_cache = (cols, geom)
        return aff, geom

    def _afferent_backward(self, daff):
        """daff rows -> grads Wa, ba; returns dx (or None when ``needs_input_grad`` is False)."""
        cols, geom = self.aff_cache
        self.grads["ba"] = daff.sum(axis=0)
        self.grads["Wa"], dx = conv_rows_backward(daff, cols, geom,
                                                  self.params["Wa"] if self.needs_input_grad else None)
        return dx


class LateralConv2d(_LateralBase):
    """LC block (section 3.1): afferent convolution, then ``loops`` steps of a shared lateral one.

    Args:
        in_channels: C.
        channels: F, the block's feature maps (paper: 8).
        kernel_size: odd k, used by both convolutions (paper: 7).
        loops: T >= 0, lateral steps (paper: 1, 3, 5; 0 is a plain convolution + ReLU).
        padding: padding of the afferent convolution (the lateral one always pads k // 2).
        rng: numpy Generator or int seed.
        dtype: parameter dtype (default the backend's float32).

    Params: ``Wa`` (F, C, k, k), ``ba`` (F,), ``Wl`` (F, F, k, k).
    Shapes: x (N, C, H, W) -> A_T (N, F, Ho, Wo), Ho = H + 2 padding - k + 1.
    After ``forward``: ``maps`` = [A_0, ..., A_T], each (N, F, Ho, Wo).
    ``needs_input_grad`` (default True): set False to skip dx (``backward`` returns None).
    """

    def __init__(self, in_channels, channels, kernel_size, loops=1, padding=0, rng=None, dtype=None):
        super().__init__()
        if int(loops) != loops or loops < 0:
            raise ValueError(f"LateralConv2d: loops must be an int >= 0, got {loops!r}")
        rng = make_rng(rng)
        self._init_afferent("LateralConv2d", in_channels, channels, kernel_size, padding, rng, dtype)
        self.loops = int(loops)
        self._init_param("Wl", self._lateral_init(rng), dtype)
        self.maps = []

    def forward(self, x):
        """x: (N, C, H, W) -> A_T: (N, F, Ho, Wo)."""
        Wl, pad_l = self.params["Wl"], self.k // 2
        self.steps = []                                   # per loop: (patches of A_(t-1), geom, mask m_t)
        aff, geom = self._afferent(x)                     # (N*Ho*Wo, F)  W_a * I + b_a, computed once
        A = xp.maximum(aff, 0)                            # A_0 = R(aff), eq. 2
        self.mask0 = aff > 0
        self.maps = [rows_to_image(A, geom)]
        for _ in range(self.loops):
            lat, cols, lgeom = conv_rows(self.maps[-1], Wl, 1, pad_l, layer="LateralConv2d")   # W_l * A_(t-1)
            pre = aff + lat                               # aff (+) W_l * A_(t-1), eq. 3
            A = xp.maximum(pre, 0)                        # A_t = R(...)
            self.steps.append((cols, lgeom, pre > 0))
            self.maps.append(rows_to_image(A, geom))
        return self.maps[-1]

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx: (N, C, H, W) (or None); fills grads Wa, ba, Wl (BPTT)."""
        dA = image_to_rows(dout)                          # (N*Ho*Wo, F)
        daff = 0.0
        dWl = xp.zeros_like(self.params["Wl"])
        for cols, lgeom, mask in reversed(self.steps):   # t = T .. 1
            dpre = dA * mask                              # through A_t = R(pre_t)
            daff = daff + dpre                            # pre_t = aff + lat_t
            dWl_t, dprev = conv_rows_backward(dpre, cols, lgeom, self.params["Wl"])
            dWl += dWl_t                                  # W_l shared: gradients summed over the loops
            dA = image_to_rows(dprev)                     # dA_(t-1)
        daff = daff + dA * self.mask0                     # A_0 = R(aff)
        self.grads["Wl"] = dWl
        return self._afferent_backward(daff)


class LateralEIConv2d(_LateralBase):
    """LCEI block (section 3.2): afferent convolution plus an excitatory and an inhibitory lateral path.

    Args:
        in_channels: C.
        channels: F (paper: 4).
        kernel_size: odd k (paper: 7).
        padding: padding of the afferent convolution (the lateral ones pad k // 2).
        rng: numpy Generator or int seed.
        dtype: parameter dtype (default the backend's float32).

    Params: ``Wa`` (F, C, k, k), ``ba`` (F,), ``We`` (F, F, k, k) the excitatory lateral path
    (W_exc), ``Wi`` (F, F, k, k) the inhibitory one (W_inh). ``paths`` = {"excitatory": "We",
    "inhibitory": "Wi"} says which is which (the names the separation penalties read).
    Shapes: x (N, C, H, W) -> out (N, F, Ho, Wo) = A + tanh(W_exc * A) + tanh(W_inh * A).
    After ``forward``: ``maps`` = {"afferent": A, "excitatory": E, "inhibitory": H}.
    ``needs_input_grad`` (default True): set False to skip dx (``backward`` returns None).
    """
    paths = {"excitatory": "We", "inhibitory": "Wi"}

    def __init__(self, in_channels, channels, kernel_size, padding=0, rng=None, dtype=None):
        super().__init__()
        rng = make_rng(rng)
        self._init_afferent("LateralEIConv2d", in_channels, channels, kernel_size, padding, rng, dtype)
        self._init_param("We", self._lateral_init(rng), dtype)
        self._init_param("Wi", self._lateral_init(rng), dtype)
        self.maps = {}

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, F, Ho, Wo)."""
        F = self.channels
        aff, geom = self._afferent(x)                     # W_a * I + b_a
        A = xp.maximum(aff, 0)                            # A = R(...), eq. 5
        self.maskA = aff > 0
        W_lat = xp.concatenate([self.params["We"], self.params["Wi"]])        # (2F, F, k, k)
        lat, cols, lgeom = conv_rows(rows_to_image(A, geom), W_lat, 1, self.k // 2,
                                     layer="LateralEIConv2d")                # (N*Ho*Wo, 2F), one product
        EH = xp.tanh(lat)                                 # [E | H] = T(W_exc * A), T(W_inh * A), eq. 6
        E, H = EH[:, :F], EH[:, F:]
        out = A + E + H                                   # element-wise sum, passed on
        self.lat_cache = (cols, lgeom, EH, W_lat)
        self.maps = {"afferent": rows_to_image(A, geom), "excitatory": rows_to_image(E, geom),
                     "inhibitory": rows_to_image(H, geom)}
        return rows_to_image(out, geom)

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx: (N, C, H, W) (or None); fills grads Wa, ba, We, Wi."""
        F = self.channels
        cols, lgeom, EH, W_lat = self.lat_cache
        d = image_to_rows(dout)                           # (N*Ho*Wo, F)
        dlat = xp.concatenate([d, d], axis=1) * (1 - EH * EH)   # [dE_pre | dH_pre], tanh' = 1 - tanh^2
        dW_lat, dA_lat = conv_rows_backward(dlat, cols, lgeom, W_lat)
        self.grads["We"], self.grads["Wi"] = dW_lat[:F], dW_lat[F:]
        dA = d + image_to_rows(dA_lat)                    # A feeds the sum and both paths
        return self._afferent_backward(dA * self.maskA)
