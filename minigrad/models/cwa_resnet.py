"""A residual CWA network: ResNet-18's topology without batchnorm, with CWA convolutions.

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission, sections 4.2-4.3
(``shared/papers/cwa-hodgkin-huxley-networks.txt``): "This paper uses the
ResNet-18 architecture without BatchNorm but with CWA convolutions as in
Equation 6 and activated according to Equation 4." "ResNet-18 consists of four
blocks of two convolutions each. The initial input was projected to 64
channels, and the four blocks internally used 64, 128, 256, and 512 channels"
(table 1: 99.02% on MNIST, 85.06% on CIFAR-10). G_r = 1, e_r = 0 (section 4.3).

Topology (He et al. 2016, the CIFAR form: a 3x3 stem, no max-pool), x the
doubled input (``minigrad.data.double_inputs``: an inhibitory and an
excitatory copy of each channel)::

    p   = R(ConvCWA_3x3(x))                                  stem: "projected to 64 channels"
    4 stages (64, 128, 256, 512 channels; strides 1, 2, 2, 2), two basic blocks each
    GlobalAvgPool2d -> Linear (the affine readout of section 4.3, "Categorical Output")

A basic block, with p its input activity (N, C, H, W) in [0, 1]::

    z1  = ConvCWA_3x3(p, stride s)         in [-1, 1]        eq. 6
    p1  = R(z1)                            in [0, 1]         eq. 4
    z2  = ConvCWA_3x3(p1)                  in [-1, 1]
    sc  = p                                when the shape stays (identity)
        = [p[:, :, ::s, ::s], 0]           a new shape, shortcut="pad" (default): subsample, add zero channels
        = ConvCWA_1x1(p, stride s)         a new shape, shortcut="conv": the projection shortcut
    out = min(max(z2 + sc, 0), 1)          in [0, 1]

The shortcut of a block that changes shape (the paper does not say which; our
choice, measured). He et al. give two: "pad" (their option A, used for their
CIFAR-10 ResNets: parameter-free, so the stem's activity always reaches the
readout) and "conv" (option B, a 1x1 projection, here a CWA convolution, whose
output in [-1, 1] can switch a whole stage off). On CIFAR-10 at a quarter of the
widths (16-32-64-128, 150 Adam steps, ``scripts/cwa_deep_probe.py``), with
"conv" the last stage fell silent for every image (lr 3e-3) or the network
stayed at chance (lr 1e-3, also with Glorot conductances); with "pad" every
stage stayed alive and it learned (16.6% validation accuracy at lr 3e-3, 22.2%
at 1e-2; ``docs/cwa-deep-nets.md``). So "pad" is the default.

How the residual sum is kept in range (the paper does not say; this is our
choice). CWA's promise is that every potential lies in [-1, 1] and every
activity, an opening probability, in [0, 1] ("self-normalizing", section 2.3;
equation 4 "a simpler scaling and clipping function"): the reason it can do
without batchnorm, and what equation 3 assumes of its inputs. The sum z2 + sc
lies in [-1, 2], so the block clips it to [0, 1]: equation 4 with its upper
bound, which a single CWA output never reaches, made explicit. We did not
halve the sum (an equal-weight average, also in range): a block whose branch
is silent at initialisation (z2 <= 0 everywhere, which CWA layers with doubled
inputs easily are) would then halve the identity path and its gradient, 2^-8
through ResNet-18's eight blocks, the vanishing signal residual connections
exist to avoid. With the clip a silent block passes its input on unchanged.
Gradient: through where 0 < z2 + sc < 1, zero where clipped.

Use ``cwa_resnet18(in_channels=6, n_classes=10)`` for the paper's network (about
11 M conductances: GPU size) and small ``widths`` for a CPU smoke run.
"""
import numpy as np

from ..backend import make_rng, xp
from ..nn.activations import ReLU
from ..nn.base import Layer, Sequential
from ..nn.conv import GlobalAvgPool2d
from ..nn.conv_cwa import ConvCWA
from ..nn.linear import Linear
from .cwa_nets import CWA_INIT_STD

RESNET18_WIDTHS = (64, 128, 256, 512)   # section 4.3: "the four blocks internally used 64, 128, 256, and 512 channels"


