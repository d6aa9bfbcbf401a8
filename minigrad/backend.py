"""The one place that decides whether arrays live in NumPy (CPU) or CuPy (GPU).

Every other module gets its array module from here::

    from minigrad.backend import xp          # numpy or cupy
    from minigrad import backend
    h = xp.maximum(x, 0)                     # runs wherever x lives
    loss_value = backend.to_float(loss)      # explicit host conversion, at the edge

The backend is chosen once, at import, from the environment variable
``MINIGRAD_BACKEND``:

- ``numpy`` (default): arrays are NumPy arrays on the CPU.
- ``cupy``: arrays are CuPy arrays on an NVIDIA GPU. If CuPy is missing, fails
  to import (its CUDA libraries are missing) or no CUDA device is usable,
  importing ``minigrad.backend`` raises :class:`BackendError` with one message
  that says what is missing and how to install it.
- ``fakecupy``: a CPU stand-in for CuPy (``minigrad/_fakecupy.py``) whose arrays
  refuse implicit conversion to NumPy, exactly where real CuPy would. The test
  suite runs under it to prove that no code path copies device arrays to the
  host by accident.

Conventions the rest of the package follows:

- Arrays are created through ``xp`` (``xp.zeros``, ``xp.asarray``) with an
  explicit dtype; ``DEFAULT_DTYPE`` is float32 for training. Gradient checks use
  float64 (``minigrad.gradcheck`` casts a layer with ``layer.astype``).
- Initial weights are drawn on the host from a seeded ``numpy.random.Generator``
  (``make_rng``) and moved with ``to_device``, so a seed gives the same network
  on every backend. Per-batch randomness that must stay on the device (dropout
  masks) uses ``device_rng``.
- Host conversion (``to_numpy``, ``to_float``) happens only at the edges:
  logging, plotting, saving.

Which kernels the layers run is a second, independent switch,
``MINIGRAD_KERNELS`` (or ``set_kernels``, or a lesson's ``--reference`` flag):

- ``fast`` (default): the rearranged, measured fast paths (channels-last
  convolution, strided-slice pooling, fused batchnorm, time-major RNN);
- ``reference``: every layer that has a fast path trains through its textbook
  forward and backward instead (``conv2d_reference`` and
  ``conv2d_backward_reference``, ``maxpool_reference``, ``batchnorm_reference``,
  ``rnn_reference``, ...): the code a student reads, and edits, is the code
  that runs. Layers read ``kernels()`` at every forward pass, so the switch may
  be flipped after import.
"""
import importlib
import os

import numpy

BACKENDS = ("numpy", "cupy", "fakecupy")
KERNELS = ("fast", "reference")
DEFAULT_DTYPE = numpy.float32

_CUPY_HELP = (
    "Install the CUDA 12 build of CuPy with  pip install -e \".[gpu]\"  "
    "(or  pip install cupy-cuda12x), or unset MINIGRAD_BACKEND to use NumPy on the CPU."
)


class BackendError(ImportError, RuntimeError):
    """The requested backend cannot be used on this machine.

    Raised by ``import minigrad.backend`` (and so by importing any module that
    uses it) when ``MINIGRAD_BACKEND`` names an unknown or unusable backend. It
    is an ``ImportError``, so ``try: from minigrad import nn / except ImportError:``
    catches it like any failed import, and a ``RuntimeError`` as before. Left
    uncaught, Python prints a short traceback whose last line is the message.
    """


def load_backend(name):
    """Return the array module for backend ``name`` or raise a clear error.

    Args:
        name: one of ``BACKENDS`` (case-insensitive, surrounding spaces ignored).
    Returns:
        the array module (``numpy``, ``cupy`` or ``minigrad._fakecupy``).
    Raises:
        ValueError: unknown name; the message lists the valid ones.
        BackendError: ``cupy`` asked for but CuPy or a CUDA device is missing.
    """
    key = name.strip().lower()
    if key not in BACKENDS:
        raise ValueError(
            f"MINIGRAD_BACKEND={name!r} is not a backend; valid backends are: "
            + ", ".join(BACKENDS))
    if key == "numpy":
        return numpy
    if key == "fakecupy":
        return importlib.import_module("minigrad._fakecupy")
    try:
        cupy = importlib.import_module("cupy")
    except (ImportError, OSError) as err:        # OSError: a CUDA shared library failed to load
        if isinstance(err, ImportError) and err.name == "cupy":   # the package itself is absent
            raise BackendError(
                f"MINIGRAD_BACKEND=cupy but CuPy is not installed ({err}). " + _CUPY_HELP) from None
        raise BackendError(                      # installed, but a library or dependency is missing
            f"MINIGRAD_BACKEND=cupy: CuPy is installed but failed to import ({err}). Its CUDA "
            "libraries or dependencies are missing or do not match this build; reinstall with "
            "pip install cupy-cuda12x, check the driver with nvidia-smi, or unset "
            "MINIGRAD_BACKEND to use NumPy on the CPU.") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDARuntimeError, missing driver library, ...
        raise BackendError(
            "MINIGRAD_BACKEND=cupy but no usable CUDA device was found "
            f"(CuPy reported: {err}). Check the NVIDIA driver with nvidia-smi, "
            "or unset MINIGRAD_BACKEND to use NumPy on the CPU.") from None
    if count < 1:
        raise BackendError(
            "MINIGRAD_BACKEND=cupy but CuPy sees no CUDA device. "
            "Check the NVIDIA driver with nvidia-smi, or unset MINIGRAD_BACKEND to use NumPy.")
    return cupy


