"""What the probe modules share: the course's special ids, stand-ins for ``seq2seq.data``'s objects (so that a bug
in the data questions, Q5–Q8, never costs points elsewhere), seeded inputs and weights for the model's parts
(Q9–Q20), and :func:`attempt`, the one way a probe calls student code whose *error* is the answer.

Not a section (declares no question): imported by the probe modules and, for their inputs, by the checks.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

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

    def to(self, device, non_blocking: bool = False) -> Batch:
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


# ----------------------------------------------------------------------- the model's parts (Q9–Q20): inputs
# Small sizes, all different, so that a mixed-up dimension shows as a wrong shape.
SRC_V, TGT_V, EMB, HID, DEC, ATT = 23, 19, 6, 5, 7, 4
ENC = 2 * HID  # a bidirectional encoder's states


def rand(seed: int, *shape: int, scale: float = 1.0) -> Tensor:
    """The same numbers in every process (the check can recompute what a probe used)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def tokens(seed: int, lengths: list[int], src_len: int | None = None, vocab: int = SRC_V) -> tuple[Tensor, Tensor]:
    """A padded batch of random ids ``(batch, src_len)`` (never a special token) and its lengths ``(batch,)``."""
    src_len = src_len or max(lengths)
    ids = torch.randint(4, vocab, (len(lengths), src_len), generator=torch.Generator().manual_seed(seed))
    for row, n in enumerate(lengths):
        ids[row, n:] = PAD
    return ids, torch.tensor(lengths)


def mask_of(lengths: list[int], src_len: int | None = None) -> Tensor:
    """``(batch, src_len)`` bool, True at the real positions of sentences of these lengths."""
    return torch.arange(src_len or max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def parameter_shapes(module: nn.Module, skip: str = "\0") -> dict[str, list[int]]:
    """``{name: shape}`` of ``module``'s parameters, leaving out those whose names start with ``skip``."""
    return {name: list(p.shape) for name, p in module.named_parameters() if not name.startswith(skip)}


def fill_(module: nn.Module, expected: dict[str, tuple[int, ...]], seed: int, scale: float = 0.5) -> None:
    """Give ``module``'s parameters seeded values by name, after checking names and shapes against ``expected``."""
    params = dict(module.named_parameters())
    missing = sorted(set(expected) - set(params))
    wrong = sorted(n for n in expected if n in params and tuple(params[n].shape) != tuple(expected[n]))
    if missing or wrong:
        raise ValueError("the module's parameters do not match the docstring: "
                         + (f"missing {missing} " if missing else "")
                         + (f"wrong shapes {[(n, list(params[n].shape)) for n in wrong]}" if wrong else ""))
    with torch.no_grad():
        for name, shape in expected.items():
            params[name].copy_(rand(seed + zlib.crc32(name.encode()), *shape, scale=scale))


def layer(module: nn.Module, prefix: str, seed: int) -> nn.Module:
    """Fill a grader-built layer (all its parameters) with seeded values; named by its attribute ``prefix``."""
    fill_(module, {f"{name}": tuple(p.shape) for name, p in module.named_parameters()},
          seed + zlib.crc32(prefix.encode()))
    return module


def construct(cls: type, *args, **kwargs) -> nn.Module:
    """The student's own constructor when it works, else a bare module (its layers are set by the probe)."""
    try:
        return cls(*args, **kwargs)
    except Exception:  # noqa: BLE001 - another question's stub or bug must not cost this question
        bare = cls.__new__(cls)
        nn.Module.__init__(bare)
        return bare


def rnn_shapes(prefix: str, gates: int, inputs: int, hidden: int, layers: int, bidirectional: bool) -> dict:
    """The parameter shapes of ``nn.GRU`` (``gates=3``) or ``nn.LSTM`` (4) with these sizes, named ``prefix...``."""
    shapes = {}
    for k in range(layers):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            size = inputs if k == 0 else hidden * (2 if bidirectional else 1)
            shapes[f"{prefix}weight_ih_l{k}{suffix}"] = (gates * hidden, size)
            shapes[f"{prefix}weight_hh_l{k}{suffix}"] = (gates * hidden, hidden)
            shapes[f"{prefix}bias_ih_l{k}{suffix}"] = (gates * hidden,)
            shapes[f"{prefix}bias_hh_l{k}{suffix}"] = (gates * hidden,)
    return shapes
