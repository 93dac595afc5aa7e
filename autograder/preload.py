"""Imported once by each zygote (see zygote.py): everything a child needs before it meets student code.

Each child is forked from the zygote, so these imports (torch alone takes seconds) are paid once per grading
process instead of once per question. Nothing here runs student code.
"""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot  # noqa: E402,F401
import numpy  # noqa: E402,F401
import sacrebleu  # noqa: E402,F401
import spacy  # noqa: E402,F401
import spacy.lang.de  # noqa: E402,F401  (the blank pipelines' language data: the slow part of spacy.blank)
import spacy.lang.en  # noqa: E402,F401
import spacy.lang.fr  # noqa: E402,F401  (~2.5 s: its tokenizer exceptions; paid once here, not in every Q5-Q7 child)
import torch  # noqa: E402,F401

# Warm the lazy imports that cost seconds on first use (torch._dynamo behind both), leaving all state as it was.
torch.use_deterministic_algorithms(torch.are_deterministic_algorithms_enabled(),
                                   warn_only=torch.is_deterministic_algorithms_warn_only_enabled())
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]).step()

import autograder.child  # noqa: E402,F401
from autograder.registry import load_probes  # noqa: E402

load_probes()  # the probes only: the checks (autograder/graders/) never enter a process that runs student code
