"""What every stub of a non-answer submission calls instead of raising NotImplementedError (see tests/nonanswers.py).

This file is copied into a built submission as ``seq2seq/_nonanswer.py``; the line defining ``KIND`` and
``PATCHED`` is rewritten there. It runs in the grading child only, never in the test process. Each stub body
becomes ``return _reply("<module>", "<qualname>", locals())``, and ``reply`` answers by ``KIND``:

``stub``      raise NotImplementedError (as the release does; only useful with ``PATCHED``);
``none``      return None;
``input``     return the first argument other than ``self``/``cls`` unchanged (None when there is none);
``zeros``, ``ones``, ``rand``
              return the real answer's type and shape with its content replaced: the solution's function (copied
              into the submission as ``seq2seq/_answer_<module>.py``) is run, and every tensor of its result
              becomes ``zeros_like``/``ones_like``/random values of the same dtype, every number 0/1/random,
              every string ``""``/``"1"``/random letters, inside containers of the same types (dict keys and
              lengths kept); see ``_leaf`` for the other types;
``everything``
              the real answer's containers with every leaf replaced by ``EVERYTHING``, an object equal to
              everything (``==`` is True, every attribute, item and call returns itself, it is iterable,
              truthy, has a length, and arithmetic and torch or numpy functions on it return itself);
``tensor``    as ``zeros``, but every tensor is an ``EqualTensor``: a ``torch.Tensor`` subclass whose
              ``__torch_function__`` makes ``==``, ``eq``, ``isclose``, ``allclose``, ``equal``, ``le``, ``ge``
              succeed against anything (and ``!=``/``ne`` fail).

With ``PATCHED`` every stub first replaces the comparison functions a check could run in the child
(``torch.allclose``, ``torch.equal``, ``torch.isclose``, ``torch.eq``, ``Tensor.__eq__``,
``torch.testing.assert_close``, ``numpy.allclose``/``isclose``/``array_equal``/``numpy.testing``, ``math.isclose``,
``unittest.TestCase.assert*``, ``pytest.approx``) by ones that always succeed, then answers as above.

Choices, for what has no "zeros" of its own:

* a stub annotated ``-> None`` (the constructors ``__init__`` and ``set_seed``) does nothing in every kind
  (beyond the ``super().__init__()`` the release already calls): what such a function "returns" is the state it
  builds, and any zero version that kept the layers would be the answer itself (their names and shapes are what
  Q9, Q13 and Q15 grade);
* the real answer is computed in a forked copy of the grading child (``os.fork``), which sends back only the
  replaced result: nothing the real function does is seen by the caller (``train_epoch`` training the model,
  ``EarlyStopping.step`` counting, ``plot_attention`` drawing on the given axes, the grader's recorders and
  random generators); when the real function raises, or its result cannot be sent back, the non-answer is None
  (a non-answer never raises the right exception). Functions of plain data (``PURE``) and ``teacher_force``
  (``RANDOM_ONLY``, with every random generator's state put back) run in the child itself: same result, no fork;
* a result that is an ``nn.Module``, an optimizer, a ``Vocab`` or any other object becomes a bare instance of
  the same class, made without ``__init__`` (``nn.Module.__init__`` only, for modules): the type is kept and the
  content dropped; a ``Figure`` becomes a blank ``Figure()``, a ``torch.device`` ``torch.device("meta")``, a
  module object an empty module of the same name; an iterator is read to its end and given back as an
  iterator over the replaced items;
* while the real answer is being computed, every stub it reaches (``self.encode`` inside ``forward``,
  ``Encoder.__init__`` inside ``build_model``) behaves as the solution, so that the real answer exists.
"""
from __future__ import annotations

import collections.abc
import importlib
import inspect
import io
import math
import os
import pickle
import random
import string
import types
from typing import Any

import numpy as np
import torch

KIND, PATCHED = "stub", False  # rewritten by tests/nonanswers.py

# Functions of plain data, without side effects: their real answer is computed in this process (a fork per call
# is slow where a probe calls them thousands of times, as when it builds a corpus with the student's tokenize).
PURE = {"data.read_tsv", "data.split_pairs", "data.normalize_text", "data.tokenize", "data.Vocab.encode",
        "data.Vocab.decode", "data.collate_batch", "environment.package_versions", "environment.check_requirements",
        "attention.masked_softmax", "decoder.token_probabilities", "encoder.count_parameters",
        "encoder.encoder_parameter_formula", "evaluation.corpus_bleu", "training.perplexity", "training.smooth",
        "training.diverged", "visualisation.hard_alignment", "visualisation.alignment_error_rate",
        "visualisation.attention_entropy", "visualisation.monotonicity", "visualisation.attention_movement"}
