"""Update rules for Dale's ANNs (Cornford et al. 2021), as Trainer rules.

The DANN layers (``minigrad/nn/dann.py``, ``dann_conv.py``, ``dann_rnn.py``)
compute exact gradients. What makes them *learn well* happens at update time,
in these separate, switchable objects (pass them in ``Trainer(rules=[...])``,
in this order)::

    FisherCorrection  before_step  algorithm 4: replace gradients by diag(F)^-1 gradients
                                   (an approximate natural gradient) and/or measure how
                                   well the heuristic corrections agree with it (figure 2)
    DANNCorrections   before_step  algorithm 3: scale inhibitory gradients by the factors
                                   derived from the Fisher in section 4
    GradNormClip      before_step  algorithm 5: cap the gradient norm of each layer
    CosineLRScaling   before_step  algorithm 6: shrink a layer's step until projecting it
                                   back to the constraint set changes its direction little
    (optimizer step: plain SGD in the paper)
    DaleProjection    after_step   algorithm 2: clip weights back to their allowed sign

Every rule takes ``enabled=False`` (a no-op, for ablations) and finds its
layers itself: any layer with a ``dale_groups`` list (the DANN layers, one
entry per excitatory/inhibitory block, naming its parameters and its
ne, ni, d) and any ``ColumnEi`` layer.

Combinations a rule cannot handle are refused with an error that names the
rule: when the rule is built (the model alone decides) or when the Trainer
calls the rule's ``attach(trainer)`` in its constructor (the optimizer, the
loss and the other rules decide)::

    CosineLRScaling   an optimizer other than plain SGD (momentum, Adam, weight decay):
                      multiplying the gradient by xi^i is a step with lr * xi^i only for SGD
    FisherCorrection  a model wrapped in DataParallel (one helper, ``refuse_data_parallel``)
                      any layer trained with feedback alignment (F would not be the Fisher)
                      apply=True together with an enabled DANNCorrections (scales twice)
                      another rule that changes gradients before it, or a Trainer whose
                      loss is not ``rule.loss_fn``

Why the corrections (section 4, appendix E.3). Seen through the KL divergence
of the layer's output distribution (second order: the Fisher), a step of size
delta on one inhibitory weight Wie[i, j] moves *every* excitatory unit
(ne of them), a step on Wei[k, i] acts through an inner product over the d
inputs, and a step on alpha[i] through both. So, relative to Wee, updates are
scaled by::

    Wie: 1 / sqrt(ne)      Wei: 1 / d      alpha: 1 / (d sqrt(ne))      Wee, g, b: 1
"""
import numpy as np

from .backend import device_rng, generator_state, set_generator_state, to_float, xp
from .nn.dann import DANN, ColumnEi
from .nn.losses import softmax_cross_entropy
from .nn.parallel import DataParallel
from .optim import SGD


