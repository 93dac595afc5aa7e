"""Gradescope packaging: ``python -m autograder gradescope-zip --out autograder.zip``.

The zip holds what Gradescope expects at ``/autograder/source``: ``setup.sh`` (creates a virtual environment
with the pinned packages), ``run_autograder`` (grades ``/autograder/submission`` and writes
``/autograder/results/results.json``), the ``autograder`` package, the reference solution, the release's package
(so that feedback redaction tells the reference's answers from the code students are given) and ``gradescope.json``
(the submission limit, if any: ``gradescope-zip --limit 3 --window 24h``, see limits.py). Both scripts honour
``AUTOGRADER_ROOT`` (default ``/autograder``), so the whole flow can be rehearsed in a temporary folder.
"""
from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from autograder import limits
from autograder.bulk import ASSIGNMENT
from autograder.feedback import markdown
from autograder.harness import DEFAULT_REFERENCE, REPO_ROOT, grade
from autograder.results import attempt, flagged
from autograder.submission import find_package

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# What grading needs (README, "Isolation"): root, so that each child drops to a uid of its own from
# AUTOGRADER_UID_BASE (default 64000) to +999, a range no user of the image may hold; no users are created.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
BASE="${AUTOGRADER_UID_BASE:-64000}"
if awk -F: -v b="$BASE" '$3 >= b && $3 < b + 1000 {found=1} END {exit !found}' /etc/passwd; then
    echo "warning: uids $BASE-$((BASE + 999)) are in use in /etc/passwd; set AUTOGRADER_UID_BASE to a free range" >&2
fi
PYTHON="$(command -v python3.11 || command -v python3)"
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet -r "$ROOT/source/requirements.txt" -c "$ROOT/source/requirements.lock"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results land in $ROOT/results/results.json whatever happens.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source" && exec "$PYTHON" -m autograder gradescope-run --root "$ROOT"
"""


def build_zip(out: Path, limit: limits.Limit | None = None) -> Path:
    """Write the Gradescope autograder zip to ``out`` (with a submission ``limit``, if any) and return its path."""
    pins = (REPO_ROOT / "source" / ASSIGNMENT / "requirements.txt").read_text(encoding="utf-8")
    entries: dict[str, bytes] = {
        "setup.sh": SETUP_SH.encode(), "run_autograder": RUN_AUTOGRADER.encode(),
        "requirements.txt": pins.encode(), "requirements.lock": (REPO_ROOT / "requirements.lock").read_bytes(),
        limits.CONFIG: limits.write_config(limit)}
    for root, prefix in ((REPO_ROOT / "autograder", "autograder"),
                         (DEFAULT_REFERENCE, f"solutions/{ASSIGNMENT}"),
                         (REPO_ROOT / "assignments" / ASSIGNMENT / "seq2seq", f"assignments/{ASSIGNMENT}/seq2seq")):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                entries[f"{prefix}/{path.relative_to(root)}"] = path.read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(entries.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same zip every time
            executable = name in ("setup.sh", "run_autograder")
            info.external_attr = ((stat.S_IFREG | (0o755 if executable else 0o644)) << 16)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out


def run(root: Path) -> int:
    """Grade ``root/submission`` into ``root/results/results.json``; writes a results file whatever happens. Under a
    submission limit, a submission over it is not graded: the previous score stands (limits.py)."""
    results_file = root / "results" / "results.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    decision = limits.check(root)
    if decision is not None and decision.results is not None:
        results = decision.results  # over the limit
    else:
        results = attempt(lambda: _grade_upload(root / "submission"))
        if decision is not None:
            limits.annotate(results, decision)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (root / "results" / "feedback.md").write_text(markdown(results), encoding="utf-8")
    return 0


def _grade_upload(submission: Path) -> dict:
    # The package may sit at any depth of the upload; the shallowest seq2seq/ is the one meant.
    found = find_package(submission) if submission.is_dir() else None
    if found is None:
        return flagged("No seq2seq/ package was found in your submission: upload the "
                       f"{ASSIGNMENT} folder (or its seq2seq/ folder together with its parent).", {})
    return grade(found)
