"""Visible sanity checks for Q1–Q4 (run: ``python -m seq2seq check Q4`` or ``pytest public_tests``)."""
import random

import numpy as np
import torch

from seq2seq import environment


def test_q1_versions_of_installed_and_missing_packages():
    versions = environment.package_versions(["torch", "surely-not-installed-package"])
    assert list(versions) == ["torch", "surely-not-installed-package"], "one entry per name, in the given order"
    assert versions["torch"] is not None and versions["torch"].startswith(torch.__version__.split("+")[0])
    assert versions["surely-not-installed-package"] is None, "a missing package maps to None"


def test_q1_requirement_statuses():
    status = environment.check_requirements({"torch": torch.__version__.split("+")[0], "numpy": "0.0.1",
                                             "surely-not-installed-package": "1.0"})
    assert status == {"torch": "ok", "numpy": "wrong version", "surely-not-installed-package": "missing"}


def test_q1_local_version_labels(tmp_path, monkeypatch):
    info = tmp_path / "visiblecheckfake-1.2.3+local7.dist-info"  # a made-up installed distribution
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: visiblecheckfake\nVersion: 1.2.3+local7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert environment.check_requirements({"visiblecheckfake": "1.2.3"}) == {"visiblecheckfake": "ok"}, (
        "an installed 1.2.3+local7 satisfies the pin 1.2.3: drop the local label (after '+') of the installed version")
    assert environment.check_requirements({"visiblecheckfake": "1.2.4"}) == {"visiblecheckfake": "wrong version"}


def test_q2_modules_by_short_name():
    modules = environment.import_libraries()
    assert modules["torch"] is torch and modules["np"] is np
    assert modules["nn"] is torch.nn
    assert modules["data"] is torch.utils.data, "'data' is torch.utils.data, not the package's own seq2seq.data"
    assert modules["tqdm"].__name__ == "tqdm.auto", "'tqdm' is the module tqdm.auto (its progress bar is .tqdm)"


def test_q3_cpu_is_always_available():
    assert environment.get_device("cpu") == torch.device("cpu")
    device = environment.get_device("auto")
    assert isinstance(device, torch.device), "return a torch.device, not a string"
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_q3_move_a_batch():
    batch = {"src": torch.zeros(2, 3), "lengths": [torch.ones(2)]}
    moved = environment.move_to(batch, "cpu")
    assert isinstance(moved, dict) and isinstance(moved["lengths"], list)
    assert moved["src"].device.type == "cpu"


def test_q4_same_seed_same_draws():
    environment.set_seed(11)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    environment.set_seed(11)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
