"""Check a layer's backward pass against centred finite differences.

For a layer f and a fixed random upstream gradient G (same shape as f(x)),
define the scalar  L(x, params) = sum(f(x) * G). Its gradient with respect to
any input or parameter is exactly what ``backward(G)`` must return. Each entry
is estimated by

    dL/dp_i  ~  (L(p_i + h) - L(p_i - h)) / (2 h)

and compared with the analytic value a by the relative error

    ||a - n|| / (||a|| + ||n||)          (Euclidean norms over all entries)

which, unlike the largest elementwise ratio, is not dominated by entries whose
true gradient is nearly zero (padding borders, saturated units).

Run in float64 (the layer is cast with ``layer.astype``) with h = 1e-6:
a correct backward gives errors around 1e-9 or smaller; a wrong one gives 1e-2
or more. A random G (not all ones) matters: with G = 1 some wrong gradients,
such as batchnorm's, still pass by accident.

The check runs the kernels that are active (``backend.kernels()``): the fast
ones by default, the textbook ``*_reference`` functions under
``MINIGRAD_KERNELS=reference`` (tests/test_kernels.py checks the layers under both).
"""
import numpy as np

from .backend import make_rng, to_device, to_numpy


def rel_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||) for two arrays of the same shape (a host float)."""
    a, n = to_numpy(analytic).astype(np.float64), to_numpy(numeric).astype(np.float64)
    if a.shape != n.shape:
        raise ValueError(f"rel_error: analytic gradient has shape {a.shape}, numeric {n.shape}")
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-300))


def numeric_grad(f, x, h=1e-6):
    """Centred finite-difference gradient of the scalar function f() with respect to
    the array ``x``, which f reads and this function perturbs in place.

    Returns a host float64 array of x's shape.
    """
    grad = np.zeros(x.shape)
    flat = x.reshape(-1)                      # a view: writing it perturbs x
    for i in range(flat.size):
        old = flat[i].copy()
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * h)
    return grad


def check_layer(layer, x, rng=0, h=1e-6, forward_kwargs=None, extra_inputs=None):
    """Compare ``layer.backward`` with finite differences for x and every parameter.

    Args:
        layer: any Layer; it is cast to float64 in place.
        x: input array (host or device); cast to float64.
        rng: seed or Generator for the upstream gradient.
        forward_kwargs: extra keyword arguments for forward (e.g. ``h0`` for RNN),
            arrays cast to float64.
        extra_inputs: dict name -> attribute on the layer that holds the
            analytic gradient of that forward keyword (e.g. {"h0": "dh0"}); those
            inputs are checked too.
    Returns:
        dict name -> relative error, with "x" for the input and each parameter name.
    """
    rng = make_rng(rng)
    layer.astype(np.float64)
    x = to_device(x, dtype=np.float64)
    kwargs = {k: to_device(v, dtype=np.float64) for k, v in (forward_kwargs or {}).items()}
    # Forward passes may update buffers (batchnorm's running statistics); restore
    # them before every evaluation so that each one computes the same function.
    # (In place: a Sequential's ``buffers`` is a dict assembled on each access.)
    saved = {k: v.copy() for k, v in layer.buffers.items()}

    def run():
        for k, v in layer.buffers.items():
            v[...] = saved[k]
        return layer.forward(x, **kwargs)

    G = to_device(rng.standard_normal(run().shape))

    def loss():
        return float(to_numpy((run() * G).sum()))

    run()

    dx = layer.backward(G)
    analytic = {"x": dx}
    analytic.update({k: v.copy() for k, v in layer.grads.items()})
    for name, attr in (extra_inputs or {}).items():
        analytic[name] = getattr(layer, attr)
    errors = {"x": rel_error(dx, numeric_grad(loss, x, h))}
    for name, p in layer.params.items():
        errors[name] = rel_error(analytic[name], numeric_grad(loss, p, h))
    for name in extra_inputs or {}:
        errors[name] = rel_error(analytic[name], numeric_grad(loss, kwargs[name], h))
    return errors


def check_loss(loss_fn, x, *args, h=1e-6):
    """Check a loss function ``loss_fn(x, *args) -> (loss, dx)`` against finite differences.

    Host arrays among ``args`` (labels, targets) are moved to the device first.

    Returns the relative error of dx.
    """
    x = to_device(x, dtype=np.float64)
    args = tuple(to_device(a) if isinstance(a, np.ndarray) else a for a in args)   # labels, targets
    _, dx = loss_fn(x, *args)
    dx = dx.copy()
    return rel_error(dx, numeric_grad(lambda: float(to_numpy(loss_fn(x, *args)[0])), x, h))
