"""Sign-constrained weights (a crude Dale's law) as an update-time rule.

Khandwala & Bedi, section 2.7: every synapse keeps the sign it was born with.
After each optimizer step, any weight the update pushed across zero is set to
exactly 0 instead; later updates may move it away from zero again, but only in
its allowed direction. Two granularities:

- ``mode="synapse"``: each weight has its own fixed sign, the sign of its
  random initial value (+ or - with equal probability for a Gaussian init).
- ``mode="neuron"``: all outgoing synapses of one input unit share one sign
  (Dale's law proper). For a ``Linear`` weight W (D, M) that is a row of W
  (input unit d sends W[d, :]); for ``RNN`` Wx (D, H) and Wh (H, H) likewise
  rows; for a ``Conv2d`` weight (F, C, HH, WW) it is an input channel,
  W[:, c]. The sign of each unit is drawn +/- with equal probability, and the
  initial weights are flipped to agree with it (magnitudes kept) when the rule
  is created -- also when ``enabled=False``, so that the ablation starts from
  the very same weights and differs only in the missing constraint.

The rule, written for one weight w with allowed sign s (+1 or -1)::

    w <- optimizer update of w
    w <- 0   if s * w < 0       (an attempted sign flip is cut off at zero)

So the set of weights held at zero can only change through updates; the paper
reports that in long runs it keeps growing until the network "unlearns".
``zero_fraction`` (the share of constrained weights that are exactly 0) is
added to the training history after every epoch, together with
``clipped_fraction`` (the share of weights cut off at zero by one step,
averaged over the epoch's steps).

Biases are not constrained (Dale's law is about synapses). With
``enabled=False`` the rule changes nothing but still records, as
``zero_fraction``, the share of weights whose sign now differs from their
allowed sign (what the constraint would have had to cut), for ablations; it
is 0 at the start in both modes because the start is the same.
"""
import numpy as np

from .backend import make_rng, to_device, to_float, xp

MODES = ("synapse", "neuron")


def neuron_axis(shape):
    """The axis of a weight array that indexes the *input* (presynaptic) unit.

    (D, M) dense or recurrent weights: axis 0 (rows); (F, C, HH, WW) conv
    filters: axis 1 (input channels).
    """
    if len(shape) == 2:
        return 0
    if len(shape) == 4:
        return 1
    raise ValueError(f"SignConstraint: no neuron axis for a weight of shape {tuple(shape)} "
                     "(expected (D, M) or (F, C, HH, WW))")


class SignConstraint:
    """Trainer rule keeping the sign of every chosen weight fixed (``after_step``).

    Args:
        model: the Layer whose parameters are constrained (its ``params`` dict
            is read once, so the arrays are the layers' own).
        mode: "synapse" or "neuron" (see module docstring).
        keys: a parameter is constrained when its name after the last "." is
            in ``keys`` (default the weights of Linear, Conv2d and RNN).
        rng: seed or Generator for the neuron signs (mode "neuron").
        enabled: False makes the rule a no-op apart from its measurements
            (mode "neuron" still flips the initial weights to their unit's
            sign, so enabled and disabled runs start from the same weights).
        track_steps: also record the fraction of constrained weights at zero
            after every step (in ``steps_zero``), not only per epoch.

    Attributes:
        signs: dict parameter name -> array of +1/-1 broadcastable to the weight.
        steps_zero: per-step zero fractions (a list of floats) when ``track_steps`` is set.
    """

    def __init__(self, model, mode="synapse", keys=("W", "Wx", "Wh"), rng=None, enabled=True,
                 track_steps=False):
        if mode not in MODES:
            raise ValueError(f"SignConstraint: mode must be one of {MODES}, got {mode!r}")
        rng = make_rng(rng)
        self.mode, self.enabled, self.track_steps = mode, enabled, track_steps
        params = model.params
        self.names = [k for k in params if k.rsplit(".", 1)[-1] in keys]
        if not self.names:
            raise ValueError(f"SignConstraint: the model has no parameter named one of {keys}")
        self.signs = {}
        for name in self.names:
            w = params[name]
            if mode == "synapse":
                # the sign each weight was born with (a zero initial weight counts as +)
                self.signs[name] = xp.where(w < 0, -1.0, 1.0).astype(w.dtype)
            else:
                axis = neuron_axis(w.shape)
                shape = [1] * w.ndim
                shape[axis] = w.shape[axis]
                unit_sign = rng.choice(np.array([-1.0, 1.0]), size=w.shape[axis]).reshape(shape)
                self.signs[name] = to_device(unit_sign, dtype=w.dtype)
                # make the init obey the rule, enabled or not: an ablation must
                # start from the same weights to be comparable
                w[...] = xp.abs(w) * self.signs[name]
        self.total = sum(params[n].size for n in self.names)
        self._clipped, self._nsteps = None, 0
        self.steps_zero = []
        self.model = model

    def state_dict(self):
        """For checkpoints: each weight's fixed sign and the per-step zero fractions."""
        state = {f"signs/{name}": s for name, s in self.signs.items()}
        state["steps_zero"] = list(self.steps_zero)
        return state

    def load_state_dict(self, state):
        self.signs = {name: state[f"signs/{name}"] for name in self.names}
        self.steps_zero = list(state["steps_zero"])

    def after_step(self, trainer):
        params = trainer.model.params
        clipped = 0
        for name in self.names:
            w, s = params[name], self.signs[name]
            wrong = w * s < 0                                 # updates that tried to flip a sign
            if self.enabled:
                w[...] = xp.where(wrong, 0, w)
                clipped = clipped + wrong.sum()
        if self.enabled:
            self._clipped = clipped if self._clipped is None else self._clipped + clipped
            self._nsteps += 1
        if self.track_steps:
            self.steps_zero.append(self.zero_fraction(trainer.model))

    def zero_fraction(self, model=None):
        """Share of constrained weights that are exactly zero (or, disabled, of the wrong sign)."""
        params = (model or self.model).params
        count = 0
        for name in self.names:
            w, s = params[name], self.signs[name]
            count = count + ((w == 0).sum() if self.enabled else (w * s < 0).sum())
        return to_float(count) / self.total

    def end_epoch(self, trainer):
        h = trainer.history
        h.setdefault("zero_fraction", []).append(self.zero_fraction(trainer.model))
        if self.enabled:
            clipped = 0.0 if self._clipped is None else to_float(self._clipped)
            h.setdefault("clipped_fraction", []).append(clipped / self.total / max(self._nsteps, 1))
        self._clipped, self._nsteps = None, 0

    def check(self, model=None):
        """True when no constrained weight has the wrong sign (for tests and asserts)."""
        params = (model or self.model).params
        return all(to_float((params[n] * self.signs[n] < 0).sum()) == 0 for n in self.names)