NAME = os.environ.get("MINIGRAD_BACKEND", "numpy").strip().lower() or "numpy"
try:
    xp = load_backend(NAME)
except (BackendError, ValueError) as _err:
    # one catchable error (ValueError: an unknown name); uncaught, Python prints a short
    # traceback (the import chain) whose last line is the message
    raise BackendError(str(_err)) from None


def set_kernels(name):
    """Choose the layers' kernels: "fast" (default) or "reference" (the textbook code).

    Raises:
        ValueError: unknown name; the message lists the valid ones.
    """
    global _KERNELS
    key = str(name).strip().lower()
    if key not in KERNELS:
        raise ValueError(f"minigrad kernels {name!r} unknown; valid choices are: " + ", ".join(KERNELS)
                         + " (MINIGRAD_KERNELS or backend.set_kernels)")
    _KERNELS = key


def kernels():
    """The kernels the layers run now: "fast" or "reference" (read at each forward pass)."""
    return _KERNELS


_KERNELS = "fast"
set_kernels(os.environ.get("MINIGRAD_KERNELS", "fast").strip() or "fast")


def describe():
    """One line naming the backend and device, for lesson and benchmark output."""
    if NAME == "cupy":
        dev = xp.cuda.Device()
        props = xp.cuda.runtime.getDeviceProperties(dev.id)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return f"backend cupy {xp.__version__} on GPU {dev.id}: {gpu}"
    if NAME == "fakecupy":
        return "backend fakecupy (CPU stand-in for CuPy, for tests)"
    return f"backend numpy {numpy.__version__} on CPU"


def to_device(a, dtype=None):
    """Host (or device) array -> array of the active backend, optionally cast.

    Args:
        a: array-like of any shape.
        dtype: target dtype or None to keep it.
    """
    return xp.asarray(a, dtype=dtype)


def to_numpy(a):
    """Backend array -> NumPy array on the host (explicit copy from a device)."""
    if isinstance(a, numpy.ndarray):
        return a
    if xp is not numpy and isinstance(a, xp.ndarray):
        return xp.asnumpy(a)
    return numpy.asarray(a)


def to_float(a):
    """0-d or one-element backend array -> Python float (explicit host sync)."""
    return float(to_numpy(a).reshape(()))


def make_rng(seed=None):
    """A host ``numpy.random.Generator`` for initial weights and shuffling.

    Args:
        seed: int, an existing Generator (returned as is) or None (fresh entropy:
            not reproducible; lessons and tests always pass a seed).
    """
    if isinstance(seed, numpy.random.Generator):
        return seed
    return numpy.random.default_rng(seed)


def feedback_rng(rng):
    """A child generator for a layer's fixed feedback weights (feedback alignment).

    ``rng.spawn`` gives an independent stream without drawing from ``rng``, so a
    network built with ``feedback="fa"`` gets exactly the same forward weights,
    layer by layer, as the backprop network built from the same seed.
    """
    return make_rng(rng).spawn(1)[0]


def device_rng(rng):
    """A generator of the active backend, seeded from the host generator ``rng``.

    Used for per-batch draws that should not cross the host-device boundary
    (dropout masks). Under NumPy this is simply another NumPy Generator.
    """
    seed = int(make_rng(rng).integers(2**63 - 1))
    return xp.random.default_rng(seed)


def generator_state(gen):
    """The state of a ``device_rng`` generator as JSON-able data (for checkpoints), or
    None where the backend does not expose it (CuPy keeps its generator state on the
    device; such streams restart from their seed after a resume)."""
    if NAME != "numpy":
        return None
    return gen.bit_generator.state


def set_generator_state(gen, state):
    """Put back a state from ``generator_state`` (ignored when it is None)."""
    if state is not None and NAME == "numpy":
        gen.bit_generator.state = state
