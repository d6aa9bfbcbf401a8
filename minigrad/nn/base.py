"""The layer protocol every layer in ``minigrad.nn`` follows.

A layer is an object with

- ``params``: dict name -> array, the trainable parameters;
- ``grads``: dict with the same keys, filled by ``backward`` with the exact
  gradients of the loss with respect to each parameter. ``backward`` assigns
  fresh arrays (it never accumulates), so calling it twice gives the same result;
- ``buffers``: dict name -> array of state that is saved with the model but not
  trained (batchnorm running statistics, fixed feedback weights);
- ``forward(x)``: returns the output and keeps, in named attributes, what the
  backward pass needs;
- ``backward(dout)``: takes the upstream gradient (same shape as the output)
  and returns ``dx`` (same shape as ``x``);
- ``train()`` / ``eval()``: switch ``self.training`` (used by batchnorm and dropout);
- ``astype(dtype)``: cast parameters and floating buffers to a floating dtype.

Layers with no parameters have empty ``params`` and ``grads``.

Checks every layer gets from this file, without a line of its own:

- ``backward`` checks ``dout``. Every subclass's ``forward`` and ``backward``
  are wrapped once, when the class is defined (``Layer.__init_subclass__``):
  forward records the shape of the array it returned (no copy), and backward
  raises a ``ValueError`` naming the layer, the expected and the given shape
  unless ``dout`` has exactly that shape (NumPy would otherwise broadcast an
  (N, 1) or (1, D) gradient silently), and a ``RuntimeError`` when no forward
  has succeeded yet. Extra arguments (``RNN.forward(x, h0)``) pass through. A
  forward that returns something without a shape is not checked. Only the
  outermost call checks: a subclass's ``backward`` that calls
  ``super().backward`` is checked once. A layer that runs other layers inside
  (``Sequential``, ``TemporalLinear``, ``DataParallel``) checks its own output,
  and each inner layer checks its own.
- Constructors check their numeric arguments with ``check_arg`` (sizes are
  positive integers, probabilities lie in their range, eps > 0, ...): a clear
  error at construction instead of a NumPy error in the first forward.
- ``astype`` and ``_init_param`` accept floating dtypes only (``TypeError``).

A ``Sequential`` (or ``DataParallel``) has no dicts of its own: ``params`` and
``buffers`` are views of its layers' dicts under names ``"<index>.<key>"``.
Reading gives the layers' own arrays (an in-place update reaches the layer);
``model.params["0.W"] = array`` replaces the entry in layer 0's own dict;
names the layers do not have are refused (``KeyError``), as is removing one.
``grads`` is a fresh dict of the layers' gradient arrays on each read (the
Trainer's rules rewrite entries of their copy; a layer's gradient is what its
``backward`` wrote). Replacing the whole attribute (``model.params = {...}``)
raises ``AttributeError``: write entries instead, or set each layer's own.

Feedback alignment is one mechanism for every layer. A layer class declares
which of its weights can be replaced by a fixed random feedback matrix in the
backward pass, and the buffer that holds it::

    feedback_of = {"W": "B"}                    # weight name -> feedback buffer name

``_init_feedback`` (in ``__init__``) checks ``feedback`` ("bp" or "fa") and,
for "fa", draws the buffers once from the weights' own child stream
(``backend.feedback_rng``: W is the same with and without FA); in
``backward``, ``self.dx_weight("W")`` is the matrix that carries the error to
the layer below: the weight itself for "bp" (``forward_weight``: what the
weight acts as in the forward pass, e.g. CWA's conductances h(g) for its
parameter g), its feedback buffer for "fa".
The alignment measurements (``minigrad.feedback``) and the checkpoints (which
save ``buffers``) read the same declaration.
"""
import math
import numbers
import operator
from collections.abc import MutableMapping
from functools import wraps

import numpy as np

from ..backend import DEFAULT_DTYPE, feedback_rng, to_device

FEEDBACK_MODES = ("bp", "fa")