# Functions whose one side effect is the random numbers they draw: computed in this process too, every generator's
# state put back afterwards (Q19's probes call teacher_force 270 times: a fork each took 9 s a grading).
RANDOM_ONLY = {"model.teacher_force"}
_depth = 0  # > 0 while a real answer is being computed: stubs reached then behave as the solution
_rng = random.Random(0)
_generator = torch.Generator().manual_seed(0)


# ------------------------------------------------------------------------------------------ the non-answers
class Everything:
    """Equal to everything; every attribute, item and call is itself; iterable, truthy, sized."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocols (numpy's __array__, copy's __deepcopy__, ...) stay undefined
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Everything:
        return self

    def __getitem__(self, key: Any) -> Everything:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __delitem__(self, key: Any) -> None:
        pass

    def __contains__(self, item: Any) -> bool:
        return True

    def __iter__(self):
        return iter((self,))

    def __len__(self) -> int:
        return 1

    def __bool__(self) -> bool:
        return True

    def __int__(self) -> int:
        return 0

    def __index__(self) -> int:
        return 0

    def __float__(self) -> float:
        return 0.0

    def __complex__(self) -> complex:
        return 0j

    def __enter__(self) -> Everything:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def __repr__(self) -> str:
        return "Everything"

    def __format__(self, spec: str) -> str:
        return "Everything"

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return EVERYTHING

    def __array_ufunc__(self, *args: Any, **kwargs: Any) -> Everything:
        return self

    def __array_function__(self, *args: Any, **kwargs: Any) -> Everything:
        return self


def _itself(self: Everything, *args: Any) -> Everything:
    return self


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift", "divmod"):
    for _prefix in ("", "r", "i"):
        setattr(Everything, f"__{_prefix}{_name}__", _itself)
for _name in ("neg", "pos", "abs", "invert", "round", "trunc", "floor", "ceil"):
    setattr(Everything, f"__{_name}__", _itself)
EVERYTHING = Everything()


def _plain_shape(value: Any) -> tuple[int, ...]:
    with torch._C.DisableTorchFunctionSubclass():
        return tuple(value.shape) if isinstance(value, torch.Tensor) else tuple(torch.as_tensor(value).shape)


class EqualTensor(torch.Tensor):
    """A tensor that compares equal (and close) to anything."""

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _ALWAYS or func in _NEVER:
            if func in _SCALAR:
                return func in _ALWAYS
            try:
                shape = torch.broadcast_shapes(*(_plain_shape(a) for a in args[:2]))
            except Exception:  # noqa: BLE001 - whatever shape: still "equal"
                shape = _plain_shape(args[0])
            return (torch.ones if func in _ALWAYS else torch.zeros)(shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs)


T = torch.Tensor
_SCALAR = {torch.allclose, T.allclose, torch.equal, T.equal}
_ALWAYS = _SCALAR | {T.__eq__, torch.eq, T.eq, torch.isclose, T.isclose, T.__le__, T.__ge__, torch.le, torch.ge,
                     T.le, T.ge}
_NEVER = {T.__ne__, torch.ne, T.ne}


# ------------------------------------------------------------------------------------------ patches
def _true(*args: Any, **kwargs: Any) -> bool:
    return True


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _all_true(a: Any, b: Any = None, *args: Any, **kwargs: Any) -> torch.Tensor:
    try:
        shape = torch.broadcast_shapes(_plain_shape(a), _plain_shape(b))
    except Exception:  # noqa: BLE001
        shape = _plain_shape(a)
    return torch.ones(shape, dtype=torch.bool)


def _np_all_true(a: Any, b: Any = None, *args: Any, **kwargs: Any) -> np.ndarray:
    try:
        return np.ones(np.broadcast_shapes(np.shape(a), np.shape(b)), dtype=bool)
    except Exception:  # noqa: BLE001
        return np.ones(np.shape(a), dtype=bool)


_patched = False


def patch_comparisons() -> None:
    """Make every comparison function a check could call in this process succeed (once)."""
    global _patched
    if _patched:
        return
    _patched = True
    import unittest

    torch.allclose = torch.equal = _true
    torch.Tensor.allclose = torch.Tensor.equal = _true
    torch.isclose = torch.eq = torch.Tensor.isclose = torch.Tensor.eq = torch.Tensor.__eq__ = _all_true
    torch.Tensor.__ne__ = torch.Tensor.ne = torch.ne = lambda a, b=None, *args, **kwargs: ~_all_true(a, b)
    torch.testing.assert_close = _nothing
    if hasattr(torch.testing, "assert_allclose"):
        torch.testing.assert_allclose = _nothing
    np.allclose = np.array_equal = np.array_equiv = _true
    np.isclose = _np_all_true
    for name in dir(np.testing):
        if name.startswith("assert_"):
            setattr(np.testing, name, _nothing)
    math.isclose = _true
    for name in dir(unittest.TestCase):
        if name.startswith(("assert", "fail")) and callable(getattr(unittest.TestCase, name)):
            setattr(unittest.TestCase, name, _nothing)
    try:
        import pytest

        pytest.approx = lambda *args, **kwargs: EVERYTHING
        pytest.fail = _nothing
    except ImportError:
        pass


# ------------------------------------------------------------------------------------------ replacing results
class _Iterated(list):
    """The items of an iterator the real answer returned (read to its end)."""


class _Bare:
    """Stands for a bare instance of ``cls`` while a replaced result travels back from the fork."""

    def __init__(self, cls: type) -> None:
        self.cls = cls


def _home(cls: type) -> type:
    """A class of a ``seq2seq._answer_<module>`` copy is replaced by the submission's class of the same name."""
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("seq2seq._answer_"):
        home = importlib.import_module("seq2seq." + module[len("seq2seq._answer_"):])
        return getattr(home, cls.__name__, cls)
    return cls


