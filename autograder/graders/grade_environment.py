"""Checks for section 2, setting up the environment: Q1–Q4.

Checks (``@pytest.mark.grade``) run in the deciding process and compare. Feedback messages speak to the student
and never quote expected values they could not compute themselves.

The probes these checks read are in ``autograder/probes/environment.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import importlib.metadata

import pytest
import torch

from autograder.graders.common import hinted
from autograder.probes.environment import FAKE, MISSING, REAL

Q1_HINTS = {  # what the error of a failed Q1 probe says -> its likely cause
    "No module named": "importing a package to read its version fails where the import name differs (pyzmq is "
                       "imported as zmq): use importlib.metadata.version",
    "PackageNotFoundError": "a package that is not installed must not raise: catch "
                            "importlib.metadata.PackageNotFoundError and map it to None",
}


@pytest.mark.grade("Q1", points=2)
def test_q1_versions_from_metadata(out):
    """package_versions reports installed versions from the distribution metadata, in the given order."""
    got = hinted(out, "q1_versions", Q1_HINTS)
    assert isinstance(got, dict), f"package_versions must return a dict, not {type(got).__name__}"
    assert list(got) == REAL + [MISSING], "return one entry per requested name, in the given order"
    for name in REAL:
        assert got[name] == importlib.metadata.version(name), (
            f"the version reported for {name!r} is not the installed one: read the distribution metadata "
            "(importlib.metadata.version), since import names can differ from distribution names")


@pytest.mark.grade("Q1", points=1, requires="test_q1_versions_from_metadata")  # None for every name passes
def test_q1_missing_is_none(out):
    """package_versions maps a package that is not installed to None instead of raising."""
    got = hinted(out, "q1_versions", Q1_HINTS)
    assert isinstance(got, dict) and MISSING in got, "a missing package must still have an entry"
    assert got[MISSING] is None, "a package that is not installed maps to None"


@pytest.mark.grade("Q1", points=2)
def test_q1_requirement_statuses(out):
    """check_requirements says ok / missing / wrong version, ignoring local version labels such as +cpu."""
    got = hinted(out, "q1_status", Q1_HINTS)
    assert isinstance(got, dict), f"check_requirements must return a dict, not {type(got).__name__}"
    assert got.get(MISSING) == "missing", "a package that is not installed has status 'missing'"
    assert got.get("numpy") == "wrong version", "an installed package with another version is 'wrong version'"
    assert got.get("tqdm") == "wrong version", "a pin is compared with the installed version, not merely parsed"
    assert got.get("torch") == "ok", (
        "an installed package at the pinned version is 'ok': compare only the part before '+' "
        "(torch reports versions such as 2.3.1+cpu)")
    assert got.get(FAKE[0]) == "ok", (
        "an installed version with a local label (1.2.3+local7) satisfies the pin 1.2.3: compare the part "
        "before '+'")
    assert list(got) == [FAKE[0], "torch", "numpy", MISSING, "tqdm"], "one entry per pin, in the given order"


# ---------------------------------------------------------------------------------------------------- Q2
EXPECTED_MODULES = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "optim": "torch.optim",
                    "data": "torch.utils.data", "np": "numpy", "spacy": "spacy", "sacrebleu": "sacrebleu",
                    "plt": "matplotlib.pyplot", "tqdm": "tqdm.auto"}


def _check_modules(got: dict, keys: list[str], ref: dict) -> None:
    assert isinstance(got, dict), "import_libraries must return a dict"
    for key in keys:
        assert key in got, f"the entry {key!r} is missing"
        kind, name, size = got[key]
        assert kind == "module", f"{key!r} must map to a module object, not a {kind}"
        assert name == EXPECTED_MODULES[key], f"{key!r} maps to the module {name!r}; see the table in the docstring"
        # Submodules a submission imports elsewhere add a few names; a module made up to bear the name has none.
        assert size >= 0.8 * ref[key][2], f"{key!r} is a module named {name!r}, but not the imported one"


@pytest.mark.grade("Q2", points=1)
def test_q2_torch_modules(out, ref):
    """import_libraries gives torch, nn, F, optim and data as the right torch modules."""
    _check_modules(out["q2_modules"], ["torch", "nn", "F", "optim", "data"], ref["q2_modules"])


@pytest.mark.grade("Q2", points=1)
def test_q2_other_modules(out, ref):
    """import_libraries gives np, spacy, sacrebleu, plt and tqdm, and nothing else."""
    got = out["q2_modules"]
    _check_modules(got, ["np", "spacy", "sacrebleu", "plt", "tqdm"], ref["q2_modules"])
    extra = sorted(set(got) - set(EXPECTED_MODULES))
    assert not extra, f"unexpected entries: {extra}"


@pytest.mark.grade("Q3", points=1)
def test_q3_cpu_without_cuda(out):
    """get_device gives the CPU for 'auto' and 'cpu' on a machine without CUDA, as a torch.device."""
    got = out["q3_without_cuda"]
    for pref in ["auto", "cpu", " CPU "]:
        kind, value = got[pref][:2]
        assert kind != "raised", f"get_device({pref!r}) raised {value} on a machine without CUDA: {got[pref][2]}"
        assert kind == "device", f"get_device({pref!r}) must return a torch.device, not a {kind}"
        assert value == "cpu", f"get_device({pref!r}) must give the CPU when CUDA is not available"


@pytest.mark.grade("Q3", points=2)
def test_q3_cuda_when_available(out):
    """get_device picks CUDA for 'auto' when available, and honours 'cpu', 'cuda' and 'cuda:N'."""
    got = out["q3_with_cuda"]
    expected = {"auto": "cuda", "AUTO": "cuda", "cpu": "cpu", "cuda": "cuda", "cuda:1": "cuda:1"}
    for pref, device in expected.items():
        kind, value = got[pref][:2]
        assert kind != "raised", f"get_device({pref!r}) raised {value} while CUDA is available: {got[pref][2]}"
        assert kind == "device", f"get_device({pref!r}) must return a torch.device, not a {kind}"
        assert value == device, (f"with CUDA available, get_device({pref!r}) gave {value}"
                                 + (": an explicit request must be honoured" if pref == "cpu" else ""))


@pytest.mark.grade("Q3", points=1)
def test_q3_clear_errors(out):
    """get_device raises RuntimeError for CUDA without a GPU and ValueError for an unknown preference."""
    got = out["q3_without_cuda"]
    for pref in ["cuda", "cuda:0"]:
        assert got[pref][:2] == ["raised", "RuntimeError"], (
            f"get_device({pref!r}) on a machine without CUDA must raise RuntimeError; yours "
            + (f"raised {got[pref][1]}" if got[pref][0] == "raised" else "returned a device (a silent fallback)"))
    for pref in ["gpu", "tpu"]:
        assert got[pref][:2] == ["raised", "ValueError"], f"get_device({pref!r}) must raise ValueError"


@pytest.mark.grade("Q3", points=2)
def test_q3_move_nested(out):
    """move_to moves tensors and modules inside nested dicts, lists and tuples, keeping their types."""
    got = out["q3_move"]
    assert got["top"] == "dict" and got["keys"] == ["model", "name", "pair", "src"], "a dict stays a dict, same keys"
    assert got["src"] == "meta", "a tensor in a dict was not moved"
    assert got["pair_type"] == "list" and got["inner_type"] == "tuple", "lists stay lists and tuples stay tuples"
    assert got["pair0"] == "meta" and got["inner0"] == "meta", ("tensors inside nested lists/tuples were not moved: "
                                                                      "call move_to on every item (recursion)")
    assert got["inner1"] == 7 and got["name"] == "x", "values that are not tensors are returned unchanged"
    assert got["model_same_object"] and got["model_device"] == "meta", "a module is moved in place and returned"
    assert got["tensor"] == "meta", "a bare tensor (device given as a string) was not moved"
    assert got["named"] == ["_Pair", "meta", "meta"], (
        "a named tuple (such as a data batch) must come back as the same named tuple type, its tensors moved")


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("source", ["python", "numpy", "torch"])
@pytest.mark.grade("Q4", points=1)
def test_q4_same_seed_same_draws(out, source):
    """The same seed gives the same draws again (Python random, NumPy, torch)."""
    got = out["q4_draws"]
    keys = ["torch", "torch_normal"] if source == "torch" else [source]
    for key in keys:
        assert _same(got["first"][key], got["again"][key]), (
            f"after set_seed with the same seed, {source} drew different numbers: "
            + {"python": "seed Python's random module",
               "numpy": "seed NumPy's global generator (np.random.seed); a new default_rng is not the global one",
               "torch": "seed torch (torch.manual_seed)"}[source])


@pytest.mark.grade("Q4", points=1, requires="test_q4_same_seed_same_draws")  # a set_seed doing nothing passes
def test_q4_other_seed_other_draws(out):
    """Different seeds give different draws."""
    got = out["q4_draws"]
    for key in ["python", "numpy", "torch"]:
        assert not _same(got["first"][key], got["other"][key]), f"seeds 123 and 321 gave the same {key} draws"


@pytest.mark.grade("Q4", points=1)
def test_q4_model_initialisation(out):
    """A model built after set_seed(s) starts from the same weights every time."""
    got = out["q4_model_init"]
    assert _same(got["first"], got["again"]), "two GRUs built after set_seed(5) got different initial weights"


@pytest.mark.grade("Q4", points=1)
def test_q4_deterministic_flags(out):
    """deterministic=True turns on deterministic algorithms (warn only) and cuDNN determinism, benchmark off."""
    enabled, warn_only, cudnn_deterministic, benchmark = out["q4_flags"]["on"]
    assert enabled, "deterministic=True must call torch.use_deterministic_algorithms(True, warn_only=True)"
    assert warn_only, "use warn_only=True, so that operations without a deterministic version warn, not fail"
    assert cudnn_deterministic, "deterministic=True must set torch.backends.cudnn.deterministic = True"
    assert not benchmark, "deterministic=True must set torch.backends.cudnn.benchmark = False"


@pytest.mark.grade("Q4", points=1, requires="test_q4_deterministic_flags")  # a set_seed doing nothing passes
def test_q4_default_leaves_flags(out):
    """deterministic=False leaves torch's algorithm settings as they were."""
    assert out["q4_flags"]["untouched"] == [False, False, False, True], (
        "set_seed(seed) without deterministic=True must not change torch's determinism or cuDNN settings")
