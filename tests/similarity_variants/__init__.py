"""Independent implementations of some questions, written in different styles, for the similarity measurement.

``VARIANTS[question]`` is a list of variants; a variant maps each stub function of the question (qualified
name, as in ``seq2seq``) to the body that replaces its stub, and the key ``"+"`` to module-level code appended to
the module (helpers, extra imports). Every variant is meant to be a correct answer (checked by hand with the
visible checks, ``python -m seq2seq check``; no test runs them); no two variants of a question derive from each other. They follow the
docstrings, as students do, so some converge where a docstring prescribes the steps (train_epoch, the sampler).
"""
from tests.similarity_variants import batching, data, model, training

VARIANTS: dict[str, list[dict[str, str]]] = {**data.VARIANTS, **batching.VARIANTS, **model.VARIANTS, **training.VARIANTS}
