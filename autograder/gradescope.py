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
import tempfile
import zipfile
from pathlib import Path

from autograder import limits
from autograder.bulk import ASSIGNMENT
from autograder.feedback import markdown
from autograder.harness import DEFAULT_REFERENCE, REPO_ROOT, grade, refused
from autograder.results import or_not_graded, flag, flagged
from autograder.submission import Refused, find_package, left_out_reason, read_zip

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (its Ubuntu base images: 22.04 and 24.04).
# What grading needs (README, "Isolation"): root, so that each child drops to a uid of its own from
# AUTOGRADER_UID_BASE (default 64000) to +999, a range no user of the image may hold; no users are created.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
BASE="${AUTOGRADER_UID_BASE:-64000}"
# The image has no GPU: torch's CPU-only build keeps ~3 GB of CUDA libraries out of it.
TORCH_INDEX="${AUTOGRADER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
if awk -F: -v b="$BASE" '$3 >= b && $3 < b + 1000 {found=1} END {exit !found}' /etc/passwd; then
    echo "warning: uids $BASE-$((BASE + 999)) are in use in /etc/passwd; set AUTOGRADER_UID_BASE to a free range" >&2
fi
# Python 3.11, the version the pins are made for, with its venv module: Ubuntu 22.04 has it in its own archive,
# 24.04 only through the deadsnakes archive (Ubuntu ships 3.10 and 3.12 there, without venv).
if ! command -v python3.11 >/dev/null || ! python3.11 -c "import ensurepip, venv" 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if ! apt-get install -y -qq python3.11 python3.11-venv; then
        apt-get install -y -qq software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update -qq
        apt-get install -y -qq python3.11 python3.11-venv
    fi
fi
python3.11 -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip install --quiet)
"${PIP[@]}" --upgrade pip
if [ -n "$TORCH_INDEX" ]; then
    "${PIP[@]}" --index-url "$TORCH_INDEX" "$(grep -E '^torch==' "$ROOT/source/requirements.txt")"
fi
"${PIP[@]}" -r "$ROOT/source/requirements.txt" -c "$ROOT/source/requirements.lock"
# The reference solution's outputs, computed once here instead of at every submission (kept where no child reads).
cd "$ROOT/source" && "$ROOT/venv/bin/python" -m autograder prepare
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
        results = or_not_graded(lambda: _grade_upload(root / "submission"))
        if decision is not None:
            limits.annotate(results, decision)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (root / "results" / "feedback.md").write_text(markdown(results), encoding="utf-8")
    return 0


def _grade_upload(submission: Path) -> dict:
    # The package may sit at any depth of the upload; the shallowest seq2seq/ is the one meant. An upload that is
    # one zip archive (what `python -m seq2seq submit` writes) is read from the archive, never extracted as it is.
    found = find_package(submission) if submission.is_dir() else None
    archives = [p for p in submission.iterdir() if p.suffix == ".zip"] if found is None and submission.is_dir() else []
    if found is None and len(archives) == 1:
        try:
            tree = read_zip(archives[0])
        except Refused as error:
            return refused(f"{archives[0].name}: {error}")
        with tempfile.TemporaryDirectory(prefix="upload-") as folder:
            return flag(grade(tree.write(Path(folder) / "upload")), left_out_reason(tree.left_out))
    if found is None:
        return flagged("No seq2seq/ package was found in your submission: upload the "
                       f"{ASSIGNMENT} folder (or its seq2seq/ folder together with its parent).", {})
    return grade(found)