def check_arg(owner, name, value, low=None, high=None, *, integer=False, low_open=False, high_open=False):
    """Return ``value`` if it is a finite number in the given range, else raise naming ``owner``.

    The one argument check of every constructor (layers, optimizers, schedules).

    Args:
        owner: the object being built (its class names it in the message) or a name.
        name: the argument's name, value: its value.
        low, high: bounds, None for none; ``low_open`` / ``high_open`` exclude them.
        integer: require an integer (Python or NumPy; bool and 3.0 are refused).
    Returns:
        the value as ``int`` (integer=True) or ``float``.
    Raises:
        TypeError for a non-number (or a non-integer where one is required),
        ValueError for NaN, infinity or a value outside the range.
    """
    who = owner if isinstance(owner, str) else type(owner).__name__
    kind = "an integer" if integer else "a finite number"
    if low is not None and high is not None:
        want = f"{kind} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        want = f"{kind} {'>' if low_open else '>='} {low}"
    elif high is not None:
        want = f"{kind} {'<' if high_open else '<='} {high}"
    else:
        want = kind
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if integer else numbers.Real):
        raise TypeError(f"{who}: {name} must be {want}, got {value!r} ({type(value).__name__})")
    value = operator.index(value) if integer else float(value)
    if not (math.isfinite(value)
            and (low is None or (value > low if low_open else value >= low))
            and (high is None or (value < high if high_open else value <= high))):
        raise ValueError(f"{who}: {name} must be {want}, got {value}")
    return value


def float_dtype(owner, dtype):
    """``dtype`` as a NumPy dtype if it is a floating type, else a TypeError naming ``owner``."""
    who = owner if isinstance(owner, str) else type(owner).__name__
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(f"{who}: parameters must have a floating dtype (float32, float64), got {dtype!r}")
    return dt


_NO_FORWARD = None          # Layer._out_shape before any (successful) forward
_UNCHECKED = "unchecked"    # Layer._out_shape after a forward that returned no array


def _recording_forward(forward):
    """Wrap a subclass's forward: record the shape of what it returns (see the module docstring)."""
    @wraps(forward)
    def checked_forward(self, *args, **kwargs):
        if type(self).forward is not checked_forward:     # called through super(): the outer one records
            return forward(self, *args, **kwargs)
        self._out_shape = _NO_FORWARD                       # a forward that raises leaves nothing to check
        out = forward(self, *args, **kwargs)
        self._out_shape = getattr(out, "shape", _UNCHECKED)
        return out
    return checked_forward


def _checked_backward(backward):
    """Wrap a subclass's backward: refuse a ``dout`` whose shape is not the forward output's."""
    @wraps(backward)
    def checked_backward(self, dout, *args, **kwargs):
        if type(self).backward is checked_backward:         # the outermost call checks
            expected = self._out_shape
            name = type(self).__name__
            if expected is _NO_FORWARD:
                raise RuntimeError(f"{name}: backward called before forward (or after a forward that "
                                   "failed); backward needs what forward keeps: run forward on the batch first")
            if expected is not _UNCHECKED:
                shape = getattr(dout, "shape", None)
                if shape is None:
                    raise TypeError(f"{name}: backward expected dout as an array of shape {tuple(expected)} "
                                    f"(the shape forward returned), got {type(dout).__name__}")
                if shape != expected:
                    raise ValueError(f"{name}: backward expected dout of shape {tuple(expected)} (the shape "
                                     f"forward returned), got {tuple(shape)}")
        return backward(self, dout, *args, **kwargs)
    return checked_backward