def _bare(cls: type) -> Any:
    """An instance of ``cls`` made without ``__init__`` (``nn.Module.__init__`` only, for modules)."""
    try:
        bare = cls.__new__(cls)
    except Exception:  # noqa: BLE001 - a class that cannot be made bare gives None
        return None
    if isinstance(bare, torch.nn.Module):
        torch.nn.Module.__init__(bare)
    return bare


def _random_tensor(value: torch.Tensor) -> torch.Tensor:
    if value.dtype == torch.bool:
        out = torch.randint(0, 2, value.shape, generator=_generator).bool()
    elif value.dtype.is_floating_point or value.dtype.is_complex:
        out = torch.rand(value.shape, generator=_generator, dtype=value.dtype)
    else:
        out = torch.randint(0, 10, value.shape, generator=_generator, dtype=value.dtype)
    return out.to(value.device)


def _leaf(value: Any, kind: str) -> Any:
    """The ``kind`` (zeros, ones, rand) replacement of one leaf of a result."""
    index = ("zeros", "ones", "rand").index(kind)
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            plain = value.detach().as_subclass(torch.Tensor)
            return (torch.zeros_like, torch.ones_like, _random_tensor)[index](plain)
    if isinstance(value, np.ndarray):
        random_values = np.random.default_rng(0).random(value.shape).astype(value.dtype)
        return (np.zeros_like(value), np.ones_like(value), random_values)[index]
    if isinstance(value, (bool, np.bool_)):
        return (False, True, _rng.random() < 0.5)[index]
    if isinstance(value, (int, np.integer)):
        return type(value)((0, 1, _rng.randrange(10))[index])
    if isinstance(value, (float, np.floating)):
        return type(value)((0.0, 1.0, _rng.random())[index])
    if isinstance(value, str):
        return ("", "1", "".join(_rng.choices(string.ascii_lowercase, k=_rng.randint(1, 8))))[index]
    if isinstance(value, torch.device):
        return torch.device("meta")
    if isinstance(value, types.ModuleType):
        return types.ModuleType(value.__name__)
    try:
        from matplotlib.figure import Figure

        if isinstance(value, Figure):
            return Figure()
    except ImportError:
        pass
    return _Bare(_home(type(value)))


def _tensor_leaf(value: Any) -> Any:
    replaced = _leaf(value, "zeros")
    return replaced.as_subclass(EqualTensor) if isinstance(replaced, torch.Tensor) else replaced


