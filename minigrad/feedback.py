"""How well does feedback alignment align? Measurements taken during training.

Feedback alignment (Lillicrap et al. 2014; Khandwala & Bedi, section 1.3)
sends the error backwards through fixed random matrices ``B`` instead of the
transposed forward weights. Two angles tell how close that comes to backprop:

1. **Update alignment**: the angle between the update FA gives a weight,
   ``dW_fa``, and the true backprop gradient of the same loss on the same
   batch, ``dW_bp``::

       angle(a, b) = arccos( <a, b> / (||a|| ||b||) )      in degrees, arrays flattened

   0 degrees: FA follows the gradient exactly; below 90: FA still descends the
   loss; 90: FA's update is unrelated to the gradient. The top layer's weight
   update is the same in both (its own update uses no feedback), so its
   angle is 0; layers further down see one more random matrix each.

2. **Weight alignment**: the angle between a layer's forward weights ``W`` and
   its feedback ``B`` (same shape: ``dx = dout @ W.T`` in backprop,
   ``dout @ B.T`` in FA). Lillicrap et al. found that W turns towards B during
   training: the forward weights learn to make the random feedback useful.

How ``dW_bp`` is obtained: one forward pass on a fixed probe batch (training
mode, so batchnorm uses batch statistics exactly as in a training step), then
two backward passes from the same ``dscores``: the layers' normal FA backward,
and the backward with every FA layer switched to ``feedback="bp"``. Nothing
else differs, and the forward caches are only read by ``backward``, so the
second pass is the exact backprop gradient of the loss the first pass trained
on. Buffers changed by the forward pass (batchnorm running statistics) are put
back, and dropout masks for the probe come from a stream of their own, so
measuring does not disturb training.

Which weights have feedback, and in which buffer, each layer class declares
once (``feedback_of``, see ``minigrad/nn/base.py``); the measurements read
that declaration.

Use it as a Trainer rule::

    monitor = AlignmentMonitor(X_probe, y_probe)
    trainer = Trainer(model, data, opt, rules=[monitor])
    history = trainer.fit()          # history["grad_angle/0.W"], history["weight_angle/0.W"], ...

or call ``measure_alignment(model, X, y)`` directly (e.g. before training).
"""
import numpy as np

from .backend import device_rng, make_rng, to_device, to_numpy
from .nn.losses import softmax_cross_entropy


def angle_between(a, b):
    """Angle in degrees between two arrays of the same shape, seen as flat vectors.

    Computed on the host in float64 (a measurement at the edge, not a layer op).
    Returns nan when either array is all zeros (the angle is undefined).
    Raises ValueError when the shapes differ.
    """
    a, b = to_numpy(a), to_numpy(b)
    if a.shape != b.shape:
        raise ValueError(f"angle_between: arrays of different shapes {a.shape} and {b.shape}")
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    cos = np.clip(a @ b / (na * nb), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)))


def feedback_layers(model):
    """List of (prefix, layer) for every layer of ``model`` that has a ``feedback`` setting.

    ``prefix`` is the layer's name in ``model.params`` ("0." for the first layer
    of a Sequential, "" for a bare layer). Wrappers that keep their layer in
    ``.inner`` (``TemporalLinear``) are looked through.
    """
    found = []
    for name, layer in model.named_layers():
        prefix = f"{name}." if name else ""
        target = getattr(layer, "inner", layer)
        if hasattr(target, "feedback"):
            found.append((prefix, target))
    return found


def _leaf_buffers(model):
    return [(layer, dict(layer.buffers)) for _, layer in model.named_layers()]


