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
- ``train()`` / ``eval()``: switch ``self.training`` (used by batchnorm and dropout).

Layers with no parameters have empty ``params`` and ``grads``.

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
from ..backend import DEFAULT_DTYPE, feedback_rng, to_device

FEEDBACK_MODES = ("bp", "fa")


class Layer:
    """Base class: parameter bookkeeping, mode switch, input checks, feedback choice."""

    feedback_of = {}        # weight name -> feedback buffer name, for layers that offer feedback="fa"

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True

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
        """Cast every parameter and floating buffer to ``dtype`` (in place); returns self."""
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
        self.params[name] = to_device(host_array, dtype=dtype or DEFAULT_DTYPE)

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

    The model's parameters, gradients and buffers are exposed as flat dicts with
    names ``"<index>.<key>"`` (``"0.W"``, ``"2.gamma"``). They are the layers'
    own arrays, so an optimizer that updates ``model.params[k]`` in place
    updates the layer.

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

    # params/grads/buffers are assembled on demand from the layers' own dicts;
    # the setters only swallow Layer.__init__'s empty dicts.
    params = property(lambda self: self._flat("params"), lambda self, _: None)
    grads = property(lambda self: self._flat("grads"), lambda self, _: None)
    buffers = property(lambda self: self._flat("buffers"), lambda self, _: None)

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