class _StoreView(MutableMapping):
    """The ``params`` (or ``buffers``) of a ``Sequential``: its layers' dicts under ``"<index>.<key>"`` names.

    Reads return the layers' own arrays; ``view[name] = value`` writes into the
    owning layer's dict. New names and deletions are refused.
    """

    def __init__(self, owner, attr, layers):
        self._owner, self._attr, self._layers = owner, attr, layers

    def _find(self, name):
        """(the owning layer's dict, key) for a flat name, or (None, None)."""
        head, sep, rest = name.partition(".") if isinstance(name, str) else ("", "", "")
        if sep and head.isdigit() and int(head) < len(self._layers):
            store = getattr(self._layers[int(head)], self._attr)
            if rest in store:
                return store, rest
        return None, None

    def _missing(self, name):
        return KeyError(f"{self._owner}.{self._attr} has no entry {name!r} (its names: {', '.join(self)}); "
                        "a layer's names are fixed by its constructor")

    def __contains__(self, name):
        return self._find(name)[0] is not None

    def __getitem__(self, name):
        store, key = self._find(name)
        if store is None:
            raise self._missing(name)
        return store[key]

    def __setitem__(self, name, value):
        store, key = self._find(name)
        if store is None:
            raise self._missing(name)
        store[key] = value

    def __delitem__(self, name):
        raise TypeError(f"{self._owner}.{self._attr}: entries cannot be removed through the model; "
                        "change the layer's own dict")

    def __iter__(self):
        for i, layer in enumerate(self._layers):
            for k in getattr(layer, self._attr):
                yield f"{i}.{k}"

    def __len__(self):
        return sum(len(getattr(layer, self._attr)) for layer in self._layers)

    def __repr__(self):
        return repr(dict(self))


def assembled(attr, get):
    """A ``params``/``grads``/``buffers`` property that is read from other layers (``get(self)``).

    Replacing the whole attribute raises (see the module docstring); ``Layer.__init__``
    leaves such attributes alone.
    """
    def refuse(self, value):
        raise AttributeError(f"{type(self).__name__}.{attr} is assembled from its layers' own dicts and cannot "
                             f"be replaced: write entries (model.{attr}['0.W'] = array, or in place with [...]) "
                             f"or set each layer's {attr}")
    return property(get, refuse)


