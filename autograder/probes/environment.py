"""Probes of section 2, setting up the environment: Q1–Q4.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_environment.py``.
"""
from __future__ import annotations

import importlib.metadata
import random
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import numpy as np
import torch
from torch import nn

from autograder.probes.common import attempt
from autograder.registry import probe, question

question("Q1", "package versions and requirement check", points=1, timeout=60)
question("Q2", "imports for the later sections", points=1, timeout=60)
question("Q3", "device choice and moving data", points=2, timeout=60)
question("Q4", "set_seed reproducibility", points=2, timeout=60)

REAL = ["torch", "pyzmq", "PyYAML"]  # pyzmq is imported as zmq, PyYAML as yaml: metadata, not imports
MISSING = "no-such-distribution-for-grading"
FAKE = ("gradingfake", "1.2.3+local7")  # a distribution made up in the child, with a local version label


def _fake_distribution(version: str) -> None:
    """Install metadata of a made-up distribution on sys.path (in the child's own temporary folder)."""
    site = Path(tempfile.mkdtemp(prefix="fake-site-"))
    info = site / f"{FAKE[0]}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {FAKE[0]}\nVersion: {version}\n")
    sys.path.append(str(site))


# ---------------------------------------------------------------------------------------------------- Q1
@probe("Q1")
def q1_versions(s):
    return s.environment.package_versions(REAL + [MISSING])


@probe("Q1")
def q1_status(s):
    _fake_distribution(FAKE[1])
    return s.environment.check_requirements({
        FAKE[0]: "1.2.3", "torch": importlib.metadata.version("torch").split("+")[0],
        "numpy": "0.0.1", MISSING: "1.0", "tqdm": "0.0.1+local"})


@probe("Q2")
def q2_modules(s):
    modules = s.environment.import_libraries()
    # The number of names the module holds, so that an empty module that only bears the right name is told apart.
    return {str(key): [type(value).__name__, getattr(value, "__name__", None), len(getattr(value, "__dict__", {}))]
            for key, value in modules.items()}


# ---------------------------------------------------------------------------------------------------- Q3
def _device_or_error(fn, *args):
    value, error = attempt(fn, *args)
    if error is not None:
        return ["raised", type(error).__name__, str(error)[:160]]
    return [type(value).__name__, str(value)]


@probe("Q3")
def q3_without_cuda(s):
    with mock.patch.object(torch.cuda, "is_available", return_value=False), \
            mock.patch.object(torch.cuda, "device_count", return_value=0):
        return {pref: _device_or_error(s.environment.get_device, pref)
                for pref in ["auto", "cpu", " CPU ", "cuda", "cuda:0", "gpu", "tpu"]}


@probe("Q3")
def q3_with_cuda(s):
    # No GPU is needed: torch.device("cuda") is only a description until a tensor is put there.
    with mock.patch.object(torch.cuda, "is_available", return_value=True), \
            mock.patch.object(torch.cuda, "device_count", return_value=2):
        return {pref: _device_or_error(s.environment.get_device, pref)
                for pref in ["auto", "AUTO", "cpu", "cuda", "cuda:1"]}


class _Pair(NamedTuple):  # like a data batch: a named tuple of tensors
    src: torch.Tensor
    rest: list


@probe("Q3")
def q3_move(s):
    # The "meta" device needs no hardware, so moving to it is observable on any machine.
    module = nn.Linear(3, 2)
    batch = {"src": torch.ones(2, 3), "pair": [torch.zeros(1), (torch.arange(3), 7)], "name": "x", "model": module}
    moved = s.environment.move_to(batch, torch.device("meta"))
    pair = s.environment.move_to(_Pair(torch.ones(2), [torch.zeros(1)]), "meta")
    tensor = s.environment.move_to(torch.ones(2), "meta")
    return {
        "top": type(moved).__name__,
        "keys": sorted(moved) if isinstance(moved, dict) else None,
        "src": str(moved["src"].device),
        "pair_type": type(moved["pair"]).__name__,
        "pair0": str(moved["pair"][0].device),
        "inner_type": type(moved["pair"][1]).__name__,
        "inner0": str(moved["pair"][1][0].device),
        "inner1": moved["pair"][1][1],
        "name": moved["name"],
        "model_same_object": moved["model"] is module,
        "model_device": str(module.weight.device),
        "tensor": str(tensor.device) if isinstance(tensor, torch.Tensor) else type(tensor).__name__,
        "named": [type(pair).__name__, str(pair.src.device), str(pair.rest[0].device)]
        if isinstance(pair, _Pair) else [type(pair).__name__],
    }


# ---------------------------------------------------------------------------------------------------- Q4
def _draws() -> dict:
    return {"python": [random.random() for _ in range(3)], "numpy": np.random.rand(3),
            "torch": torch.rand(3), "torch_normal": torch.randn(2, 2)}


@probe("Q4")
def q4_draws(s):
    s.environment.set_seed(123)
    first = _draws()
    # Draw something else in between: a seed must reset the state, not merely have been set once.
    random.random(), np.random.rand(5), torch.rand(5)
    s.environment.set_seed(123)
    again = _draws()
    s.environment.set_seed(321)
    other = _draws()
    return {"first": first, "again": again, "other": other}


@probe("Q4")
def q4_model_init(s):
    s.environment.set_seed(5)
    first = nn.GRU(4, 3).weight_hh_l0.detach().clone()
    s.environment.set_seed(5)
    again = nn.GRU(4, 3).weight_hh_l0.detach().clone()
    return {"first": first, "again": again}


def _flags() -> list:
    return [torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark]


def _reset_flags() -> None:
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, True


@probe("Q4")
def q4_flags(s):
    _reset_flags()
    s.environment.set_seed(1, deterministic=True)
    on = _flags()
    _reset_flags()
    s.environment.set_seed(1)
    untouched = _flags()
    return {"on": on, "untouched": untouched}
