"""The CWA paper's fully connected and convolutional networks, and their affine baselines.

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission, sections 4.2-4.3
(``shared/papers/cwa-hodgkin-huxley-networks.txt``).

Fully connected (FCN): "For MNIST, the FCN had two hidden layers of 2,000
neurons each. For CIFAR-10, a five-layer FCN with three hidden layers of 2000,
1000, 500 was used" (``MNIST_FCN``, ``CIFAR10_FCN``)::

    cwa:     [CWA(d, h) -> ReLU] per hidden layer -> Linear(h_last, classes)
    affine:  [Linear(d, h) (-> BatchNorm) -> ReLU] per hidden layer -> Linear

Convolutional (CNN): "a sequence of four or five convolutional layers with
stride 2 and no pooling", "four convolutional layers with 32, 64, 128, and 256
channels ... The CNN for CIFAR-10 added a fifth convolutional layer with 512
channels" (``MNIST_CNN``, ``CIFAR10_CNN``); kernels 5x5 ("The first
convolutional kernel in CNN has merely 6 x 5 x 5 = 150 connections"), padding 2
so a stride-2 layer halves the image (rounding up)::

    cwa:     [ConvCWA(c, c', 5, stride 2, padding 2) -> ReLU] per layer -> Flatten -> Linear
    affine:  [Conv2d(c, c', 5, stride 2, padding 2) (-> BatchNorm2d) -> ReLU] per layer -> Flatten -> Linear

Every CWA network ends with an affine readout ("a final affine layer with
softmax activation was added as the top layer of each CWA architecture",
section 4.3) and expects activities in [0, 1] with doubled inputs
(``minigrad.data.cwa_scale_clip`` then ``minigrad.data.double_inputs``: d = 2 x
784 for MNIST, 6 channels for CIFAR-10). Resting potential e_r = -0.4 for the
FCN and 0 for the CNN, G_r = 1 (section 4.3, "Bias Term"). ``batchnorm=True``
with ``kind="cwa"`` is the paper's CWA+BN (batchnorm before each ReLU).
The residual network is ``minigrad.models.cwa_resnet18``.

Deep CWA networks: why the layers after the first rest at e_r = 0 by default
----------------------------------------------------------------------------
Built literally (e_r = -0.4 in every layer), a network with two or more CWA
hidden layers cannot learn. Doubled inputs give every pixel an inhibitory and
an excitatory copy with conductances near 1 (Glorot, section 4.3), so the two
copies cancel: the first layer's numerator is e_r + sum_j (G_Ej - G_Ij) p_j, a
sum of random-sign terms of size sqrt(n) * std(g), over a denominator of about
2n (n ~ 150 active pixels). Its outputs are ~1e-3. A second layer fed with
activities ~1e-3 is dominated by its own rest term: z ~ G_r e_r / G_r = e_r =
-0.4 for every input, so every unit is silent after the ReLU, no gradient
reaches any CWA layer, and only the readout's bias learns (loss stays at
log 10). Measured (``lessons/20_cwa_dense.py``, MNIST sample, 2 x 500 CWA,
Glorot conductances, Adam): layer 1 z = -0.0024 +- 0.0024 with 15% of (unit, example) pairs active,
layer 2 z = -0.37 +- 0.01 with 0% active; the training loss stays at 2.303
over 300 steps at lr 1e-3 and at lr 1e-5 (the paper's rate: a longer
schedule cannot help when the gradient is exactly 0).

What does help is a rest potential of 0 in the deeper layers: a unit whose
inputs are all ~0 then sits at z ~ 0 and the tiny input evidence decides its
sign, so about half the units are active at initialisation (57% measured) and
the gradient flows; the first layer keeps the paper's e_r = -0.4 ("a tendency
towards not firing in the zero-input state" still holds: zero input gives
z = 0, inactive). With it the same network's loss falls at once (2.30 -> 1.46
in 300 steps at lr 1e-3, -> 0.21 at lr 3e-3, 91% validation accuracy).
The paper itself uses e_r = 0 in its convolutional networks. Adam's
per-parameter scaling makes the tiny activities no obstacle to learning; a
too-large rate is (at lr 1e-2 the second layer fell silent within 10 steps).
``deep_rest_potential=None`` restores the literal setting.

... and why their conductances start spread (init_std = 1.0)
-------------------------------------------------------------
With e_r = 0, networks of three or more CWA layers (the paper's CIFAR-10 FCN,
its CNNs) still failed: within 10-25 Adam steps a whole layer switched off,
every unit at z <= 0 for every input, and never came back (no gradient). The
cause is the paper's Glorot initialisation, std(g) = sqrt(2 / (D + M)) (0.03 at
width 2000): every conductance starts within a few percent of 1, so every unit
of a deeper layer computes nearly the same thing. Its numerator is (activity of
the layer below's excitatory half - that of its inhibitory half), shared by all
units, plus a per-unit part smaller by a factor ~std(g). Measured at
initialisation (``scripts/cwa_init_diagnostic.py``; "shared" is the variance of
a layer's mean z over inputs divided by the variance of z: 1 when all units
move together): MNIST 3 x 2000, layer 2 shared 0.999, layer 3 0.95; CIFAR-10
2000-1000-500, layers 1-3 shared 0.88, 0.998, 0.77. Such a layer is on or off
as a whole for each input, and training moves the shared term for all units at
once: the gradient reaching unit j of the layer below is e_j times a sum over
the layer's units, so all excitatory units are pushed one way and all
inhibitory ones the other, and Adam steps every g by ~lr whatever the
gradient's size, a large step next to the first layer's tiny outputs (z ~ 2e-3
on MNIST, 8e-4 on CIFAR-10, where each pixel's inhibitory and excitatory copies
cancel up to the spread of their conductances). Glorot's width scaling keeps
the variance of an affine sum constant; in CWA the scale of G cancels between
numerator and denominator, and only the relative spread of the conductances,
std(g), decides how different the units are: it should not shrink with width.

``init_std=1.0`` (the default of ``cwa_mlp``, ``cwa_cnn`` and ``cwa_resnet18``;
conductances G = (1 + g)_+ with mean 1 and sd 1, 16% starting closed, and
staying closed: h has slope 0 there, a sparse connectivity) makes the units of
a layer differ: at 0.75, shared fractions 0.0007, 0.61, 0.55 (MNIST 3 x 2000)
and 0.004, 0.48, 0.53 (CIFAR-10), at 1.0 0.0006, 0.52, 0.46 and 0.003, 0.40,
0.46; first-layer outputs 15-30x larger than Glorot's. Measured over training
(``scripts/cwa_deep_probe.py``, Adam betas 0.9 / 0.99, batch 64, a few thousand
images; docs/cwa-deep-nets.md has every run): Glorot kills layers within 10-50
steps at lr 1e-3 in most nets we tried (MNIST 3 x 500 in 2 of 3 seeds, MNIST
4 x 256, the MNIST and CIFAR-10 CNNs, CIFAR-10 500-250-125 also at lr 1e-4,
CIFAR-10 2000-1000-500 at step 10). A sweep of the spread over 3 seeds (0.3,
0.5, 0.75, 1.0; MNIST 4 x 256 for 200 steps, CIFAR-10 500-250-125 for 150)
chose 1.0: at lr 1e-3 it kept every layer alive in all 6 runs and learned
fastest (MNIST 61.3 / 67.1 / 57.5% validation accuracy against 0.75's 48.5 /
63.0 / 52.9; CIFAR-10 20.6 / 23.3 / 18.8 against 19.2 / 20.7 / 10.2, where
0.75 lost a layer in seed 2; 0.3 lost two layers in seed 0). At lr 3e-3 every
spread lost CIFAR-10 layers in some seeds (1.0 in 1 of 3, 0.75 in 2), while on
MNIST 1.0 reached 82-87% in all three. One caution: in a single 100-step run of
the paper-size CIFAR-10 network (2000-1000-500) at 1.0 the second layer was
down to 2% of its units active for any probe image at one point (0.75: 84%).
A lower rate also keeps Glorot networks alive, as the paper's lr 1e-5 may have
done, but learns far more slowly (MNIST 4 x 256 at 1e-4: loss 2.22 -> 1.91 in
1,000 steps).
``init_std=None`` restores the paper's Glorot initialisation and the failure.
The lateral variant (kind="lateral") gets the same spread for its feed-forward g and its
principal -> interneuron g_in (its interneuron -> principal conductances start at
LATERAL_CONDUCTANCE, spread by the same factor): with Glorot conductances its third layer
fell silent in lesson 20 (CIFAR-10, 500-250-125), as plain CWA's did.
"""
import numpy as np

