"""Install and CI files agree with each other and with the README."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PINS = REPO / "source" / "attention_seq2seq" / "requirements.txt"


def _pins(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(?:-\s*)?([A-Za-z0-9_.\-]+)==(\S+)\s*$", text, flags=re.M))


def test_environment_yml_has_the_same_pins():
    pins = _pins(PINS.read_text())
    assert pins["torch"] == "2.13.0", "torch is pinned explicitly (an unpinned torch pulls a CUDA build)"
    assert {"torch", "numpy", "spacy", "sacrebleu", "matplotlib", "tqdm", "nbgrader", "jupyter", "pytest"} <= set(pins)
    assert _pins((REPO / "environment.yml").read_text()) == pins
    assert "python=3.11" in (REPO / "environment.yml").read_text()


def test_lock_file_agrees_with_the_pins():
    lock = _pins((REPO / "requirements.lock").read_text())
    for name, version in _pins(PINS.read_text()).items():
        if name in lock:
            assert lock[name] == version, f"requirements.lock pins {name}=={lock[name]}, requirements.txt {version}"
    assert "torch" not in lock, "torch comes from the explicit pin only (the lock would record a local +cpu label)"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: \$\(STAMP\)", makefile, flags=re.M), "make test installs the venv first"
    assert "-r requirements.txt -c requirements.lock" in makefile
