"""A CPU stand-in for CuPy, used to test the GPU code paths on machines without a GPU.

``MINIGRAD_BACKEND=fakecupy`` makes ``minigrad.backend.xp`` this module. It
mimics the one CuPy behaviour that breaks CPU-only code: its arrays are a type
of their own (``fakecupy.ndarray``, *not* a NumPy subclass) that refuse every
implicit conversion to NumPy, exactly where CuPy raises::

    a = xp.zeros(3)
    numpy.asarray(a)          # TypeError: Implicit conversion to a NumPy array is not allowed...
    numpy.exp(a)              # TypeError (NumPy functions and ufuncs are refused: use xp.exp)
    a + numpy.ones(3)         # TypeError (host arrays do not mix with device arrays)
    xp.asnumpy(a), a.get()    # the two explicit ways back to the host
    float(a.sum())            # allowed, as in CuPy: an explicit sync of one element

Everything else is NumPy underneath: each array wraps a ``numpy.ndarray``
(``_a``), and every ``xp.<name>`` not defined here is NumPy's function of that
name, wrapped so that it unwraps fake arrays in its arguments and wraps arrays
in its result. Like CuPy, reductions and scalar indexing return 0-d arrays,
not NumPy scalars.

Where CuPy and NumPy differ in API, the stand-in follows CuPy so that such code
fails here first: ``lib.stride_tricks.as_strided(x, shape, strides)`` has no
``writeable`` argument, and ``random.default_rng(seed)`` returns a generator
with only the methods CuPy's ``Generator`` has (no ``permutation``,
``normal``, ``choice``: draw those on the host and move them).

It is deliberately *stricter* than CuPy in three places, so that hidden
host<->device traffic shows up in tests: NumPy functions called on fake arrays
raise (CuPy dispatches some of them to itself; our code must use ``xp``), and
NumPy arrays are refused as indices and as values assigned into a fake array
(move them with ``xp.asarray`` first).
"""
import operator
import sys
import types

import numpy

__version__ = "fake (numpy " + numpy.__version__ + ")"

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


def _host_error(where):
    return TypeError(f"fakecupy: {where} got a NumPy array; device code must not mix host arrays "
                     "in (move it with xp.asarray first, as CuPy requires)")


def _unwrap(obj, where):
    """Fake arrays -> their NumPy arrays (recursively in lists/tuples); host arrays are refused."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, numpy.ndarray):
        raise _host_error(where)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o, where) for o in obj)
    return obj


def _wrap(obj):
    """NumPy arrays and NumPy scalars -> fake arrays (0-d for scalars, as CuPy returns)."""
    if isinstance(obj, numpy.ndarray):
        out = object.__new__(ndarray)
        out._a = obj
        return out
    if isinstance(obj, numpy.generic):
        return _wrap(numpy.asarray(obj))
    if isinstance(obj, (list, tuple)) and any(isinstance(o, (numpy.ndarray, numpy.generic)) for o in obj):
        return type(obj)(_wrap(o) for o in obj)
    return obj


def _wrapped(fn, name):
    """NumPy function ``fn`` as a stand-in function: unwrap arguments, wrap the result."""
    def call(*args, **kwargs):
        args = _unwrap(args, name)
        kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
        return _wrap(fn(*args, **kwargs))
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Stand-in for cupy.{name} (NumPy's {name} on the wrapped arrays)."
    return call


class ndarray:
    """A 'device' array: a NumPy array that refuses implicit conversion to NumPy.

    ``ndarray(shape, dtype=float)`` allocates an uninitialised array, as in CuPy.
    """
    __slots__ = ("_a",)

    def __init__(self, shape, dtype=float):
        self._a = numpy.empty(shape, dtype)

    def __array__(self, *args, **kwargs):
        raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on fake arrays raise, except a NumPy *scalar* operand
        (``numpy.float32(2) * a``), which CuPy accepts as a scalar."""
        others = [x for x in inputs if not isinstance(x, ndarray)]
        if method == "__call__" and not kwargs and all(isinstance(x, numpy.generic) for x in others):
            if len(inputs) == 2 and others:
                return _wrap(ufunc(*(_operand(x) for x in inputs)))
        if any(isinstance(x, numpy.ndarray) for x in others):
            raise _host_error(f"numpy.{ufunc.__name__}")
        raise TypeError(f"{_IMPLICIT} (numpy.{ufunc.__name__} was called on a fakecupy array; "
                        f"use xp.{ufunc.__name__})")

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"{_IMPLICIT} (numpy.{func.__name__} was called on a fakecupy array; "
                        f"use xp.{func.__name__})")

    # explicit transfers
    def get(self, stream=None, order="C", out=None):
        """Copy to the host: a new numpy.ndarray."""
        return numpy.array(self._a, order=order)

    def set(self, arr):
        """Copy the host array ``arr`` into this array."""
        self._a[...] = numpy.asarray(arr)

    # attributes and methods: NumPy's, wrapped; raw memory access is refused
    _REFUSED = ("ctypes", "data", "flat", "tofile", "dump", "dumps")

    def __getattr__(self, name):
        if name == "_a":
            raise AttributeError(name)
        if name.startswith("__") or name in ndarray._REFUSED:
            raise AttributeError(f"fakecupy.ndarray has no attribute {name!r} "
                                 "(it would expose host memory)")
        value = getattr(self._a, name)
        return _wrapped(value, "ndarray." + name) if callable(value) else _wrap(value)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, "indexing")])

    def __setitem__(self, key, value):
        self._a[_unwrap(key, "indexing")] = _unwrap(value, "assignment")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __copy__(self):
        return _wrap(self._a.copy())

    def __deepcopy__(self, memo):
        return _wrap(self._a.copy())

    def __reduce__(self):          # pickling goes through the host, as CuPy's does
        return (_from_host, (self._a,))


