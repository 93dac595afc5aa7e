"""Subword vocabularies through SentencePiece (provided code, no question): an option of the system.

The course's vocabularies are words (Q7): a word seen fewer than ``min_freq`` times in training is ``<unk>``,
and German compounds ("fußballspieler", "straßenmusikant") are rare one by one. A subword vocabulary splits
rare words into frequent pieces ("▁fußball" "spieler"), so that nothing in the training data is unknown and
the model can translate the parts of a word it never saw whole (Sennrich et al., 2016; Kudo, 2018, the
unigram model used by default here; Kudo & Richardson, 2018, SentencePiece).

Everything else keeps seeing *words*: :class:`SubwordVocab` is a :class:`seq2seq.data.Vocab` whose ``encode``
takes the sentence's spaCy tokens and segments them itself, and whose ``decode`` joins the pieces back into
those tokens. So ``Data.tokens``, the references, BLEU (on lower-cased spaCy tokens, as for word models),
``translate`` and the checkpoints' languages work unchanged; only the model's indices are pieces. SentencePiece
is trained on the training split's tokens joined by single spaces, with no normalisation (``identity``), so that
pieces never cross a word boundary and joining them gives the tokens back exactly.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from seq2seq import SPECIALS
from seq2seq.data import Vocab

WORD_START = "\u2581"  # SentencePiece's "▁": the piece begins a word
MODEL_TYPES = ("unigram", "bpe")


def _processor(model: bytes):
    import sentencepiece  # imported here: only runs with subwords need it

    return sentencepiece.SentencePieceProcessor(model_proto=model)


class SubwordVocab(Vocab):
    """Pieces ↔ indices, specials ``<pad> <sos> <eos> <unk>`` at 0–3 as in every vocabulary; ``model`` is the
    serialised SentencePiece model that segments words into these pieces."""

    def __init__(self, tokens: Sequence[str], model: bytes) -> None:
        super().__init__(tokens)
        self.model = bytes(model)
        self.processor = _processor(self.model)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubwordVocab) and self.itos == other.itos and self.model == other.model

    def __repr__(self) -> str:
        return f"SubwordVocab({len(self)} pieces: {self.itos[4:9]}...)"

    @classmethod
    def train(cls, sentences: Iterable[Sequence[str]], size: int, *, model_type: str = "unigram") -> SubwordVocab:
        """A vocabulary of about ``size`` pieces (specials included) learnt from tokenised training sentences.

        Raises:
            ValueError: an unknown ``model_type``, or ``size`` too small for the specials and a few pieces.
        """
        import sentencepiece

        if model_type not in MODEL_TYPES:
            raise ValueError(f"unknown subword model {model_type!r}: use one of {', '.join(MODEL_TYPES)}")
        if size < 16:
            raise ValueError(f"a subword vocabulary of {size} pieces is too small (at least 16)")
        model = io.BytesIO()
        lines = [" ".join(sentence) for sentence in sentences]
        # unk at 0 and no bos/eos/pad of SentencePiece's own: our specials are added around its pieces below.
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, vocab_size=size - len(SPECIALS) + 1,
            model_type=model_type, character_coverage=1.0, normalization_rule_name="identity",
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, hard_vocab_limit=False, num_threads=1,
            minloglevel=2)
        processor = _processor(model.getvalue())
        pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size()) if not processor.is_unknown(i)]
        return cls(list(SPECIALS) + [p for p in pieces if p not in SPECIALS], model.getvalue())

    def segment(self, words: Sequence[str]) -> list[str]:
        """The pieces of a tokenised sentence: ``["straßenmusikant"]`` → ``["▁straßen", "musik", "ant"]``."""
        return self.processor.encode(" ".join(words), out_type=str) if words else []

    def encode(self, tokens: Sequence[str], *, add_sos_eos: bool = True) -> list[int]:
        """The indices of a sentence's *words* (segmented here), ``SOS``/``EOS`` around them as in ``Vocab``."""
        return super().encode(self.segment(tokens), add_sos_eos=add_sos_eos)

    def pieces(self, ids: Iterable[int], *, strip_specials: bool = True) -> list[str]:
        """The pieces of indices (``Vocab.decode``'s tokens): one per decoding step, for attention heatmaps."""
        return super().decode(ids, strip_specials=strip_specials)

    def decode(self, ids: Iterable[int], *, strip_specials: bool = True) -> list[str]:
        """The *words* of indices: pieces joined, a new word at every ``▁``; a special is a word of its own."""
        words: list[str] = []
        start = True  # the next piece begins a word (it does after a special, and after a lone "▁")
        for piece in self.pieces(ids, strip_specials=strip_specials):
            if piece in SPECIALS:
                words.append(piece)
                start = True
                continue
            if piece.startswith(WORD_START):
                start, piece = True, piece[len(WORD_START):]
            if not piece:
                continue
            if start:
                words.append(piece)
            else:
                words[-1] += piece
            start = False
        return words


def vocabularies(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], size: int, *, model_type: str = "unigram",
                 shared: bool = False) -> tuple[SubwordVocab, SubwordVocab]:
    """``(source, target)`` vocabularies of about ``size`` pieces each, learnt on tokenised training pairs; with
    ``shared``, one vocabulary of about ``size`` pieces learnt on both languages serves both (the same object),
    so that the encoder and the decoder can share one embedding matrix (``ModelConfig.tie_embeddings``): words
    spelt alike in both languages (names, numbers, "restaurant") get one vector."""
    if shared:
        vocab = SubwordVocab.train((sentence for pair in pairs for sentence in pair), size, model_type=model_type)
        return vocab, vocab
    src, tgt = (SubwordVocab.train((pair[side] for pair in pairs), size, model_type=model_type) for side in (0, 1))
    return src, tgt


def vocab_from(tokens: Sequence[str], model: bytes | None) -> Vocab:
    """A checkpoint's vocabulary back: a :class:`SubwordVocab` when it stored a SentencePiece model."""
    return Vocab(tokens) if model is None else SubwordVocab(tokens, model)