def _key(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _cosine(pairs):
    """Cosine between two flat vectors given as a list of (a, b) array pairs (host float;
    one sync per sum: used by the slow, optional rules only)."""
    dot = sum(to_float((a * b).sum()) for a, b in pairs)
    na = sum(to_float((a * a).sum()) for a, _ in pairs)
    nb = sum(to_float((b * b).sum()) for _, b in pairs)
    return dot / max(np.sqrt(na * nb), 1e-30)


def dale_layers(model):
    """(prefix, layer) for every DANN-family or ColumnEi layer in ``model``."""
    return [(prefix, layer) for prefix, layer in model.named_layers()
            if hasattr(layer, "dale_groups") or isinstance(layer, ColumnEi)]


def correction_factors(model):
    """dict parameter name -> scale of its gradient under algorithm 3 (only names != 1)."""
    factors = {}
    for prefix, layer in dale_layers(model):
        for grp in getattr(layer, "dale_groups", []):
            ne, d = grp["ne"], grp["d"]
            factors[_key(prefix, grp["Wie"])] = float(1.0 / np.sqrt(ne))      # Python floats:
            factors[_key(prefix, grp["Wei"])] = float(1.0 / d)                # no float64 promotion
            factors[_key(prefix, grp["alpha"])] = float(1.0 / (d * np.sqrt(ne)))
    return factors


def project(value, layer):
    """Return ``value`` projected onto its constraint set (a new array).

    For a DANN parameter: max(value, 0). For a ColumnEi weight (M, d): the
    excitatory columns max(., 0), the inhibitory (last ni_in) columns min(., 0).
    """
    if isinstance(layer, ColumnEi):
        ne = layer.n_excitatory_in
        return xp.concatenate([xp.maximum(value[:, :ne], 0), xp.minimum(value[:, ne:], 0)], axis=1)
    return xp.maximum(value, 0)


def _constrained(model):
    """list of (layer prefix, layer, [param names]) that the projection touches."""
    out = []
    for prefix, layer in dale_layers(model):
        if isinstance(layer, ColumnEi):
            out.append((prefix, layer, [_key(prefix, "W")]))
        else:
            names = [_key(prefix, grp[k]) for grp in layer.dale_groups for k in ("Wee", "Wie", "Wei", "g")]
            out.append((prefix, layer, names))
    return out


class DANNCorrections:
    """Algorithm 3: divide the gradients of Wie by sqrt(ne), Wei by d, alpha by d sqrt(ne).

    Args:
        model: the network (its DANN layers are found by ``dale_groups``).
        enabled: False turns the rule off ("DANN without corrections").
    """

    def __init__(self, model, enabled=True):
        self.enabled = enabled
        self.factors = correction_factors(model)

    def before_step(self, trainer):
        if not self.enabled:
            return
        for name, f in self.factors.items():
            trainer.grads[name] = trainer.grads[name] * f       # Python float: keeps float32


class DaleProjection:
    """Algorithm 2 (and appendix C.1 for ColumnEi): after each step, put every weight
    that crossed zero back at zero.

    DANN: Wee, Wie, Wei, g <- max(., 0) (alpha and b are free). ColumnEi: the
    excitatory columns of W <- max(., 0), the inhibitory columns <- min(., 0).

    Args:
        model: the network.
        enabled: False lets weights change sign (an ablation: no longer Dale).
    """

    def __init__(self, model, enabled=True):
        self.enabled = enabled
        self.targets = _constrained(model)

    def after_step(self, trainer):
        if not self.enabled:
            return
        params = trainer.model.params
        for _, layer, names in self.targets:
            for name in names:
                p = params[name]
                p[...] = project(p, layer)                 # in place: the layer's own array


class GradNormClip:
    """Algorithm 5: for each layer, if the norm of all its gradients together exceeds
    ``max_norm``, scale them down to that norm (branch-free: no host sync).

    Args:
        model: the network (every layer with parameters is clipped separately).
        max_norm: M.
        enabled: False turns the rule off.
    """

    def __init__(self, model, max_norm, enabled=True):
        if max_norm <= 0:
            raise ValueError(f"GradNormClip: max_norm must be positive, got {max_norm}")
        self.max_norm, self.enabled = float(max_norm), enabled
        self.groups = [[_key(prefix, k) for k in layer.params] for prefix, layer in model.named_layers()
                       if layer.params and not hasattr(layer, "layers")]

    def before_step(self, trainer):
        if not self.enabled:
            return
        g = trainer.grads
        for names in self.groups:
            norm = xp.sqrt(sum((g[n] * g[n]).sum() for n in names))
            coef = xp.minimum(1.0, self.max_norm / (norm + 1e-6)).astype(g[names[0]].dtype)
            for n in names:
                g[n] = g[n] * coef


class CosineLRScaling:
    """Algorithm 6: per layer, shrink the step until clipping barely changes it.

    For a layer with constrained parameters theta (those DaleProjection clips)
    and gradient G, try eta = lr * xi^i for i = 0, 1, 2, ... and keep the
    first for which::

        cos( project(theta - eta G), theta - eta G ) >= min_cosine

    (the cosine between the new parameters after and before the projection, as
    in algorithm 6). The layer's gradients (all of them) are then multiplied
    by xi^i, which for plain SGD is exactly a step with learning rate eta.
    Needs a host sync per try (``to_float``): it is a slow, optional rule.

    Deliberately, we try i = 0 (the full learning rate) first, while the
    pseudocode of algorithm 6 writes eta = xi^i starting at i = 1. Read as a
    factor on the learning rate, i = 1 would shrink every step by xi even
    when nothing is clipped, against the appendix's own description (the rate
    is reduced "whenever" clipping would push the cosine below M); read
    literally, with xi^1 as the base learning rate, its first try is the
    unshrunk rate, which is our i = 0. Either way the first try is the full step.

    Args:
        model: the network.
        min_cosine: M in algorithm 6 (e.g. 0.99).
        xi: shrink factor in (0, 1).
        max_tries: largest i tried.
        enabled: False measures nothing and changes nothing.

    Adds ``lr_scale/<layer>`` (mean factor over the epoch's steps) to the history.
    """

    def __init__(self, model, min_cosine=0.99, xi=0.5, max_tries=12, enabled=True):
        if not 0 < xi < 1:
            raise ValueError(f"CosineLRScaling: xi must be in (0, 1), got {xi}")
        if int(max_tries) < 0:
            raise ValueError(f"CosineLRScaling: max_tries must be >= 0, got {max_tries}")
        self.min_cosine, self.xi, self.max_tries, self.enabled = min_cosine, xi, max_tries, enabled
        self.targets = _constrained(model)
        self.all_names = {prefix: [_key(prefix, k) for k in layer.params]
                          for prefix, layer in dale_layers(model)}
        self._scales = {prefix: [] for prefix, _, _ in self.targets}

    def attach(self, trainer):
        """Refuse an optimizer other than plain SGD (called by the Trainer once, when built)."""
        opt = trainer.optimizer
        if type(opt) is not SGD or opt.weight_decay:
            got = type(opt).__name__ + (f"(weight_decay={opt.weight_decay})" if type(opt) is SGD else "")
            raise TypeError(f"CosineLRScaling: needs plain SGD (no momentum, no weight decay), got {got}: "
                            "multiplying a layer's gradient by xi^i is a step with learning rate lr * xi^i "
                            "only for plain SGD; use optim.SGD(lr) or drop the rule")

    def scale_for(self, layer, names, params, grads, lr):
        """The factor xi^i chosen for one layer: the first i = 0, 1, ..., max_tries that
        meets the constraint, or the last one tried."""
        for i in range(self.max_tries + 1):
            scale = self.xi ** i
            new = [params[n] - (lr * scale) * grads[n] for n in names]        # theta - eta G
            if _cosine([(project(v, layer), v) for v in new]) >= self.min_cosine:
                break
        return scale

    def before_step(self, trainer):
        if not self.enabled:
            return
        params, grads, lr = trainer.model.params, trainer.grads, trainer.optimizer.lr
        for prefix, layer, names in self.targets:
            scale = self.scale_for(layer, names, params, grads, lr)
            self._scales[prefix].append(scale)
            if scale != 1.0:
                for n in self.all_names[prefix]:
                    grads[n] = grads[n] * scale

    def end_epoch(self, trainer):
        for prefix, values in self._scales.items():
            if values:
                trainer.history.setdefault(f"lr_scale/{prefix}", []).append(float(np.mean(values)))
            values.clear()


# ----------------------------------------------------------------------------
# Diagonal Fisher (algorithm 4) and the figure-2 measurement
# ----------------------------------------------------------------------------

def dann_per_example_sq_grads(layer):
    """Sum over the batch of the *squared per-example* gradients of a dense DANN layer:
    ``layer.per_example_sq_grads()``, written in ``minigrad/nn/dann.py`` beside the
    batch backward it mirrors.

    Returns:
        dict parameter key -> array of the parameter's shape.
    """
    return layer.per_example_sq_grads()


def refuse_data_parallel(rule, model, why):
    """Raise a TypeError naming ``rule`` (a string) if ``model`` is a ``DataParallel`` wrapper.

    The one check for every rule that cannot work on a batch split over replicas;
    ``why`` says what the rule reads that the split breaks. Called where the rule
    is built and, for the Trainer's model, in the rule's ``attach``.
    """
    if isinstance(model, DataParallel):
        raise TypeError(f"{rule}: {why}, and under DataParallel a layer's cache holds only its own block "
                        "of the batch; train the model unwrapped")


class FisherCorrection:
    """Algorithm 4: diagonal-Fisher-corrected gradients for dense DANN layers, and the
    measurement of figure 2.

    Per step, with the batch's scores (recorded by ``self.loss_fn``, which the
    Trainer must use as its loss):

    1. sample labels y ~ Categorical(softmax(scores)) (the model's own
       distribution: the *true* Fisher, not the empirical one);
    2. backpropagate the cross-entropy of those labels and take, for every
       parameter, the per-example squared gradients, summed:
       F = sum_n (dL_n/dtheta)^2 / (lambda N)       (``fisher_lr`` = lambda);
    3. F_t = k F + (1 - k) F_{t-1}                  (``momentum`` = k);
    4. F^-1 = 1 / (F_t + damping * mean of F_t over the layer), normalised by
       the norm of its Wee part. The damping is our choice (the paper gives
       none): F is nearly singular in some directions (F = 0 for a dead ReLU
       unit; alpha of a hidden layer barely matters because the next DANN
       layer is invariant to the scale of its input), and an undamped 1/F
       would put the whole update there;
    5. corrected gradient Delta = F^-1 * gradient (true labels).

    With ``apply=True`` the Trainer's gradients are replaced by Delta (train
    with the approximate natural gradient, as the paper did for figure 2).
    Every ``measure_every`` steps, for each DANN layer, it records the cosine
    between Delta and the plain gradient and between Delta and the gradient
    after the heuristic corrections of algorithm 3 (all the layer's
    parameters as one vector) in ``self.records`` and, averaged over the
    epoch, in ``history["fisher_cos_uncorrected/<layer>"]`` and
    ``history["fisher_cos_corrected/<layer>"]``.

    Put it *first* in the rule list: it must see the uncorrected gradients.
    Only dense ``DANN`` layers are covered (other layers keep their gradient).
    Lambda cancels in the normalisation of step 4; it is kept to mirror the paper.
    ``apply=True`` together with an enabled ``DANNCorrections`` is refused:
    Delta already contains the Fisher's own scaling of Wie, Wei and alpha, and
    algorithm 3 would then scale those gradients a second time (``apply=False``
    with ``DANNCorrections`` is fine: measure, and train with the heuristic).
    Also refused: ``DataParallel`` (the per-example gradients come from each
    layer's cache), layers trained with feedback alignment (their gradients
    are not the model's true gradient, so F would not be its Fisher), a rule
    with ``before_step`` placed before it, and (when enabled) a Trainer whose
    loss is not ``rule.loss_fn``.

    Args:
        model: the network (a softmax classifier).
        fisher_lr: lambda. momentum: k. damping: relative damping of F_t before inverting.
        apply: replace gradients by Delta (False: only measure).
        measure_every: steps between measurements (0: never).
        rng: seed for the label sampling.
        enabled: False measures nothing and changes nothing (no extra backward
            pass either): training with plain gradients, at plain cost, for
            ablations; ``loss_fn`` still works. To measure without changing the
            training, use ``apply=False`` instead.
    """

    _WHY_NOT_PARALLEL = "per-example gradients are read from each DANN layer's cache"

    def __init__(self, model, fisher_lr=2.5e-5, momentum=0.02, damping=1e-2, apply=True,
                 measure_every=10, rng=0, enabled=True):
        refuse_data_parallel("FisherCorrection", model, self._WHY_NOT_PARALLEL)
        fa = [name for name, layer in model.named_layers()
              if getattr(getattr(layer, "inner", layer), "feedback", "bp") != "bp"]
        if fa:
            raise ValueError(f"FisherCorrection: layer(s) {fa} are trained with feedback alignment: the "
                             "per-example gradients would carry the fixed feedback signal, not the true "
                             "gradient, so F would not be the Fisher; use feedback='bp' everywhere")
        self.model, self.fisher_lr, self.momentum, self.damping = model, fisher_lr, momentum, damping
        self.apply, self.measure_every, self.enabled = apply, measure_every, enabled
        self.layers = [(p, layer) for p, layer in model.named_layers() if isinstance(layer, DANN)]
        if not self.layers:
            raise ValueError("FisherCorrection: the model has no dense DANN layer")
        self.factors = correction_factors(model)
        self.F = {}
        self.records = []             # (step, layer prefix, cos uncorrected, cos corrected)
        self._epoch = []
        self._dev_rng = device_rng(rng)
        self._scores = None

    def attach(self, trainer):
        """Refuse what the Trainer's other settings make impossible (called once, when it is built)."""
        refuse_data_parallel("FisherCorrection", trainer.model, self._WHY_NOT_PARALLEL)
        if self.enabled and trainer.loss_fn != self.loss_fn:
            raise ValueError("FisherCorrection: pass loss_fn=rule.loss_fn to the Trainer (the rule needs the "
                             "batch's scores to sample labels from)")
        before = [type(r).__name__ for r in trainer.rules[:trainer.rules.index(self)] if hasattr(r, "before_step")]
        if before:
            raise ValueError(f"FisherCorrection: must be the first rule that changes gradients, but {before} "
                             "come(s) before it; it must see the uncorrected gradients")
        if self.enabled and self.apply and any(isinstance(r, DANNCorrections) and r.enabled for r in trainer.rules):
            raise ValueError("FisherCorrection: apply=True together with an enabled DANNCorrections would scale "
                             "the inhibitory gradients twice (the Fisher-corrected update already contains that "
                             "scaling); use apply=False to measure alongside DANNCorrections, or drop DANNCorrections")

    def state_dict(self):
        """For checkpoints: the running Fisher F_t, the records and the label sampler's stream."""
        state = {f"F/{name}": F for name, F in self.F.items()}
        state["records"] = [list(r) for r in self.records]
        state["rng"] = generator_state(self._dev_rng)
        return state

    def load_state_dict(self, state):
        self.F = {k[2:]: v for k, v in state.items() if k.startswith("F/")}
        self.records = [tuple(r) for r in state["records"]]
        set_generator_state(self._dev_rng, state["rng"])

    def loss_fn(self, scores, y):
        """Softmax cross-entropy that also records the scores (pass as Trainer loss_fn)."""
        self._scores = scores
        return softmax_cross_entropy(scores, y)

    def sample_labels(self, scores):
        """y ~ Categorical(softmax(scores)) for each row, on the device. (N,) int64."""
        p = xp.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = self._dev_rng.random((scores.shape[0], 1), dtype=p.dtype)
        y = (xp.cumsum(p, axis=1) < u).sum(axis=1)
        return xp.minimum(y, scores.shape[1] - 1).astype(xp.int64)

    def before_step(self, trainer):
        if not self.enabled:
            return
        if self._scores is None:
            raise RuntimeError("FisherCorrection: pass loss_fn=rule.loss_fn to the Trainer")
        grads = dict(trainer.grads)                          # true-label gradients
        scores = self._scores
        n = scores.shape[0]
        _, dscores = softmax_cross_entropy(scores, self.sample_labels(scores))
        trainer.model.backward(dscores)                      # same forward; sampled labels
        measure = self.measure_every and trainer.step_count % self.measure_every == 0
        for prefix, layer in self.layers:
            sq = dann_per_example_sq_grads(layer)
            # dscores carries 1/N: per-example gradients are N x the rows' contributions
            names = {k: _key(prefix, k) for k in sq}
            Fs = {}
            for k, name in names.items():
                F = sq[k] * (n / self.fisher_lr)
                F = F if name not in self.F else self.momentum * F + (1 - self.momentum) * self.F[name]
                self.F[name] = Fs[k] = F
            # Levenberg-Marquardt style damping: a fraction of the mean of the layer's diagonal
            mean_F = sum(F.sum() for F in Fs.values()) / sum(F.size for F in Fs.values())
            finv = {k: 1.0 / (F + self.damping * mean_F) for k, F in Fs.items()}
            norm = xp.sqrt((finv["Wee"] * finv["Wee"]).sum())
            delta = {k: finv[k] / norm * grads[name] for k, name in names.items()}
            if measure:
                unc = _cosine([(delta[k], grads[name]) for k, name in names.items()])
                cor = _cosine([(delta[k], grads[name] * self.factors.get(name, 1.0))
                               for k, name in names.items()])
                self.records.append((trainer.step_count, prefix, unc, cor))
                self._epoch.append((prefix, unc, cor))
            if self.apply:
                for k, name in names.items():
                    grads[name] = delta[k]
        trainer.grads = grads

    def end_epoch(self, trainer):
        for prefix, _ in self.layers:
            rows = [(u, c) for p, u, c in self._epoch if p == prefix]
            if rows:
                trainer.history.setdefault(f"fisher_cos_uncorrected/{prefix}", []).append(
                    float(np.mean([r[0] for r in rows])))
                trainer.history.setdefault(f"fisher_cos_corrected/{prefix}", []).append(
                    float(np.mean([r[1] for r in rows])))
        self._epoch.clear()
