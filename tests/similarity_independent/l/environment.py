"""Section 2, setting up the environment: Q1–Q4.

Q1  which packages are installed, at which versions, and whether they match the pins;
Q2  the imports every later section relies on;
Q3  choosing the device (CUDA when available, else CPU) and moving tensors and modules to it;
Q4  seeding every random number generator, so that two runs draw the same numbers.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import random
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from seq2seq import ASSIGNMENT_DIR

REQUIREMENTS_FILE = ASSIGNMENT_DIR / "requirements.txt"


def read_requirements(path: str | Path = REQUIREMENTS_FILE) -> dict[str, str]:
    """Read pinned requirements (``name==version`` lines; ``#`` comments and blank lines ignored).

    Args:
        path: a requirements file; by default the course's own ``requirements.txt``.

    Returns:
        ``{distribution name: pinned version}`` in file order.

    Raises:
        ValueError: a line that is not an exact ``name==version`` pin (the message names the line).
    """
    pins: dict[str, str] = {}
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise ValueError(f"{path}:{number}: expected 'name==version', got {raw!r}")
        pins[name.strip()] = version.strip()
    return pins


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Q1 (part a): report the installed version of each distribution.

    Look each name up in the installed *distribution* metadata (what ``pip`` installed), not by importing it:
    the import name can differ from the distribution name (``pyzmq`` is imported as ``zmq``), and importing
    has side effects. ``importlib.metadata`` does exactly this lookup.

    Args:
        names: distribution names as ``pip`` knows them, e.g. ``["torch", "sacrebleu", "pyzmq"]``.

    Returns:
        A dict with one entry per name, in the given order: the installed version string exactly as the
        metadata states it (e.g. ``"2.13.0+cpu"``), or ``None`` when that distribution is not installed.
        A missing package is reported, never raised.
    """
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def check_requirements(pins: Mapping[str, str]) -> dict[str, str]:
    """Q1 (part b): compare the installed packages with pinned versions.

    Versions are compared as *strings*, exactly as the metadata and the pin write them (no parsing, no
    normalisation: ``2.13`` does not satisfy ``2.13.0``). A pin is satisfied when the installed version equals
    it, or equals it once the installed version's *local version label* (the part after ``+``) is dropped:
    ``2.13.0+cpu`` satisfies ``torch==2.13.0``, as it does for pip, and ``2.13.0+cpu`` satisfies
    ``2.13.0+cpu``; a pin with a local label is never satisfied by another label or by none (``2.13.0`` does not
    satisfy ``2.13.0+cpu``). Use :func:`package_versions` for the lookup.

    Args:
        pins: ``{distribution name: pinned version}``, e.g. from :func:`read_requirements`.

    Returns:
        ``{name: status}`` for every pin, in the given order, where status is exactly one of
        ``"ok"`` (installed, matching version), ``"missing"`` (not installed) or
        ``"wrong version"`` (installed, another version).
    """
    names = list(pins)
    installed = package_versions(names)
    status: dict[str, str] = {}
    for name in names:
        pinned, version = pins[name], installed[name]
        if version is None:
            status[name] = "missing"
        elif version == pinned or version.split("+", 1)[0] == pinned:
            status[name] = "ok"
        else:
            status[name] = "wrong version"
    return status


def import_libraries() -> dict[str, ModuleType]:
    """Q2: import the modules that the later sections use, under their conventional short names.

    Returns:
        A dict from short name to the imported *module object*, with exactly these entries:

        ===============  ==========================  =========================================
        key              module                      used for
        ===============  ==========================  =========================================
        ``"torch"``      ``torch``                   tensors
        ``"nn"``         ``torch.nn``                layers: Embedding, GRU, Linear
        ``"F"``          ``torch.nn.functional``     softmax, cross-entropy
        ``"optim"``      ``torch.optim``             Adam
        ``"data"``       ``torch.utils.data``        Dataset, DataLoader
        ``"np"``         ``numpy``                   arrays, seeding
        ``"spacy"``      ``spacy``                   tokenisation
        ``"sacrebleu"``  ``sacrebleu``               BLEU
        ``"plt"``        ``matplotlib.pyplot``       plots and heatmaps
        ``"tqdm"``       ``tqdm.auto``               progress bars (terminal or notebook)
        ===============  ==========================  =========================================

        Two names that are easy to get wrong: ``"data"`` is PyTorch's ``torch.utils.data``, not this package's own
        ``seq2seq.data`` module (section 3), which builds on it; ``"tqdm"`` is the *module* ``tqdm.auto``, which
        picks a notebook or a terminal progress bar by itself (the bar is ``modules["tqdm"].tqdm``), not the
        ``tqdm`` package's top module nor the ``tqdm`` class.
    """
    modules = {
        "torch": "torch",
        "nn": "torch.nn",
        "F": "torch.nn.functional",
        "optim": "torch.optim",
        "data": "torch.utils.data",
        "np": "numpy",
        "spacy": "spacy",
        "sacrebleu": "sacrebleu",
        "plt": "matplotlib.pyplot",
        "tqdm": "tqdm.auto",
    }
    return {short: importlib.import_module(name) for short, name in modules.items()}


def get_device(preference: str = "auto") -> torch.device:
    """Q3 (part a): choose the device to train on.

    Args:
        preference: ``"auto"`` picks CUDA when ``torch.cuda.is_available()``, else the CPU;
            ``"cpu"`` always gives the CPU; ``"cuda"`` or ``"cuda:N"`` asks for that GPU explicitly.
            Case and surrounding spaces are ignored.

    Returns:
        A ``torch.device`` (not a string): ``device("cuda")`` / ``device("cuda:N")`` or ``device("cpu")``.

    Raises:
        RuntimeError: CUDA was asked for explicitly but ``torch.cuda.is_available()`` is False (silently
            falling back to the CPU would make a "GPU run" take hours without anyone noticing).
        ValueError: any other preference (e.g. ``"gpu"``, ``"tpu"``).
    """
    if not isinstance(preference, str):
        raise ValueError(f"device preference must be a string, got {preference!r}")
    choice = preference.strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda" or (choice.startswith("cuda:") and choice[5:].isdigit()):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {preference!r} was asked for, but CUDA is not available on this machine "
                               "(use 'auto' or 'cpu' to run on the CPU)")
        return torch.device(choice)
    raise ValueError(f"unknown device preference {preference!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")