def _from_host(a):
    return _wrap(numpy.array(a))


def _operand(other):
    if isinstance(other, ndarray):
        return other._a
    if isinstance(other, (numpy.ndarray, list, tuple)):
        raise TypeError(f"Unsupported type {type(other)} (fakecupy, like CuPy, does not mix "
                        "device arrays with host arrays or lists; use xp.asarray)")
    return other


def _binary(op):
    def method(self, other):
        return _wrap(op(self._a, _operand(other)))
    return method


def _reflected(op):
    def method(self, other):
        return _wrap(op(_operand(other), self._a))
    return method


def _inplace(op):
    def method(self, other):
        self._a = op(self._a, _operand(other))
        return self
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and", "or", "xor", "lshift", "rshift"):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _reflected(_op))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, "i" + _name)))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", lambda self, _op=getattr(operator, _name): _wrap(_op(self._a)))
# Size-1 arrays convert to Python numbers, as in CuPy (where it is an explicit device sync),
# and arrays print like NumPy's.
for _name in ("float", "int", "bool", "complex", "format", "repr", "str"):
    setattr(ndarray, f"__{_name}__", lambda self, *a, _n=f"__{_name}__": getattr(self._a, _n)(*a))
ndarray.__hash__ = None


# ---- module functions ------------------------------------------------------------
def asarray(a, dtype=None, order=None):
    """Host data (NumPy array, list, scalar) or a fake array -> fake array (no copy if possible)."""
    if isinstance(a, ndarray):
        return _wrap(numpy.asarray(a._a, dtype=dtype, order=order))
    return _wrap(numpy.array(_unwrap_lists(a), dtype=dtype, order=order or "K"))


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    """Like ``asarray`` but copies by default (host data is always copied, as CuPy does)."""
    src = a._a if isinstance(a, ndarray) else _unwrap_lists(a)
    return _wrap(numpy.array(src, dtype=dtype, copy=copy, order=order, ndmin=ndmin))


def _unwrap_lists(a):
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap_lists(v) for v in a)
    return a._a if isinstance(a, ndarray) else a


def asnumpy(a, stream=None, order="C", out=None):
    """Fake array (or anything array-like) -> a NumPy array on the host."""
    if isinstance(a, ndarray):
        return a.get(order=order)
    return numpy.asarray(a, order=order)


def get_array_module(*args):
    """This module if any argument is a fake array, else numpy (as ``cupy.get_array_module``)."""
    return _this if any(isinstance(a, ndarray) for a in args) else numpy


class _Ufunc:
    """A NumPy ufunc on fake arrays, with ``.at`` (scatter), ``.reduce``, ``.outer``..."""

    def __init__(self, ufunc):
        self._u = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _wrapped(self._u, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        value = getattr(self._u, name)
        return _wrapped(value, f"{self.__name__}.{name}") if callable(value) else value


class _Namespace:
    """A NumPy submodule (``linalg``, ``random``, ``fft``, ``lib``...) with wrapped functions."""

    def __init__(self, module, overrides=None):
        self._m, self._over = module, overrides or {}

    def __getattr__(self, name):
        if name in self._over:
            return self._over[name]
        return _convert(getattr(self._m, name), name)


def _convert(obj, name):
    if isinstance(obj, types.ModuleType):
        return _Namespace(obj)
    if isinstance(obj, numpy.ufunc):
        return _Ufunc(obj)
    if callable(obj) and not isinstance(obj, type):
        return _wrapped(obj, name)
    return obj                                  # dtypes (float32), classes, constants (newaxis, pi)


def as_strided(x, shape=None, strides=None):
    """``cupy.lib.stride_tricks.as_strided``: CuPy's signature (no ``writeable`` argument)."""
    return _wrap(numpy.lib.stride_tricks.as_strided(_unwrap(x, "as_strided"), shape, strides))


class Generator:
    """``cupy.random.Generator``: only the methods CuPy's has; results are fake arrays."""
    _METHODS = ("random", "uniform", "integers", "standard_normal", "standard_exponential",
                "exponential", "standard_gamma", "gamma", "beta", "binomial", "poisson",
                "geometric", "chisquare", "dirichlet", "f", "power", "logseries", "hypergeometric")

    def __init__(self, seed=None):
        self._g = numpy.random.default_rng(seed)

    def __getattr__(self, name):
        if name not in Generator._METHODS:
            raise AttributeError(f"cupy.random.Generator has no method {name!r}; draw it on the host "
                                 "(backend.make_rng) and move it with to_device")
        method = getattr(self._g, name)

        def draw(*args, **kwargs):
            return _wrap(numpy.asarray(method(*_unwrap(args, name), **kwargs)))
        return draw


lib = _Namespace(numpy.lib, {"stride_tricks": _Namespace(numpy.lib.stride_tricks,
                                                         {"as_strided": as_strided})})
random = _Namespace(numpy.random, {"default_rng": Generator, "Generator": Generator})
_this = sys.modules[__name__]


def __getattr__(name):
    """Every other ``xp.<name>``: NumPy's, adapted; cached so the lookup runs once."""
    try:
        obj = getattr(numpy, name)
    except AttributeError:
        raise AttributeError(f"module 'fakecupy' (stand-in for cupy) has no attribute {name!r}") from None
    globals()[name] = value = _convert(obj, name)
    return value