from ..backend import make_rng
from ..nn.activations import ReLU
from ..nn.base import Sequential
from ..nn.batchnorm import BatchNorm, BatchNorm2d
from ..nn.conv import Conv2d, conv_output_size
from ..nn.conv_cwa import ConvCWA
from ..nn.absnorm import AbsNorm
from ..nn.cwa import CWA
from ..nn.cwa_lateral import LateralCWA
from ..nn.linear import Flatten, Linear

MNIST_FCN = (2000, 2000)
CIFAR10_FCN = (2000, 1000, 500)
MNIST_CNN = (32, 64, 128, 256)
CIFAR10_CNN = (32, 64, 128, 256, 512)
KINDS = ("cwa", "absnorm", "lateral", "affine")
DEEP_REST_POTENTIAL = 0.0     # e_r of the CWA layers after the first (see "Deep CWA networks")
CWA_INIT_STD = 1.0            # std of every CWA layer's initial g (see "... and why their conductances start spread")
LATERAL_CONDUCTANCE = 1e-4    # initial interneuron -> principal conductances of LateralCWA (see there)


def _check_kind(builder, kind):
    if kind not in KINDS:
        raise ValueError(f"{builder}: kind must be one of {KINDS}, got {kind!r}")


def cwa_mlp(in_features, hidden=MNIST_FCN, n_classes=10, kind="cwa", batchnorm=False, rest_potential=-0.4,
            rng=None, dtype=None, feedback="bp", deep_rest_potential=DEEP_REST_POTENTIAL, n_lateral=None,
            lateral_steps=3, init_std=CWA_INIT_STD):
    """Fully connected CWA network (or its affine baseline) of section 4.2.

    Args:
        in_features: D, input size (doubled for CWA: 1568 for MNIST, 6144 for CIFAR-10).
        hidden: hidden layer sizes; ``MNIST_FCN`` (2000, 2000) or ``CIFAR10_FCN`` (2000, 1000, 500).
        n_classes: outputs of the affine readout.
        kind: "cwa" (CWA layers), "absnorm" (``nn.AbsNorm``, section 4.4), "lateral"
            (``nn.LateralCWA``, CWA + lateral inhibition, section 4.4) or "affine" (Linear layers).
        batchnorm: put a BatchNorm before every ReLU (the paper's "+ BN" variants).
        rest_potential: e_r of the first CWA layer, the one that reads the pixels (paper: -0.4 for the FCN).
        deep_rest_potential: e_r of every later CWA layer (default 0.0, see "Deep CWA networks" above);
            None gives them ``rest_potential`` too, the paper's literal setting, whose second layer is
            silent at initialisation.
        init_std: std of the initial g of every CWA layer (kind="cwa" or "lateral"; default 1.0, see "... and why
            their conductances start spread" above); None gives the paper's Glorot std, sqrt(2 / (D + M)),
            with which networks of three or more CWA layers switch whole layers off within tens of steps.
        rng: numpy Generator or int seed; dtype: parameter dtype.
        feedback: "bp" or "fa" for every hidden layer (CWA: fixed non-negative B; Linear: Gaussian B;
            "absnorm" and "lateral" support "bp" only).
        n_lateral, lateral_steps: K interneurons and T rollout steps of each ``LateralCWA`` (kind="lateral");
            its lateral conductances start at ``LATERAL_CONDUCTANCE`` = 1e-4, not near 1: near 1 the
            interneurons silence every layer at initialisation (measured: 0% active units in all three
            layers of a 400-300-200 network on MNIST, 20%, 8%, 12% at 1e-4).
    Returns:
        Sequential: x (N, D) -> scores (N, n_classes).
    """
    _check_kind("cwa_mlp", kind)
    rng = make_rng(rng)
    layers, d = [], int(in_features)
    if kind in ("absnorm", "lateral") and feedback != "bp":
        raise ValueError(f"cwa_mlp: kind={kind!r} supports feedback='bp' only, got {feedback!r}")
    deep = rest_potential if deep_rest_potential is None else deep_rest_potential
    for i, h in enumerate(hidden):
        e_r = rest_potential if i == 0 else deep       # the pixels' layer, then the deeper ones
        if kind == "cwa":
            layers.append(CWA(d, h, rng=rng, dtype=dtype, rest_potential=e_r, feedback=feedback, init_std=init_std))
        elif kind == "lateral":
            layers.append(LateralCWA(d, h, n_lateral=n_lateral, steps=lateral_steps, rng=rng, dtype=dtype,
                                     rest_potential=e_r, lateral_conductance=LATERAL_CONDUCTANCE,
                                     init_std=init_std))
        elif kind == "absnorm":
            layers.append(AbsNorm(d, h, rng=rng, dtype=dtype))
        else:
            layers.append(Linear(d, h, rng=rng, dtype=dtype, feedback=feedback,
                                 weight_scale=np.sqrt(2.0 / (d + h))))      # Glorot (section 4.3)
        if batchnorm:
            layers.append(BatchNorm(h, dtype=dtype))
        layers.append(ReLU())
        d = h
    layers.append(Linear(d, n_classes, rng=rng, dtype=dtype, weight_scale=np.sqrt(2.0 / (d + n_classes))))
    return Sequential(*layers)


