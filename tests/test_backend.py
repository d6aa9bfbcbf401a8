"""The backend switch: clear errors, the CPU stand-in for CuPy, checkpoints across backends.

The backend is chosen once, when ``minigrad.backend`` is imported, so every test
that needs a particular backend runs Python in a subprocess with
``MINIGRAD_BACKEND`` set. The stand-in tests import ``minigrad._fakecupy``
directly and so run under any backend.
"""
import importlib.util
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minigrad import _fakecupy as fcp
from minigrad import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, backend_name, extra_path=None, args=()):
    """Run ``code`` in a fresh interpreter with MINIGRAD_BACKEND=backend_name; returns the process."""
    env = dict(os.environ, MINIGRAD_BACKEND=backend_name, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([extra_path, ROOT, env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def fake_cupy_package(tmp_path, init_code):
    """A directory holding a package ``cupy`` whose __init__.py is ``init_code``; returns its path."""
    pkg = tmp_path / "fake_site" / "cupy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(init_code))
    return str(pkg.parent)


def assert_clear_import_error(proc, *texts):
    """An uncaught BackendError: a short traceback (the import chain) whose last line is the message."""
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("minigrad.backend.BackendError: "), proc.stderr
    for text in texts:
        assert text in lines[-1], f"{text!r} should be in the last line: {lines[-1]}"
    assert len(lines) <= 12, "the traceback should be the short import chain only:\n" + proc.stderr
    assert "During handling" not in proc.stderr, "no chained exception under the message"


# ------------------------------------------------------------------ choosing a backend
def test_unknown_backend_name_lists_valid_ones_at_import():
    proc = run_python("import minigrad.backend", "tensorflow")
    assert_clear_import_error(proc, "MINIGRAD_BACKEND='tensorflow' is not a backend", "numpy, cupy, fakecupy")


CATCH = """
    try:
        from minigrad import nn
    except {kind} as err:
        print("CAUGHT", type(err).__name__, isinstance(err, ImportError), isinstance(err, RuntimeError))
        print("MESSAGE", err)
    print("the program goes on")
"""


@pytest.mark.parametrize("kind", ["ImportError", "RuntimeError"])
def test_a_backend_that_cannot_load_is_an_exception_a_program_can_catch(kind):
    """Not SystemExit: a program (a notebook, a test runner, a GPU-or-CPU fallback) can catch it."""
    proc = run_python(CATCH.format(kind=kind), "bogus")
    assert proc.returncode == 0, proc.stderr
    assert "CAUGHT BackendError True True" in proc.stdout
    assert "MESSAGE MINIGRAD_BACKEND='bogus' is not a backend; valid backends are: numpy, cupy, fakecupy" \
        in proc.stdout
    assert "the program goes on" in proc.stdout


def test_import_time_failure_raises_backend_error_in_process(monkeypatch):
    """The module-level choice, run in this process on a fresh copy of backend.py: CuPy whose
    import dies with OSError (a CUDA library missing) gives the clear, catchable error."""
    real_import = importlib.import_module

    def broken_cupy(name, *args):
        if name == "cupy":
            raise OSError("libcudart.so.12: cannot open shared object file: No such file or directory")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken_cupy)
    monkeypatch.setenv("MINIGRAD_BACKEND", "cupy")
    spec = importlib.util.spec_from_file_location("backend_probe", backend.__file__)
    with pytest.raises(ImportError, match="CuPy is installed but failed to import .*libcudart.so.12") as info:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert isinstance(info.value, RuntimeError) and type(info.value).__name__ == "BackendError"
    with pytest.raises(backend.BackendError, match="libcudart.so.12.*pip install cupy-cuda12x"):
        backend.load_backend("cupy")


def test_load_backend_rejects_unknown_and_accepts_any_case():
    with pytest.raises(ValueError, match="valid backends are: numpy, cupy, fakecupy"):
        backend.load_backend("jax")
    assert backend.load_backend(" NumPy ") is np
    assert backend.load_backend("FakeCuPy") is fcp


def test_cupy_missing_gives_install_instructions(tmp_path):
    extra = None
    if importlib.util.find_spec("cupy") is not None:
        # real CuPy is installed here: hide it behind a package that fails to import like a missing one
        extra = fake_cupy_package(tmp_path,
                                  'raise ModuleNotFoundError("No module named \'cupy\'", name="cupy")\n')
    proc = run_python("import minigrad.backend", "cupy", extra)
    assert_clear_import_error(proc, "CuPy is not installed", "pip install", "cupy-cuda12x")


def test_cupy_that_fails_to_import_is_not_called_missing(tmp_path):
    """Installed, but a CUDA library or dependency is missing: say so, not 'not installed'."""
    extra = fake_cupy_package(tmp_path, 'import cuda_lib_not_here  # as CuPy 14 needs cuda.pathfinder\n')
    proc = run_python("import minigrad.backend", "cupy", extra)
    assert_clear_import_error(proc, "CuPy is installed but failed to import", "cuda_lib_not_here")


def test_cupy_raising_oserror_on_import_gets_the_same_clear_message(tmp_path):
    """CuPy's import can die with OSError when a CUDA shared library cannot be loaded."""
    extra = fake_cupy_package(
        tmp_path, 'raise OSError("libcudart.so.12: cannot open shared object file: No such file or directory")\n')
    proc = run_python("import minigrad.backend", "cupy", extra)
    assert_clear_import_error(proc, "CuPy is installed but failed to import", "libcudart.so.12",
                              "pip install cupy-cuda12x")


NO_DEVICE_CUPY = '''
    """Stand-in for an installed CuPy on a machine without a usable GPU."""
    __version__ = "13.0.0"

    class CUDARuntimeError(RuntimeError):
        pass

    class _Runtime:
        CUDARuntimeError = CUDARuntimeError

        @staticmethod
        def getDeviceCount():
            raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    class cuda:
        runtime = _Runtime()
'''


def test_cupy_installed_but_no_cuda_device_is_the_clear_error(tmp_path):
    proc = run_python("import minigrad.backend", "cupy", fake_cupy_package(tmp_path, NO_DEVICE_CUPY))
    # cudaErrorNoDevice: the message passes on what CuPy reported
    assert_clear_import_error(proc, "no usable CUDA device", "cudaErrorNoDevice", "nvidia-smi")


def test_cupy_reporting_zero_devices_is_the_clear_error(tmp_path):
    code = NO_DEVICE_CUPY.replace(
        'raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")', "return 0")
    proc = run_python("import minigrad.backend", "cupy", fake_cupy_package(tmp_path, code))
    assert_clear_import_error(proc, "sees no CUDA device")


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None,
                    reason="real CuPy is not installed here (pip install cupy-cuda12x to run this check)")
def test_real_cupy_is_used_for_the_device_check():
    """With real CuPy: either a GPU works and minigrad says so, or the error is the clear one."""
    probe = run_python("import cupy; print(cupy.cuda.runtime.getDeviceCount())", "numpy")
    proc = run_python("from minigrad import backend; print(backend.describe())", "cupy")
    if probe.returncode == 0 and probe.stdout.strip() not in ("", "0"):
        assert proc.returncode == 0, proc.stderr
        assert "backend cupy" in proc.stdout and "GPU" in proc.stdout
    else:
        assert_clear_import_error(proc, "CUDA device")


# ------------------------------------------------------------------ the CPU stand-in for CuPy
def test_stand_in_refuses_implicit_conversion_to_numpy():
    a = fcp.arange(6, dtype=np.float32).reshape(2, 3)
    assert not isinstance(a, np.ndarray)
    for convert in (np.asarray, np.array, lambda v: np.exp(v), lambda v: np.sum(v),
                    lambda v: np.concatenate([v, v]), lambda v: np.savez(io.BytesIO(), v=v)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)
    with pytest.raises(TypeError):
        a + np.ones(3)                     # host arrays do not mix with device arrays
    with pytest.raises(TypeError):
        np.ones(3) * a
    with pytest.raises(TypeError):
        fcp.exp(np.ones(3))                # nor go into device functions
    with pytest.raises(AttributeError):
        a.__array_interface__              # no back door through NumPy's buffer protocols


def test_stand_in_converts_only_explicitly():
    host = np.arange(6.0).reshape(2, 3)
    a = fcp.asarray(host)
    for back in (fcp.asnumpy(a), a.get()):
        assert type(back) is np.ndarray
        np.testing.assert_array_equal(back, host)
    assert float(fcp.asnumpy(a.sum())) == 15.0
    assert float(a[1, 2]) == 5.0           # one element: allowed, as CuPy allows it (a sync)
    assert type(a.sum()) is fcp.ndarray and a.sum().ndim == 0   # reductions stay on the device


def test_stand_in_behaves_like_numpy_through_xp():
    a = fcp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    b = a.copy()
    b += 1
    b[0] = fcp.zeros(4, dtype=np.float32)
    view = b.reshape(-1)
    view[5] = -1.0                         # views share memory, as on the device
    expected = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    expected[0] = 0
    expected.reshape(-1)[5] = -1
    np.testing.assert_array_equal(fcp.asnumpy(b), expected)
    z = fcp.zeros(4)
    fcp.add.at(z, fcp.asarray([0, 0, 3]), 1.0)                   # scatter-add
    np.testing.assert_array_equal(z.get(), [2, 0, 0, 1])
    assert (np.float32(2) * a).dtype == np.float32               # NumPy scalars act as scalars
    assert fcp.get_array_module(a) is fcp and fcp.get_array_module(np.ones(1)) is np


def test_stand_in_follows_cupy_where_its_api_differs_from_numpy():
    x = fcp.zeros((4, 4))
    with pytest.raises(TypeError, match="writeable"):
        fcp.lib.stride_tricks.as_strided(x, shape=(2, 2), strides=x.strides, writeable=False)
    g = fcp.random.default_rng(0)
    assert g.random((2, 3), dtype=np.float32).dtype == np.float32
    with pytest.raises(AttributeError, match="permutation"):
        g.permutation(3)                   # cupy.random.Generator has none: shuffle on the host


# ------------------------------------------------------------------ checkpoints across backends
TRAIN = '''
    import sys
    import numpy as np
    from minigrad import backend, nn, optim
    from minigrad.trainer import Trainer

    mode, path = sys.argv[1], sys.argv[2]
    r = np.random.default_rng(0)
    X = r.standard_normal((64, 5)).astype(np.float32)
    y = r.integers(3, size=64)
    model = nn.Sequential(nn.Linear(5, 8, rng=0), nn.BatchNorm(8), nn.ReLU(),
                          nn.Linear(8, 3, rng=1, feedback="fa"))
    epochs = {"save": 2, "load": 3, "whole": 3}[mode]
    t = Trainer(model, {"X_train": X, "y_train": y}, optim.Adam(1e-2), batch_size=16, epochs=epochs,
                rng=0, progress=(mode == "save"), checkpoint=path if mode != "whole" else None,
                resume=(mode == "load"))
    kinds = {type(v).__module__ for v in list(model.params.values()) + list(model.buffers.values())}
    assert kinds == {"numpy" if backend.NAME == "numpy" else "minigrad._fakecupy"}, kinds
    if mode == "load":
        assert t.epoch == 2
        with np.load(path) as z:
            for k, v in list(model.params.items()) + list(model.buffers.items()):
                kind = "param/" if k in model.params else "buffer/"
                np.testing.assert_array_equal(backend.to_numpy(v), z[kind + k])
    t.fit()
    print("LOSSES", repr([float(v) for v in t.history["train_loss"]]))
'''


def losses(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = [s for s in proc.stdout.splitlines() if s.startswith("LOSSES")][-1]
    return eval(line[len("LOSSES"):])


@pytest.mark.parametrize("saved_on,loaded_on", [("fakecupy", "numpy"), ("numpy", "fakecupy")])
def test_checkpoint_saved_on_one_backend_resumes_on_the_other(saved_on, loaded_on, tmp_path):
    ck = str(tmp_path / "ck.npz")
    saved = run_python(TRAIN, saved_on, args=("save", ck))
    assert f"backend {saved_on}" in saved.stdout, "the Trainer should say which backend ran"
    resumed = losses(run_python(TRAIN, loaded_on, args=("load", ck)))
    whole = losses(run_python(TRAIN, saved_on, args=("whole", ck)))
    assert len(resumed) == 3
    np.testing.assert_allclose(resumed, whole, rtol=1e-6)   # 2 epochs on one backend + 1 on the other