class CWABasicBlock(Layer):
    """ResNet basic block of two 3x3 ConvCWA layers; output min(max(z2 + shortcut, 0), 1) in [0, 1].

    Args:
        in_channels: C; channels: F; stride: of the first convolution and of the shortcut.
        rng: numpy Generator or int seed; dtype: parameter dtype; feedback: "bp" or "fa" for
            every ConvCWA of the block; init_std: std of every ConvCWA's initial g (None: Glorot).
        shortcut: for a block that changes shape, "pad" (x subsampled by s, zero channels added up
            to F; no parameters; needs F >= C) or "conv" (ConvCWA 1x1 stride s, the projection).

    Sub-layers (their parameters appear as ``body.0.g``, ``body.2.g``, ``shortcut.g``):
    ``body`` = Sequential(ConvCWA 3x3 stride s, ReLU, ConvCWA 3x3), ``shortcut`` = None
    (identity when C == F and s == 1, or shortcut="pad") or ConvCWA 1x1 stride s.
    Shapes: x (N, C, H, W) activities in [0, 1] -> (N, F, Ho, Wo) in [0, 1].
    """

    def __init__(self, in_channels, channels, stride=1, rng=None, dtype=None, feedback="bp", init_std=None,
                 shortcut="pad"):
        super().__init__()
        if shortcut not in ("conv", "pad"):
            raise ValueError(f"CWABasicBlock: shortcut must be 'conv' or 'pad', got {shortcut!r}")
        if shortcut == "pad" and channels < in_channels:
            raise ValueError(f"CWABasicBlock: shortcut 'pad' needs channels >= in_channels, got {channels} < "
                             f"{in_channels}")
        rng = make_rng(rng)
        self.stride, self.pad = int(stride), shortcut == "pad"
        kw = dict(rng=rng, dtype=dtype, feedback=feedback, init_std=init_std)
        self.body = Sequential(ConvCWA(in_channels, channels, 3, stride=stride, padding=1, **kw),
                               ReLU(),
                               ConvCWA(channels, channels, 3, padding=1, **kw))
        self.shortcut = None
        if (stride != 1 or in_channels != channels) and not self.pad:
            self.shortcut = ConvCWA(in_channels, channels, 1, stride=stride, **kw)

    def _children(self):
        return [("body", self.body)] + ([("shortcut", self.shortcut)] if self.shortcut is not None else [])

    def _flat(self, attr):
        return {f"{name}.{k}": v for name, child in self._children() for k, v in getattr(child, attr).items()}

    # assembled from the sub-layers' own dicts, as Sequential does; the setters swallow Layer.__init__'s
    params = property(lambda self: self._flat("params"), lambda self, _: None)
    grads = property(lambda self: self._flat("grads"), lambda self, _: None)
    buffers = property(lambda self: self._flat("buffers"), lambda self, _: None)

    def named_layers(self, prefix=""):
        yield prefix.rstrip("."), self
        for name, child in self._children():
            yield from child.named_layers(f"{prefix}{name}.")

    def train(self):
        self.training = True
        for _, child in self._children():
            child.train()
        return self

    def eval(self):
        self.training = False
        for _, child in self._children():
            child.eval()
        return self

    def astype(self, dtype):
        for _, child in self._children():
            child.astype(dtype)
        return self

    def forward(self, x):
        """x: (N, C, H, W) activities -> (N, F, Ho, Wo) activities in [0, 1]."""
        z2 = self.body.forward(x)                                      # in [-1, 1]
        if self.shortcut is not None:
            sc = self.shortcut.forward(x)                              # ConvCWA 1x1: in [-1, 1]
        elif self.pad:
            sc = xp.zeros_like(z2)                                     # option A: x subsampled, zero channels
            sc[:, :x.shape[1]] = x[:, :, ::self.stride, ::self.stride]  # added; in [0, 1]
        else:
            sc = x                                                     # identity: in [0, 1]
        v = z2 + sc                                                    # in [-1, 2]
        self.active = (v > 0) & (v < 1)
        self.x_shape = x.shape
        return xp.clip(v, 0, 1)                                        # eq. 4, clipped to [0, 1]

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx: (N, C, H, W); fills every sub-layer's grads."""
        dv = dout * self.active                                        # through the clip
        dx = self.body.backward(dv)
        if self.shortcut is not None:
            return dx + self.shortcut.backward(dv)
        if self.pad:                                                   # the subsampled positions, first C channels
            dx[:, :, ::self.stride, ::self.stride] += dv[:, :self.x_shape[1]]
            return dx
        return dx + dv

    def __repr__(self):
        return f"CWABasicBlock(body={self.body!r}, shortcut={self.shortcut!r})"


def cwa_resnet18(in_channels=6, n_classes=10, widths=RESNET18_WIDTHS, blocks=(2, 2, 2, 2), rng=None,
                 dtype=None, feedback="bp", init_std=CWA_INIT_STD, shortcut="pad"):
    """ResNet-18 topology with CWA convolutions and no batchnorm (section 4.2; see the module docstring).

    Args:
        in_channels: channels of the (doubled) input, 6 for RGB, 2 for grayscale.
        n_classes: outputs of the affine readout.
        widths: channels of the four stages (the stem has ``widths[0]``); paper (64, 128, 256, 512).
        blocks: basic blocks per stage; paper (2, 2, 2, 2).
        rng: numpy Generator or int seed; dtype: parameter dtype.
        feedback: "bp" or "fa" for every ConvCWA (the readout always uses backprop's W).
        init_std: std of every ConvCWA's initial g, default 1.0 as ``cwa_cnn`` (``CWA_INIT_STD``,
            ``docs/cwa-deep-nets.md``); None gives the paper's Glorot initialisation.
        shortcut: "pad" (default) or "conv", for the three blocks that change shape (see the module
            docstring).
    Returns:
        Sequential(ConvCWA stem, ReLU, the blocks..., GlobalAvgPool2d, Linear): x (N, in_channels, H, W)
        activities in [0, 1] -> scores (N, n_classes).
    """
    if len(widths) != len(blocks):
        raise ValueError(f"cwa_resnet18: widths {widths} and blocks {blocks} must have the same length")
    rng = make_rng(rng)
    kw = dict(rng=rng, dtype=dtype, feedback=feedback, init_std=init_std)
    layers = [ConvCWA(in_channels, widths[0], 3, padding=1, **kw), ReLU()]
    kw["shortcut"] = shortcut
    c_in = widths[0]
    for stage, (width, n) in enumerate(zip(widths, blocks)):
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            layers.append(CWABasicBlock(c_in, width, stride=stride, **kw))
            c_in = width
    layers += [GlobalAvgPool2d(), Linear(c_in, n_classes, rng=rng, weight_scale=np.sqrt(1.0 / c_in), dtype=dtype)]
    return Sequential(*layers)
