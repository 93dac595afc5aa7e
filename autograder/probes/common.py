"""What the probe modules share: stand-ins for ``seq2seq.data``'s objects, so that a bug in the data questions
(Q5–Q8) never costs points elsewhere, and :func:`attempt`, the one way a probe calls student code whose *error* is
the answer. Not a section (declares no question): imported by the probe modules."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

PAD, SOS, EOS = 0, 1, 2  # the course's fixed special ids (seq2seq.SPECIALS), restated: graders never import them


class TinyVocab:
    """A vocabulary of ``size`` ids: 0-3 the specials, then words ``w4 .. w{size-1}``; the ``Vocab`` methods
    student code calls."""

    def __init__(self, size: int) -> None:
        self.itos = ["<pad>", "<sos>", "<eos>", "<unk>"] + [f"w{i}" for i in range(4, size)]

    def __len__(self) -> int:
        return len(self.itos)

    def id_to_token(self, index: int) -> str:
        return self.itos[index]

    def token_to_id(self, token: str) -> int:
        return self.itos.index(token)

    def decode(self, ids, *, strip_specials: bool = True) -> list[str]:
        words = []
        for i in ids:
            i = int(i)
            if strip_specials and i == EOS:
                break
            if not (strip_specials and i in (PAD, SOS, EOS)):
                words.append(self.itos[i])
        return words


class Batch(tuple):
    """A stand-in for ``seq2seq.data.Batch``: ``(src, src_lengths, tgt)`` with ``.to(device)``."""

    src = property(lambda self: self[0])
    src_lengths = property(lambda self: self[1])
    tgt = property(lambda self: self[2])

    def to(self, device, non_blocking: bool = False) -> "Batch":
        return Batch((self[0].to(device), self[1], self[2].to(device)))


# ------------------------------------------------------------------------------------------ errors as answers
def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """Call student code whose error is part of the answer: ``(value, None)``, or ``(None, error)`` when it raised.

    ``NotImplementedError`` propagates: it is the stub's, so the question reads "not implemented yet" instead of
    "raised the wrong error". Anything that is not an ``Exception`` (``SystemExit``, ``KeyboardInterrupt``)
    propagates too, and the child reports it as a failure of the probe."""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - which error it is, is what the checks read
        return None, error


def raised(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    """The name of the error ``fn(*args, **kwargs)`` raised, ``"ValueError"`` for any ``ValueError`` (the
    docstrings ask for one; a subclass of it is one), or None when it returned (see :func:`attempt`)."""
    _, error = attempt(fn, *args, **kwargs)
    if error is None:
        return None
    return "ValueError" if isinstance(error, ValueError) else type(error).__name__