def move_to(obj: Any, device: torch.device | str) -> Any:
    """Q3 (part b): move a tensor, a module, or a nested container of tensors to ``device``.

    Args:
        obj: a ``torch.Tensor``; an ``nn.Module`` (moved in place, as ``module.to`` does); or a ``list``,
            ``tuple`` (named tuples included, such as a batch ``Batch(src, src_lengths, tgt)``) or ``dict``
            whose items are any of these, nested to any depth. Anything else (ints, strings, None) is returned
            unchanged.
        device: the target device.

    Returns:
        The moved object: a tensor on ``device``; the same module object, now on ``device``; a new container
        of the same type (``list``/``tuple``/named tuple/``dict``, keys and field names unchanged) holding the
        moved items. Every tensor moves, whatever its type's own rules: ``move_to(batch, device)`` moves a
        ``Batch``'s ``src_lengths`` too, whereas ``batch.to(device)`` keeps them on the CPU.
    """
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, nn.Module):
        obj.to(device)
        return obj
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(move_to(item, device) for item in obj))
    if isinstance(obj, tuple):
        return type(obj)(move_to(item, device) for item in obj)
    if isinstance(obj, list):
        return type(obj)(move_to(item, device) for item in obj)
    if isinstance(obj, dict):
        moved = {key: move_to(value, device) for key, value in obj.items()}
        if type(obj) is dict:
            return moved
        try:
            return type(obj)(moved)
        except TypeError:
            return moved
    return obj


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Q4: seed every random number generator the course uses, for reproducible runs.

    After ``set_seed(s)``, the next draws from Python's ``random``, NumPy's global ``np.random`` and torch
    (CPU, and every CUDA device when there is one) are the same in every run, so are the initial weights of
    any model built next. Different seeds give different draws.

    Args:
        seed: a non-negative integer.
        deterministic: also make torch choose deterministic algorithms: ``torch.use_deterministic_algorithms
            (True, warn_only=True)``, ``torch.backends.cudnn.deterministic = True`` and
            ``torch.backends.cudnn.benchmark = False`` (benchmark mode picks kernels by timing, which varies
            between runs). With ``False``, leave those settings as they are.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # the CPU generator and, lazily, every CUDA device's
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def environment_report(device: str = "auto") -> str:
    """A few lines on this machine's setup, built on Q1–Q3: Python, pinned packages and the chosen device."""
    lines = [f"python      {platform.python_version()} ({sys.executable})"]
    pins = read_requirements()
    versions = package_versions(list(pins))
    for name, status in check_requirements(pins).items():
        lines.append(f"{name:<11} {versions[name] or '-':<14} {status}")
    chosen = get_device(device)
    lines.append(f"device      {chosen}"
                 + (f" ({torch.cuda.get_device_name(chosen)})" if chosen.type == "cuda" else "")
                 + f", {torch.get_num_threads()} CPU threads, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}")
    return "\n".join(lines)