def measure_alignment(model, X, y, loss_fn=softmax_cross_entropy):
    """Update and weight alignment angles of every FA layer on one batch.

    Args:
        model: a Layer (usually Sequential) with some ``feedback="fa"`` layers.
        X: (N, ...) probe inputs (backend or host array, floating).
        y: (N,) targets for ``loss_fn``.
        loss_fn: ``(scores, y) -> (loss, dscores)``.
    Returns:
        dict with, for each forward weight ``p`` of an FA layer that has a
        feedback buffer (its class's ``feedback_of``; named as in ``model.params``, e.g.
        "0.W", "2.Wh", "0.Wee", "0.Wie"):
        ``"grad_angle/p"``: angle(dW_fa, dW_bp) in degrees, and
        ``"weight_angle/p"``: angle(W, B) in degrees.
        The model's ``grads`` are left as the FA gradients of this batch.
    Raises:
        ValueError: no FA layer, or an FA layer none of whose declared feedback buffers exists.
    """
    fa = [(prefix, layer) for prefix, layer in feedback_layers(model) if layer.feedback == "fa"]
    if not fa:
        raise ValueError("measure_alignment: the model has no layer with feedback='fa'")
    pairs = {}                                       # prefix -> [(weight name, its feedback buffer)]
    for prefix, layer in fa:
        pairs[prefix] = [(w, b) for w, b in layer.feedback_of.items() if w in layer.params and b in layer.buffers]
        if not pairs[prefix]:
            raise ValueError(f"measure_alignment: {type(layer).__name__} {prefix or '(the model)'!r} has "
                             "feedback='fa' but no (weight, feedback buffer) pair: its class declares "
                             f"feedback_of={layer.feedback_of!r} and its buffers are {sorted(layer.buffers)}")
    saved = _leaf_buffers(model)
    # layers that draw random masks (Dropout) draw the probe's from a stream of their own,
    # so the training streams are where they were (and the probe is the same every time)
    streams = [(layer, layer.rng) for _, layer in model.named_layers() if hasattr(layer, "rng")]
    for layer, _ in streams:
        layer.rng = device_rng(make_rng(0))
    was_training = model.training
    model.train()
    try:
        scores = model.forward(to_device(X))
        _, dscores = loss_fn(scores, to_device(y))
        # the true gradient: switch every FA layer to backprop for one backward pass
        for _, layer in fa:
            layer.feedback = "bp"
        try:
            model.backward(dscores)
            bp = {k: v.copy() for k, v in model.grads.items()}
        finally:
            for _, layer in fa:
                layer.feedback = "fa"
        model.backward(dscores)                      # the FA update, same forward pass
        fa_grads = model.grads
    finally:
        for layer, buffers in saved:
            layer.buffers.update(buffers)
        for layer, rng in streams:
            layer.rng = rng
        if not was_training:
            model.eval()
    out = {}
    for prefix, layer in fa:
        for wname, bname in pairs[prefix]:
            key = prefix + wname
            B = layer.buffers[bname]
            out[f"grad_angle/{key}"] = angle_between(fa_grads[key], bp[key])
            # DANNConv2d keeps its filters as (F, C, HH, WW) but its feedback flat (F, C*HH*WW):
            # compare like with like, the same filters in the same layout
            # (CWA: the conductances h(g) that B stands in for, not the raw parameter g)
            Wf = layer.forward_weight(wname)
            out[f"weight_angle/{key}"] = angle_between(Wf, B.reshape(Wf.shape))
    return out


class AlignmentMonitor:
    """Trainer rule: record the alignment angles (see ``measure_alignment``) after each epoch.

    Args:
        X, y: a fixed probe batch (a few hundred training examples is plenty).
        loss_fn: the training loss, default softmax cross-entropy.
        every_steps: also measure every this many optimizer steps (0: only at
            epoch ends); those go to ``monitor.steps`` (list of (step, dict)).
        enabled: False turns the rule into a no-op.

    ``end_epoch`` appends each angle to ``trainer.history[name]``. Call
    ``monitor.initial(model)`` before ``fit`` to have the angles at the start
    in ``monitor.start``.
    """

    def __init__(self, X, y, loss_fn=softmax_cross_entropy, every_steps=0, enabled=True):
        if every_steps < 0:
            raise ValueError(f"AlignmentMonitor: every_steps must be >= 0, got {every_steps}")
        self.X, self.y = to_device(X), to_device(y)
        self.loss_fn, self.every_steps, self.enabled = loss_fn, int(every_steps), enabled
        self.steps = []
        self.start = None

    def measure(self, model):
        return measure_alignment(model, self.X, self.y, self.loss_fn)

    def state_dict(self):
        """For checkpoints: the per-step measurements and the angles at the start."""
        return {"steps": [list(s) for s in self.steps], "start": self.start}

    def load_state_dict(self, state):
        self.steps = [tuple(s) for s in state["steps"]]
        self.start = state["start"]

    def initial(self, model):
        self.start = self.measure(model)
        return self.start

    def after_step(self, trainer):
        step = trainer.step_count + 1               # the trainer counts this step after the rules
        if self.enabled and self.every_steps and step % self.every_steps == 0:
            # measured after the update; the trainer has already used its grads
            self.steps.append((step, self.measure(trainer.model)))

    def end_epoch(self, trainer):
        if not self.enabled:
            return
        for name, value in self.measure(trainer.model).items():
            trainer.history.setdefault(name, []).append(value)
