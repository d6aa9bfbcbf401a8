"""Data parallelism on the CPU: the batch split over threads, one model replica per thread.

Why: NumPy runs every elementwise pass (pooling, ReLU, im2col copies, col2im adds)
on one core, and between two threaded matrix products OpenBLAS's second thread
only waits. For a CNN that leaves the second core idle for half the step. Splitting
the *batch* instead gives every core a whole forward and backward pass of its own:
replica r computes rows [lo_r, hi_r) of the batch, with single-threaded BLAS, and
the parameter gradients are the sums of the replicas' gradients. NumPy releases the
GIL inside its loops and BLAS calls, so the threads run at the same time.

Exact, not an approximation, for networks whose examples do not interact in the
forward pass (out[i] depends on x[i] only: Linear, Conv2d, pooling, activations,
RNN over a sequence, DANN, CWA):

    out = concat(out_1, ..., out_k)                 each block's rows are the full network's
    dW  = sum_i dW_i  (sum over the batch rows)     so dW = dW_1 + ... + dW_k
    dx  = concat(dx_1, ..., dx_k)

(the loss gradient already carries the full batch's 1/N). ``BatchNorm`` (statistics
over the batch) and ``Dropout`` (random masks) break this and are refused.

Parameters and buffers are *shared*: every replica's layers hold the same dicts as
the wrapped model's, so an optimizer updating ``model.params`` in place updates all.
Per-batch caches (the inputs a layer keeps for backward) are per replica. The
switches in ``SWITCHES`` are copied from the wrapped model's layers to the replicas
before every pass, and an RNN's ``dh0`` is gathered from the replicas, so both read
as for the unsplit model. Rules that read a layer's per-example caches
(``FisherCorrection``) see only the first block and refuse the wrapper.

On the GPU (CuPy) there is nothing to gain: the wrapper runs the model unsplit.
"""
import copy
from concurrent.futures import ThreadPoolExecutor

from ..backend import NAME, xp
from .activations import Dropout
from .base import Layer, assembled
from .batchnorm import BatchNorm

try:
    from threadpoolctl import ThreadpoolController
except ImportError:          # then BLAS keeps its thread count: slower, still correct
    ThreadpoolController = None

# per-layer settings the wrapped model's layers may change between passes: the Trainer
# turns off dx of the first layer, measure_alignment switches feedback to "bp" for one pass
SWITCHES = ("needs_input_grad", "feedback")


def _with_inner(layer):
    """The layer and, for wrappers such as ``TemporalLinear``, the layer it keeps in ``.inner``."""
    return [layer, layer.inner] if hasattr(layer, "inner") else [layer]


class DataParallel(Layer):
    """Run ``model`` on ``threads`` blocks of every batch at once (CPU only).

    Args:
        model: the network (a ``Sequential`` or any layer); it stays the owner of the
            parameters: ``DataParallel(model).params`` is ``model.params``.
        threads: number of blocks and threads (default 2). Each thread's BLAS runs
            single-threaded while the wrapper works.

    Shapes: x (N, ...) -> out (N, ...), the wrapped model's shapes; batches smaller
    than ``threads`` run unsplit.
    """

    def __init__(self, model, threads=2):
        super().__init__()
        if int(threads) < 1:
            raise ValueError(f"DataParallel: threads must be at least 1, got {threads}")
        for name, layer in model.named_layers():
            if isinstance(layer, (BatchNorm, Dropout)):
                raise TypeError(f"DataParallel: layer {name!r} ({type(layer).__name__}) mixes the examples of "
                                "a batch or draws random masks, so splitting the batch would change the result")
        self.model, self.threads = model, int(threads)
        self.replicas = [model]
        for _ in range(self.threads - 1):
            # a copy whose params and buffers dicts are the model's own (shared, not copied),
            # also those of a layer kept inside another (TemporalLinear's inner Linear)
            shared = {}
            for _, layer in model.named_layers():
                for store in (layer.params, layer.buffers):
                    shared[id(store)] = store
            self.replicas.append(copy.deepcopy(model, shared))
        self._pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None
        self._blas = ThreadpoolController() if ThreadpoolController is not None else None

    # the wrapped model owns parameters, buffers and gradients
    params = assembled("params", lambda self: self.model.params)
    grads = assembled("grads", lambda self: self.model.grads)
    buffers = assembled("buffers", lambda self: self.model.buffers)

    def named_layers(self, prefix=""):
        yield from self.model.named_layers(prefix)

    def train(self):
        for m in self.replicas:
            m.train()
        self.training = True
        return self

    def eval(self):
        for m in self.replicas:
            m.eval()
        self.training = False
        return self

    def astype(self, dtype):
        self.model.astype(dtype)             # replaces entries of the shared dicts
        return self

    def _blocks(self, n):
        k = self.threads if NAME == "numpy" and n >= self.threads else 1
        return [(n * i // k, n * (i + 1) // k) for i in range(k)]

    def _run(self, work, n):
        """[work(replica_i, lo_i, hi_i) for each block], the blocks on parallel threads."""
        blocks = self._blocks(n)
        if len(blocks) == 1:
            return [work(self.model, 0, n)]
        blas_one_thread = self._blas.limit(limits=1, user_api="blas") if self._blas else None
        try:
            futures = [self._pool.submit(work, m, lo, hi) for m, (lo, hi) in zip(self.replicas[1:], blocks[1:])]
            first = work(self.model, *blocks[0])           # this thread takes block 0
            return [first] + [f.result() for f in futures]
        finally:
            if blas_one_thread is not None:
                blas_one_thread.restore_original_limits()

    def _layer_pairs(self):
        """For each layer of the model: [its layer, the same layer in each other replica]."""
        per_model = [[leaf for _, layer in m.named_layers() for leaf in _with_inner(layer)] for m in self.replicas]
        return zip(*per_model)

    def _sync_switches(self):
        for own, *reps in self._layer_pairs():
            for attr in SWITCHES:
                if hasattr(own, attr):
                    for rep in reps:
                        setattr(rep, attr, getattr(own, attr))

    def forward(self, x):
        """x: (N, ...) -> out: (N, ...), row blocks computed by the replicas."""
        self._sync_switches()
        outs = self._run(lambda m, lo, hi: m.forward(x[lo:hi]), len(x))
        self._n_blocks = len(outs)
        return outs[0] if len(outs) == 1 else xp.concatenate(outs)

    def backward(self, dout):
        """dout: (N, ...) -> dx: (N, ...) (or None); model.grads = sum of the replicas' grads."""
        if self._n_blocks == 1:
            return self.model.backward(dout)
        self._sync_switches()
        dxs = self._run(lambda m, lo, hi: m.backward(dout[lo:hi]), len(dout))
        for replica in self.replicas[1:]:
            for (_, own), (_, rep) in zip(self.model.named_layers(), replica.named_layers()):
                for k in own.grads:
                    own.grads[k] = own.grads[k] + rep.grads[k]   # dW = sum over the blocks
        for own, *reps in self._layer_pairs():
            if getattr(own, "dh0", None) is not None:         # an RNN's (N, H) gradient of h0: rows of every block
                own.dh0 = xp.concatenate([own.dh0] + [rep.dh0 for rep in reps])
        return None if dxs[0] is None else xp.concatenate(dxs)