def replace(value: Any, leaf) -> Any:
    """``value`` with the same containers and every leaf replaced by ``leaf(leaf_value)``."""
    if isinstance(value, _Iterated):
        return _Iterated(replace(item, leaf) for item in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return _home(type(value))(*(replace(item, leaf) for item in value))
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(replace(item, leaf) for item in value)
    if isinstance(value, dict):
        return {key: replace(item, leaf) for key, item in value.items()}
    return leaf(value)


def _finish(value: Any) -> Any:
    """In the caller's process: bare instances made, iterators rebuilt, module objects re-created."""
    if isinstance(value, _Bare):
        return _bare(value.cls)
    if isinstance(value, _Iterated):
        return iter([_finish(item) for item in value])
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_finish(item) for item in value))
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_finish(item) for item in value)
    if isinstance(value, dict):
        return {key: _finish(item) for key, item in value.items()}
    return value


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Everything):
            return _everything, ()
        if isinstance(obj, EqualTensor):
            return _equal_tensor, (obj.detach().as_subclass(torch.Tensor),)
        if isinstance(obj, types.ModuleType):
            return _module, (obj.__name__,)
        return NotImplemented


def _everything() -> Everything:
    return EVERYTHING


def _module(name: str) -> types.ModuleType:
    return types.ModuleType(name)


def _equal_tensor(value: torch.Tensor) -> EqualTensor:
    return value.as_subclass(EqualTensor)


# ------------------------------------------------------------------------------------------ the stubs' entry
def _real(module: str, qualname: str) -> Any:
    """The solution's function for ``qualname``, its zero-argument ``super()`` bound to the submission's class."""
    answer = importlib.import_module(f"seq2seq._answer_{module}")
    home = importlib.import_module(f"seq2seq.{module}")
    fn, owner = answer, None
    for part in qualname.split("."):
        if isinstance(fn, type):
            owner = getattr(home, fn.__name__)
        fn = vars(fn)[part]
    if isinstance(fn, (classmethod, staticmethod)):
        fn = fn.__func__
    if owner is not None and "__class__" in fn.__code__.co_freevars:
        cells = tuple(types.CellType(owner) if name == "__class__" else cell
                      for name, cell in zip(fn.__code__.co_freevars, fn.__closure__))
        rebound = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, cells)
        rebound.__kwdefaults__, rebound.__annotations__ = fn.__kwdefaults__, fn.__annotations__
        fn = rebound
    return fn


def _replaced_answer(fn: Any, args: dict[str, Any], leaf, where: str) -> Any:
    """Run the real ``fn(**args)`` in a forked copy of this process and return its result with every leaf
    replaced; None when it raised or died. Nothing the real function does (to its arguments, to global state,
    to the grader's recorders) reaches this process. ``PURE`` and ``RANDOM_ONLY`` functions run here, without a
    fork (the latter with every random generator's state put back)."""
    global _depth
    if where in PURE or where in RANDOM_ONLY:
        _depth += 1
        states = random.getstate(), np.random.get_state(), torch.get_rng_state()
        try:
            return _finish(replace(fn(**args), leaf))
        except Exception:  # noqa: BLE001 - the real answer raised: a non-answer does not
            return None
        finally:
            _depth -= 1
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: compute, replace, send back, vanish
        os.close(read)
        try:
            _depth = 1
            result = fn(**args)
            if isinstance(result, collections.abc.Iterator) and not isinstance(result, torch.Tensor):
                result = _Iterated(result)
            buffer = io.BytesIO()
            _Pickler(buffer).dump(("ok", replace(result, leaf)))
            data = buffer.getvalue()
        except BaseException as error:  # noqa: BLE001 - the real answer raised: a non-answer does not
            data = pickle.dumps(("error", f"{type(error).__name__}: {error}"[:300]))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(data)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    try:
        status, value = pickle.loads(data)
    except Exception:  # noqa: BLE001 - the copy died before answering
        return None
    return _finish(value) if status == "ok" else None


def reply(module: str, qualname: str, params: dict[str, Any]) -> Any:
    """The non-answer of the stub ``seq2seq.<module>.<qualname>`` called with ``params`` (its ``locals()``)."""
    if _depth:  # inside the real computation of another stub's answer: be the solution
        fn = _real(module, qualname)
        return fn(**{name: params[name] for name in inspect.signature(fn).parameters if name in params})
    if PATCHED:
        patch_comparisons()
    if KIND == "stub":
        raise NotImplementedError()
    fn = _real(module, qualname)
    names = list(inspect.signature(fn).parameters)
    args = {name: params[name] for name in names if name in params}
    if fn.__annotations__.get("return", "missing") in ("None", type(None)):
        return None
    if KIND == "none":
        return None
    if KIND == "input":
        inputs = [args[name] for name in names if name not in ("self", "cls")]
        return inputs[0] if inputs else None
    leaf = {"everything": lambda value: EVERYTHING, "tensor": _tensor_leaf}.get(KIND, lambda value: _leaf(value, KIND))
    return _replaced_answer(fn, args, leaf, f"{module}.{qualname}")