def cwa_cnn(in_channels, image_size, channels=MNIST_CNN, n_classes=10, kind="cwa", kernel_size=5,
            batchnorm=False, rng=None, dtype=None, feedback="bp", init_std=CWA_INIT_STD):
    """Convolutional CWA network (or its affine baseline) of section 4.2: stride-2 convolutions, no pooling.

    Args:
        in_channels: input channels (doubled for CWA: 2 for MNIST, 6 for CIFAR-10).
        image_size: H (= W) of the input, to size the readout (28 or 32).
        channels: per convolution; ``MNIST_CNN`` (32, 64, 128, 256) or ``CIFAR10_CNN`` (+ 512).
        n_classes: outputs of the affine readout.
        kind: "cwa" (ConvCWA, e_r = 0) or "affine" (Conv2d).
        kernel_size: k (paper: 5); padding k // 2, stride 2.
        batchnorm: BatchNorm2d before every ReLU.
        rng, dtype, feedback: as ``cwa_mlp``.
        init_std: std of the initial g of every ConvCWA (default 1.0, as ``cwa_mlp``); None gives the
            paper's Glorot std, sqrt(2 / ((C + F) k^2)), with which a layer can switch off within 20 steps.
    Returns:
        Sequential: x (N, in_channels, image_size, image_size) -> scores (N, n_classes).
    """
    if kind not in ("cwa", "affine"):
        raise ValueError(f"cwa_cnn: kind must be one of ('cwa', 'affine'), got {kind!r}")
    rng = make_rng(rng)
    layers, c, size, k = [], int(in_channels), int(image_size), int(kernel_size)
    for c_out in channels:
        if kind == "cwa":
            layers.append(ConvCWA(c, c_out, k, stride=2, padding=k // 2, rng=rng, dtype=dtype, feedback=feedback,
                                  init_std=init_std))
        else:
            layers.append(Conv2d(c, c_out, k, stride=2, padding=k // 2, rng=rng, dtype=dtype, feedback=feedback,
                                 weight_scale=np.sqrt(2.0 / ((c + c_out) * k * k))))   # Glorot
        if batchnorm:
            layers.append(BatchNorm2d(c_out, dtype=dtype))
        layers.append(ReLU())
        c, size = c_out, conv_output_size(size, k, 2, k // 2)     # 28 -> 14 -> 7 -> 4 -> 2; 32 -> ... -> 1
    d = c * size * size
    layers += [Flatten(), Linear(d, n_classes, rng=rng, dtype=dtype, weight_scale=np.sqrt(2.0 / (d + n_classes)))]
    return Sequential(*layers)
