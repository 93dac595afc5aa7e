#!/usr/bin/env bash
# The CUDA paths against the CPU, then the reference recipe on Multi30k, in under 8 minutes on one NVIDIA GPU.
#
#   benchmarks/gpu_check.sh [--data-dir DIR] [--out DIR] [--minutes 8]
#   benchmarks/gpu_check.sh --dry-run        # the same steps on the CPU at toy size (about a minute)
#
# The Python is $PYTHON, else the repository's .venv when its torch sees a GPU (or for --dry-run), else python3.
# It needs the packages of requirements.lock (the first check names any missing): a CUDA build of the pinned torch,
# spaCy for the Multi30k tokens, sacrebleu, matplotlib, tqdm. Multi30k's files come from --data-dir or
# $SEQ2SEQ_DATA_DIR (the folder holding multi30k/). Checkpoints go to --out (default /tmp/gpu_check; about 230 MB).
# See benchmarks/gpu_check.py for what each step checks and prints.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/../.venv/bin/python"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    python=python3
    if [[ -x "$venv" ]]; then
        if [[ " $* " == *" --dry-run "* ]] || "$venv" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
            python="$venv"
        fi
    fi
fi
export PYTHONUNBUFFERED=1
exec "$python" "$here/gpu_check.py" "$@"