class Layer:
    """Base class: parameter bookkeeping, mode switch, input checks, feedback choice."""

    feedback_of = {}        # weight name -> feedback buffer name, for layers that offer feedback="fa"

    _out_shape = _NO_FORWARD     # shape of the last forward output, checked by backward

    def __init__(self):
        for attr in ("params", "grads", "buffers"):
            if not isinstance(getattr(type(self), attr, None), property):   # Sequential's are assembled
                setattr(self, attr, {})
        self.training = True

    def __init_subclass__(cls, **kwargs):
        """Wrap the subclass's own forward and backward in the shape check (module docstring)."""
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _recording_forward(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _checked_backward(cls.__dict__["backward"])

    # --- protocol -----------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def astype(self, dtype):
        """Cast every parameter and floating buffer to a floating ``dtype`` (in place); returns self."""
        dtype = float_dtype(self, dtype)
        for store in (self.params, self.buffers):
            for k, v in store.items():
                if v.dtype.kind == "f":
                    store[k] = v.astype(dtype)
        self.grads.clear()
        return self

    def named_layers(self, prefix=""):
        """Yield (name, layer) for this layer and every layer inside it."""
        yield prefix.rstrip("."), self

    # --- helpers for subclasses ---------------------------------------------
    def _init_param(self, name, host_array, dtype):
        """Store a host-drawn initial value as a parameter on the active backend."""
        dtype = DEFAULT_DTYPE if dtype is None else float_dtype(self, dtype)
        self.params[name] = to_device(host_array, dtype=dtype)

    def _init_feedback(self, feedback, rng, draw):
        """Set ``self.feedback`` and, for "fa", draw the fixed feedback buffers.

        Args:
            feedback: "bp" (backprop) or "fa" (feedback alignment).
            rng: the host Generator the weights were drawn from; the feedback comes
                from its child stream (``feedback_rng``), which does not advance it.
            draw: function(Generator) -> dict weight name -> host array, the initial
                feedback for every weight in ``feedback_of`` (stored, in the weight's
                dtype, as the buffer ``feedback_of`` names).
        """
        if feedback not in FEEDBACK_MODES:
            raise ValueError(f"{type(self).__name__}: feedback must be one of {FEEDBACK_MODES}, got {feedback!r}")
        self.feedback = feedback
        if feedback == "fa":
            drawn = draw(feedback_rng(rng))
            for weight, buffer in self.feedback_of.items():
                self.buffers[buffer] = to_device(drawn[weight], dtype=self.params[weight].dtype)

    def forward_weight(self, name):
        """The matrix that parameter ``name`` acts as in the forward pass: the parameter itself,
        unless a layer reparametrises it (CWA: the conductances h(g) = max(1 + g, 0) of its ``g``).
        The fixed feedback of FA stands in for this matrix, has its shape, and is compared with it
        by the alignment measurements."""
        return self.params[name]

    def dx_weight(self, name):
        """The matrix that carries the error backwards in place of weight ``name``:
        ``forward_weight(name)`` (feedback="bp") or its fixed feedback buffer (feedback="fa")."""
        if self.feedback == "fa":
            return self.buffers[self.feedback_of[name]]
        return self.forward_weight(name)

    def _check_input(self, x, ndim, what, sizes=None):
        """Raise a clear error unless ``x`` is a floating array of the right shape.

        Args:
            x: the input array.
            ndim: required number of dimensions; None: any (elementwise layers).
            what: the expected shape in words, e.g. "(N, D) with D=784".
            sizes: dict axis index -> required size, e.g. ``{1: 784}``; None: no size fixed.
        """
        name = type(self).__name__
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"{name}: expected an array of shape {what}, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise TypeError(
                f"{name}: expected a floating-point array of shape {what}, got dtype {x.dtype} "
                "(convert explicitly, e.g. minigrad.data.normalize(images))")
        if (ndim is not None and x.ndim != ndim) or any(
                x.shape[axis] != size for axis, size in (sizes or {}).items()):
            raise ValueError(f"{name}: expected input of shape {what}, got {tuple(x.shape)}")

    def __repr__(self):
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class Sequential(Layer):
    """Chain of layers; ``forward`` runs them in order, ``backward`` in reverse.

    The model's parameters, gradients and buffers are exposed under names
    ``"<index>.<key>"`` (``"0.W"``, ``"2.gamma"``). They are the layers' own
    arrays, so an optimizer that updates ``model.params[k]`` in place updates
    the layer; ``params`` and ``buffers`` are views that also pass
    ``model.params[k] = array`` on to the layer, ``grads`` is a fresh dict
    (see the module docstring).

    Args:
        *layers: the layers, first to last.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: argument {i} is a {type(layer).__name__}, not a Layer")
        self.layers = list(layers)
        # A layer keeps what its forward computed for its backward, so one layer
        # object cannot sit at two places of a network (its second forward would
        # overwrite what the first one's backward needs).
        seen = {}
        for name, layer in self.named_layers():
            if id(layer) in seen:
                raise ValueError(f"Sequential: layer {name} ({type(layer).__name__}) is the same object as "
                                 f"layer {seen[id(layer)]}; create a separate layer for each place")
            seen[id(layer)] = name

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def _flat(self, attr):
        out = {}
        for i, layer in enumerate(self.layers):
            for k, v in getattr(layer, attr).items():
                out[f"{i}.{k}"] = v
        return out

    # assembled on demand from the layers' own dicts (module docstring)
    params = assembled("params", lambda self: _StoreView("Sequential", "params", self.layers))
    grads = assembled("grads", lambda self: self._flat("grads"))
    buffers = assembled("buffers", lambda self: _StoreView("Sequential", "buffers", self.layers))

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    def astype(self, dtype):
        dtype = float_dtype(self, dtype)
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def named_layers(self, prefix=""):
        for i, layer in enumerate(self.layers):
            yield from layer.named_layers(f"{prefix}{i}.")

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
