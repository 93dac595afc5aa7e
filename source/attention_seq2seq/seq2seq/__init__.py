"""Attention-based sequence-to-sequence translation in PyTorch: the course package.

One module per section of the course notebook, so that a question always lives in the file named after its
section:

========================  =========  ==========================================================
module                    questions  what it holds
========================  =========  ==========================================================
``environment``           Q1–Q4      packages, imports, device choice, seeding
``data``                  Q5–Q8      reading and splitting pairs, spaCy tokens, ``Vocab``, padded batches
``corpora``                          the three corpora and ``python -m seq2seq.corpora`` (not a question)
``synthetic``                        the offline toy corpus (English → French-like, gold alignments; not a question)
``download``                         fetching the real corpora, sha256 checked (not a question)
``encoder``               Q9–Q11     embedding + (bi)GRU/LSTM over packed sequences, parameter counts
``attention``             Q12–Q14    masked softmax, score functions (dot, general, scaled_dot, additive), context
``decoder``               Q15–Q17    one decoding step with attention, output layer, probabilities; vanilla decoder
``model``                 Q18–Q20    ``ModelConfig``, ``build_model``, ``Seq2Seq`` forward with teacher forcing
``search``                           batched greedy decoding and beam search (not a question: used from Q25 on)
``onednn``                           faster decoding on the CPU: the decoder's layers with packed oneDNN weights
``training``              Q21–Q24    the loss, the optimizer, one training epoch; perplexity, smoothing, divergence,
                                     early stopping
``evaluation``            Q25–Q27    loss, perplexity and BLEU of a model; corpus BLEU from scratch; attention vs.
                                     vanilla by source length
``visualisation``         Q28–Q30    heatmaps, alignments read from attention, step-wise weights; loss curves
``experiments``           Q31–Q34    hyperparameter studies: learning rate (divergence reported), hidden size,
                                     teacher-forcing ratio, score function; tables, plots, ``summary.md``
``config``                           the system's run options, ``RunConfig`` (model fields from ``ModelConfig``)
``checkpoint``                       the system's checkpoint files: what they hold, saving and loading them
``variants``                         the system's model builder; Luong's attentional output layer, tied embeddings
``subwords``                         the system's SentencePiece vocabularies (an option beside words)
``ensemble``                         the system's decoding with several models, probabilities averaged
``distributed``                      the system's training on several processes (torchrun, DDP)
``runner``                           the system: train / evaluate / translate / compare / demo (not a question)
``check``                            the visible checks, ``check("Q4")`` (not a question)
``submit``                           ``python -m seq2seq submit``: checks the package, writes the zip to hand in
========================  =========  ==========================================================

Run ``python -m seq2seq --help`` for the command line, and ``from seq2seq.check import check; check("Q4")``
for a question's visible sanity checks.
"""
from pathlib import Path

__all__ = ["PACKAGE_DIR", "ASSIGNMENT_DIR", "SPECIALS", "PAD", "SOS", "EOS", "UNK"]

PACKAGE_DIR = Path(__file__).resolve().parent
ASSIGNMENT_DIR = PACKAGE_DIR.parent  # holds requirements.txt, the notebook and public_tests/

# Special tokens at fixed indices in every vocabulary, so that models, losses and masks agree without asking.
SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")
PAD, SOS, EOS, UNK = range(len(SPECIALS))
