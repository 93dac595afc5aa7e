"""Probes of sections 4–7, encoder, attention, decoder and model: Q9–Q20.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_model.py``.
"""
from __future__ import annotations

import contextlib
import inspect
import types
import zlib
from unittest import mock

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from autograder.probes.common import raised
from autograder.registry import probe, question

question("Q9", "encoder layers", points=2, timeout=60)
question("Q10", "encoder forward pass", points=4, timeout=60)
question("Q11", "encoder size: parameter count", points=2, timeout=60)
question("Q12", "masked softmax over source positions", points=3, timeout=60)
question("Q13", "attention score functions", points=5, timeout=60)
question("Q14", "context vector", points=2, timeout=60)
question("Q15", "decoder layers", points=2, timeout=60)
question("Q16", "decoder step with attention", points=4, timeout=60)
question("Q17", "output layer and probabilities", points=2, timeout=60)
question("Q18", "building and encoding with the seq2seq model", points=2, timeout=60)
question("Q19", "teacher forcing", points=3, timeout=60)
question("Q20", "seq2seq forward pass", points=4, timeout=60)

PAD, SOS, EOS = 0, 1, 2  # fixed by the course package's __init__
# Small sizes, all different, so that a mixed-up dimension shows as a wrong shape.
SRC_V, TGT_V, EMB, HID, DEC, ATT = 23, 19, 6, 5, 7, 4
ENC = 2 * HID


# ------------------------------------------------------------------------------------------------ helpers
def rand(seed: int, *shape: int, scale: float = 1.0) -> Tensor:
    """The same numbers in every process (the check can recompute what a probe used)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def tokens(seed: int, lengths: list[int], src_len: int | None = None, vocab: int = SRC_V) -> tuple[Tensor, Tensor]:
    """A padded batch of random ids (never a special token) and its lengths."""
    src_len = src_len or max(lengths)
    ids = torch.randint(4, vocab, (len(lengths), src_len), generator=torch.Generator().manual_seed(seed))
    for row, n in enumerate(lengths):
        ids[row, n:] = PAD
    return ids, torch.tensor(lengths)


def mask_of(lengths: list[int], src_len: int | None = None) -> Tensor:
    return torch.arange(src_len or max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def parameter_shapes(module: nn.Module, skip: str = "\0") -> dict[str, list[int]]:
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
    fill_(module, {f"{name}": tuple(p.shape) for name, p in module.named_parameters()}, seed + zlib.crc32(prefix.encode()))
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
    shapes = {}
    for k in range(layers):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            size = inputs if k == 0 else hidden * (2 if bidirectional else 1)
            shapes[f"{prefix}weight_ih_l{k}{suffix}"] = (gates * hidden, size)
            shapes[f"{prefix}weight_hh_l{k}{suffix}"] = (gates * hidden, hidden)
            shapes[f"{prefix}bias_ih_l{k}{suffix}"] = (gates * hidden,)
            shapes[f"{prefix}bias_hh_l{k}{suffix}"] = (gates * hidden,)
    return shapes


def encoder_shapes(layers: int = 1, bidirectional: bool = True, rnn_type: str = "gru", dec: int = DEC) -> dict:
    enc = HID * (2 if bidirectional else 1)
    return {"embedding.weight": (SRC_V, EMB),
            **rnn_shapes("rnn.", 3 if rnn_type == "gru" else 4, EMB, HID, layers, bidirectional),
            "bridge.weight": (dec, enc), "bridge.bias": (dec,)}


def shape(value) -> list[int] | str:
    return list(value.shape) if isinstance(value, Tensor) else type(value).__name__


# Grader-side versions of the model's parts, injected where a question relies on another question's code.
class GraderAttention(nn.Module):
    """Additive attention, counting how often its keys are precomputed."""

    def __init__(self, enc: int = ENC, dec: int = DEC, seed: int = 7) -> None:
        super().__init__()
        self.key_layer = layer(nn.Linear(enc, ATT, bias=False), "gk", seed)
        self.query_layer = layer(nn.Linear(dec, ATT, bias=False), "gq", seed)
        self.energy_layer = layer(nn.Linear(ATT, 1, bias=False), "ge", seed)
        self.precomputed = 0

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        self.precomputed += 1
        return self.key_layer(encoder_outputs)

    def forward(self, query: Tensor, encoder_outputs: Tensor, mask: Tensor, keys: Tensor | None = None):
        keys = self.key_layer(encoder_outputs) if keys is None else keys
        scores = self.energy_layer(torch.tanh(self.query_layer(query).unsqueeze(1) + keys)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1), weights


class GraderEncoder(nn.Module):
    """A bidirectional GRU encoder; keeps its last outputs to check that gradients reach them."""

    def __init__(self, seed: int = 11) -> None:
        super().__init__()
        self.embedding = layer(nn.Embedding(SRC_V, EMB), "e", seed)
        self.rnn = layer(nn.GRU(EMB, HID, batch_first=True, bidirectional=True), "r", seed)
        self.bridge = layer(nn.Linear(ENC, DEC), "b", seed)

    def forward(self, src: Tensor, src_lengths: Tensor):
        packed = pack_padded_sequence(self.embedding(src), src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        if outputs.requires_grad:
            outputs.retain_grad()
        self.last_outputs = outputs
        return outputs, torch.tanh(self.bridge(torch.cat([final[-2], final[-1]], dim=-1)))


class GraderDecoder(nn.Module):
    """The attention decoder of the docstrings, with every method of the decoder interface."""

    def __init__(self, seed: int = 13) -> None:
        super().__init__()
        self.embedding = layer(nn.Embedding(TGT_V, EMB), "e", seed)
        self.attention = GraderAttention(seed=seed)
        self.rnn = layer(nn.GRU(EMB + ENC, DEC, batch_first=True), "r", seed)
        self.out = layer(nn.Linear(DEC + ENC, TGT_V), "o", seed)

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        return self.attention.precompute(encoder_outputs)

    def step(self, prev_tokens, hidden, encoder_outputs, mask, keys):
        context, weights = self.attention(hidden, encoder_outputs, mask, keys)
        _, new = self.rnn(torch.cat([self.embedding(prev_tokens), context], -1).unsqueeze(1), hidden.unsqueeze(0))
        return new.squeeze(0), context, weights

    def project(self, hidden, context):
        return self.out(torch.cat([hidden, context], dim=-1))

    def forward_step(self, prev_tokens, hidden, encoder_outputs, mask, keys=None):
        keys = self.precompute(encoder_outputs) if keys is None else keys
        hidden, context, weights = self.step(prev_tokens, hidden, encoder_outputs, mask, keys)
        return self.project(hidden, context), hidden, weights


def grader_masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def grader_encode(model: nn.Module, src: Tensor, src_lengths: Tensor):
    outputs, hidden = model.encoder(src, src_lengths)
    return outputs, hidden, src != PAD, model.decoder.precompute(outputs)


def grader_teacher_force(gold: Tensor, logits: Tensor, ratio: float) -> Tensor:
    return gold if torch.rand(()) < ratio else logits.argmax(dim=-1)


# =============================================================================================== Q9 encoder
ENCODER_CONFIGS = {  # name -> (n_layers, bidirectional, rnn_type, dropout)
    "bigru": (1, True, "gru", 0.0), "gru2": (2, False, "gru", 0.25), "bilstm2": (2, True, "lstm", 0.5)}


@probe("Q9")
def q9_layers(s):
    result = {}
    for name, (layers, bi, rnn_type, p) in ENCODER_CONFIGS.items():
        enc = s.encoder.Encoder(SRC_V, EMB, HID, DEC, layers, bi, p, rnn_type)
        rnn, drop = getattr(enc, "rnn", None), getattr(enc, "dropout", None)
        result[name] = {
            "params": parameter_shapes(enc),
            "rnn": [type(rnn).__name__, getattr(rnn, "batch_first", None), getattr(rnn, "bidirectional", None),
                    getattr(rnn, "num_layers", None), getattr(rnn, "dropout", None)],
            "dropout": [type(drop).__name__, getattr(drop, "p", None)],
            "enc_hidden": getattr(enc, "enc_hidden", None),
        }
    return result


@probe("Q9")
def q9_unknown_rnn(s):
    return raised(lambda: s.encoder.Encoder(SRC_V, EMB, HID, DEC, 1, True, 0.0, "transformer")) or "nothing raised"


# =============================================================================================== Q10 encoder forward
def encoder_under_test(s, layers: int, bi: bool, rnn_type: str, p: float, seed: int) -> nn.Module:
    """The student's Encoder with the documented layers replaced by seeded ones (Q9 is graded on its own)."""
    enc = construct(s.encoder.Encoder, SRC_V, EMB, HID, DEC, layers, bi, p, rnn_type)
    rnn = nn.GRU if rnn_type == "gru" else nn.LSTM
    enc.embedding = nn.Embedding(SRC_V, EMB, padding_idx=PAD)
    enc.rnn = rnn(EMB, HID, num_layers=layers, batch_first=True, bidirectional=bi, dropout=p if layers > 1 else 0.0)
    enc.dropout = nn.Dropout(p)
    enc.bridge = nn.Linear(HID * (2 if bi else 1), DEC)
    enc.enc_hidden = HID * (2 if bi else 1)
    fill_(enc, encoder_shapes(layers, bi, rnn_type), seed)
    return enc.eval()


CASES = {"one": ([1], 1), "mixed": ([5, 2, 4], 5), "extra_padding": ([3, 1, 2, 3], 6), "full": ([7, 7], 7)}
ENCODER_FORWARD = {"bigru": (1, True, "gru"), "gru2": (2, False, "gru"), "bigru2": (2, True, "gru"),
                   "bilstm": (1, True, "lstm")}


@probe("Q10")
def q10_outputs(s):
    result = {}
    for config, (layers, bi, rnn_type) in ENCODER_FORWARD.items():
        enc = encoder_under_test(s, layers, bi, rnn_type, 0.0, seed=100)
        for case, (lengths, src_len) in CASES.items():
            src, lens = tokens(zlib.crc32(f"{config}/{case}".encode()) % 1000, lengths, src_len)
            outputs, hidden = enc(src, lens)
            result[f"{config}/{case}"] = {"outputs": outputs, "hidden": hidden}
    return result


@probe("Q10")
def q10_alone_vs_batch(s):
    """Each sentence encoded alone (no padding) and inside a padded batch."""
    enc = encoder_under_test(s, 2, True, "gru", 0.0, seed=101)
    src, lens = tokens(5, [6, 2, 4])
    batch_out, batch_hidden = enc(src, lens)
    alone = [enc(src[i:i + 1, :n], lens[i:i + 1]) for i, n in enumerate(lens.tolist())]
    return {"batch": [batch_out, batch_hidden], "alone": [[o, h] for o, h in alone], "lengths": lens}


@probe("Q10")
def q10_dropout(s):
    enc = encoder_under_test(s, 1, True, "gru", 0.5, seed=102)
    src, lens = tokens(6, [6, 3])
    evals = [enc(src, lens) for _ in range(2)]
    enc.train()
    trains = [enc(src, lens) for _ in range(2)]
    return {"eval": [list(x) for x in evals], "train": [list(x) for x in trains]}


# =============================================================================================== Q11 parameter counts
FORMULA_CONFIGS = {  # name -> (vocab, emb, hidden, dec, layers, bidirectional, rnn_type)
    "gru1": (100, 8, 6, 5, 1, False, "gru"), "bigru1": (57, 16, 9, 11, 1, True, "gru"),
    "gru3": (30, 4, 7, 3, 3, False, "gru"), "bigru2": (41, 6, 5, 8, 2, True, "gru"),
    "lstm2": (30, 4, 7, 3, 2, False, "lstm"), "bilstm3": (12, 3, 4, 6, 3, True, "lstm")}


@probe("Q11")
def q11_count(s):
    frozen = nn.Sequential(nn.Embedding(10, 3), nn.GRU(3, 4), nn.Linear(4, 2))
    frozen[0].weight.requires_grad_(False)
    return {"plain": s.encoder.count_parameters(nn.Sequential(nn.Linear(5, 3), nn.GRU(3, 2, bidirectional=True))),
            "frozen": s.encoder.count_parameters(frozen)}


@probe("Q11")
def q11_formula(s):
    return {name: s.encoder.encoder_parameter_formula(v, e, h, d, n_layers=n, bidirectional=bi, rnn_type=r)
            for name, (v, e, h, d, n, bi, r) in FORMULA_CONFIGS.items()}


# =============================================================================================== Q12 masked softmax
SOFTMAX_CASES = {"2d": ([4, 1, 6, 3], None), "one": ([1], None)}


def softmax_inputs(case: str) -> tuple[Tensor, Tensor]:
    lengths, _ = SOFTMAX_CASES[case]
    scores = rand(sum(lengths), len(lengths), max(lengths), scale=3.0)
    return scores, mask_of(lengths)


def softmax_3d_inputs() -> tuple[Tensor, Tensor]:
    mask = mask_of([5, 2, 3]).unsqueeze(1).expand(3, 4, 5).contiguous()
    return rand(3, 3, 4, 5, scale=3.0), mask


@probe("Q12")
def q12_weights(s):
    return {case: s.attention.masked_softmax(*softmax_inputs(case)) for case in SOFTMAX_CASES}


@probe("Q12")
def q12_leading_dims(s):
    return s.attention.masked_softmax(*softmax_3d_inputs())


@probe("Q12")
def q12_large(s):
    scores, mask = softmax_inputs("2d")
    return s.attention.masked_softmax(scores * 1e4, mask)


# =============================================================================================== Q13 score functions
def attention_shapes(method: str, enc: int, dec: int, attn: int | None) -> dict:
    if method == "additive":
        attn = attn or dec
        return {"key_layer.weight": (attn, enc), "query_layer.weight": (attn, dec), "energy_layer.weight": (1, attn)}
    if method == "general" or enc != dec:
        return {"key_layer.weight": (dec, enc)}
    return {}


SCORE_CASES = {  # name -> (method, enc, dec, attn_dim)
    "dot_same": ("dot", 6, 6, None), "dot_project": ("dot", ENC, DEC, None),
    "scaled_same": ("scaled_dot", 6, 6, None), "scaled_project": ("scaled_dot", ENC, DEC, None),
    "general": ("general", ENC, DEC, None), "additive": ("additive", ENC, DEC, ATT),
    "additive_default": ("additive", ENC, DEC, None)}


def score_inputs(enc: int, dec: int) -> tuple[Tensor, Tensor]:
    return rand(enc * 100 + dec, 3, dec), rand(enc * 100 + dec + 1, 3, 5, enc)


def score_probe(s, case: str) -> dict:
    method, enc, dec, attn = SCORE_CASES[case]
    att = s.attention.Attention(method, enc, dec, attn)
    params = parameter_shapes(att)
    fill_(att, attention_shapes(method, enc, dec, attn), seed=300)
    extra = sorted(set(params) - set(attention_shapes(method, enc, dec, attn)))
    if extra:
        raise ValueError(f"Attention({method!r}) has parameters the docstring does not list: {extra}")
    query, encoder_outputs = score_inputs(enc, dec)
    keys = att.precompute(encoder_outputs)
    return {"keys": keys, "scores": att.score(query, keys), "method": getattr(att, "method", None)}


def _register_score_probe(case: str) -> None:
    def run(s):
        return score_probe(s, case)
    run.__name__ = f"q13_{case}"
    probe("Q13")(run)


for _case in SCORE_CASES:  # one probe per case: a crash in one score function costs that function only
    _register_score_probe(_case)


@probe("Q13")
def q13_unknown(s):
    return raised(lambda: s.attention.Attention("cosine", ENC, DEC)) or "nothing raised"


# =============================================================================================== Q14 context
CONTEXT_CASES = {"mixed": [5, 2, 4], "one": [1], "full": [3, 3]}


def context_inputs(case: str) -> tuple[Tensor, Tensor, Tensor]:
    lengths = CONTEXT_CASES[case]
    return rand(len(lengths), len(lengths), DEC), rand(len(lengths) + 50, len(lengths), max(lengths), ENC), mask_of(lengths)


def attention_under_test(s, method: str) -> nn.Module:
    """The student's Attention with the grader's layers, scores and keys (Q13 is graded on its own)."""
    att = construct(s.attention.Attention, method, ENC, DEC, ATT)
    grader = GraderAttention()
    att.method = method
    if method == "additive":
        att.key_layer, att.query_layer, att.energy_layer = grader.key_layer, grader.query_layer, grader.energy_layer

        def score(query, keys):
            return grader.energy_layer(torch.tanh(grader.query_layer(query).unsqueeze(1) + keys)).squeeze(-1)
    else:  # dot with a projection
        att.key_layer = layer(nn.Linear(ENC, DEC, bias=False), "k", 5)

        def score(query, keys):
            return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)
    keys_of = att.key_layer
    att.score = score  # plain functions set on the instance shadow the student's methods
    att.precompute = lambda encoder_outputs: keys_of(encoder_outputs)
    return att


def attend(s, method: str, *args, **kwargs):
    with mock.patch.object(s.attention, "masked_softmax", grader_masked_softmax):
        return attention_under_test(s, method)(*args, **kwargs)


@probe("Q14")
def q14_context(s):
    result = {}
    for method in ("dot", "additive"):
        for case in CONTEXT_CASES:
            context, weights = attend(s, method, *context_inputs(case))
            result[f"{method}/{case}"] = {"context": context, "weights": weights}
    return result


@probe("Q14")
def q14_given_keys(s):
    """Keys passed in must be used as they are: here they come from other states than the values."""
    query, encoder_outputs, mask = context_inputs("mixed")
    att = attention_under_test(s, "additive")
    other = att.key_layer(rand(99, *encoder_outputs.shape))
    with mock.patch.object(s.attention, "masked_softmax", grader_masked_softmax):
        context, weights = att(query, encoder_outputs, mask, other)
    return {"context": context, "weights": weights}


@probe("Q14")
def q14_padding(s):
    query, encoder_outputs, mask = context_inputs("mixed")
    garbage = encoder_outputs.masked_fill(~mask.unsqueeze(-1), 1e6)
    clean, _ = attend(s, "dot", query, encoder_outputs, mask)
    dirty, _ = attend(s, "dot", query, garbage, mask)
    leaf = encoder_outputs.clone().requires_grad_(True)
    context, _ = attend(s, "additive", query, leaf, mask)
    context.sum().backward()
    return {"clean": clean, "dirty": dirty, "grad": leaf.grad}


# =============================================================================================== Q15 decoder layers
@probe("Q15")
def q15_layers(s):
    attention = GraderAttention()
    dec = s.decoder.AttentionDecoder(TGT_V, EMB, ENC, DEC, attention, 0.3)
    rnn, out_layer, drop = getattr(dec, "rnn", None), getattr(dec, "out", None), getattr(dec, "dropout", None)
    return {"params": parameter_shapes(dec, skip="attention."),
            "attention_kept": getattr(dec, "attention", None) is attention,
            "rnn": [type(rnn).__name__, getattr(rnn, "input_size", None), getattr(rnn, "hidden_size", None),
                    getattr(rnn, "num_layers", None), getattr(rnn, "batch_first", None)],
            "out": [type(out_layer).__name__, getattr(out_layer, "in_features", None),
                    getattr(out_layer, "out_features", None)],
            "dropout": [type(drop).__name__, getattr(drop, "p", None)]}


DECODER_SHAPES = {"embedding.weight": (TGT_V, EMB), **rnn_shapes("rnn.", 3, EMB + ENC, DEC, 1, False),
                  "out.weight": (TGT_V, DEC + ENC), "out.bias": (TGT_V,)}


# =============================================================================================== Q16 decoder step
def decoder_under_test(s, dropout: float = 0.0, seed: int = 400) -> nn.Module:
    """The student's decoder with the grader's layers and attention (Q15 and Q12–Q14 are graded on their own)."""
    attention = GraderAttention()
    dec = construct(s.decoder.AttentionDecoder, TGT_V, EMB, ENC, DEC, attention, dropout)
    dec.embedding = nn.Embedding(TGT_V, EMB, padding_idx=PAD)
    dec.attention = attention
    dec.rnn = nn.GRU(EMB + ENC, DEC, batch_first=True)
    dec.out = nn.Linear(DEC + ENC, TGT_V)
    dec.dropout = nn.Dropout(dropout)
    fill_(dec, DECODER_SHAPES, seed)
    return dec.eval()


STEP_CASES = {"mixed": [5, 2, 4], "one": [1], "single_sentence": [4]}


def step_inputs(case: str, seed: int = 0):
    lengths = CONTEXT_CASES.get(case) or STEP_CASES[case]
    batch = len(lengths)
    prev = torch.randint(3, TGT_V, (batch,), generator=torch.Generator().manual_seed(seed + batch))
    return prev, rand(seed + 1, batch, DEC), rand(seed + 2, batch, max(lengths), ENC), mask_of(lengths)


def run_steps(dec: nn.Module, prev: Tensor, hidden: Tensor, encoder_outputs: Tensor, mask: Tensor) -> list:
    keys = dec.attention.precompute(encoder_outputs)
    first = dec.step(prev, hidden, encoder_outputs, mask, keys)
    second = dec.step((prev + 1) % TGT_V, first[0], encoder_outputs, mask, keys)  # from the new state
    return [list(first), list(second)]


@probe("Q16")
def q16_steps(s):
    dec = decoder_under_test(s)
    return {case: run_steps(dec, *step_inputs(case)) for case in STEP_CASES}


@probe("Q16")
def q16_gradient(s):
    dec = decoder_under_test(s)
    prev, hidden, encoder_outputs, mask = step_inputs("mixed")
    leaf = encoder_outputs.clone().requires_grad_(True)
    new_hidden, _, _ = dec.step(prev, hidden, leaf, mask, dec.attention.precompute(leaf))
    new_hidden.sum().backward()
    return leaf.grad


@probe("Q16")
def q16_dropout(s):
    dec = decoder_under_test(s, dropout=0.5)
    args = step_inputs("mixed")
    evals = [run_steps(dec, *args)[0][0] for _ in range(2)]
    dec.train()
    trains = [run_steps(dec, *args)[0][0] for _ in range(2)]
    return {"eval": evals, "train": trains}


# =============================================================================================== Q17 output layer
@probe("Q17")
def q17_project(s):
    dec = decoder_under_test(s, seed=500)
    return {"step": dec.project(rand(1, 3, DEC), rand(2, 3, ENC)),
            "all_steps": dec.project(rand(3, 2, 4, DEC), rand(4, 2, 4, ENC))}


def logits_inputs() -> dict[str, Tensor]:
    return {"2d": rand(5, 4, TGT_V, scale=3.0), "3d": rand(6, 2, 3, TGT_V, scale=3.0),
            "large": rand(7, 4, TGT_V, scale=3.0) * 300}


@probe("Q17")
def q17_probabilities(s):
    return {name: s.decoder.token_probabilities(x) for name, x in logits_inputs().items()}


@probe("Q17")
def q17_log_probabilities(s):
    return {name: s.decoder.token_probabilities(x, log=True) for name, x in logits_inputs().items()}


# =============================================================================================== Q18 build and encode
BUILD_CONFIGS = {
    "reference": dict(src_vocab=SRC_V, tgt_vocab=TGT_V, emb_dim=EMB, hidden_size=HID, dec_hidden=DEC),
    "unidirectional": dict(src_vocab=31, tgt_vocab=17, emb_dim=4, hidden_size=9, dec_hidden=6, n_layers=2,
                           bidirectional=False, rnn_type="lstm", attention="general", dropout=0.2),
    "additive": dict(src_vocab=12, tgt_vocab=13, emb_dim=3, hidden_size=4, dec_hidden=5, attention="additive",
                     attn_dim=7, dropout=0.3),
    "vanilla": dict(src_vocab=12, tgt_vocab=13, emb_dim=3, hidden_size=4, dec_hidden=5, attention="none")}
PARTS = ("Encoder", "Attention", "AttentionDecoder", "VanillaDecoder")


def recorder(real: type, calls: list) -> type:
    signature = inspect.signature(real)

    class Recorded(nn.Module):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__()
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            self.arguments, self.part = dict(bound.arguments), real.__name__
            calls.append(self)

    return Recorded


def label(value, calls: list):
    """``<Attention #0>``: which recorded part, counted per kind (so the order of building does not matter)."""
    if not any(value is c for c in calls):
        return None
    same = [c for c in calls if c.part == value.part]
    return f"<{value.part} #{[id(c) for c in same].index(id(value))}>"


def plain_arguments(module: nn.Module, calls: list) -> dict:
    arguments = dict(module.arguments)
    if module.part == "Attention" and arguments.get("attn_dim") is None:
        arguments["attn_dim"] = arguments.get("dec_hidden")  # None means dec_hidden: either way is right
    return {key: label(value, calls) if any(value is c for c in calls)
            else value if isinstance(value, (int, float, str, bool, type(None))) else type(value).__name__
            for key, value in arguments.items()}


@probe("Q18")
def q18_build(s):
    result = {}
    for name, fields in BUILD_CONFIGS.items():
        calls: list = []
        with contextlib.ExitStack() as stack:
            # Replace each part's class wherever build_model may look it up: seq2seq.model or its own module.
            for module in (s.model, s.encoder, s.attention, s.decoder):
                for part in PARTS:
                    if isinstance(getattr(module, part, None), type):
                        stack.enter_context(mock.patch.object(module, part, recorder(getattr(module, part), calls)))
            model = s.model.build_model(s.model.ModelConfig(**fields))
        result[name] = {"calls": [[c.part, plain_arguments(c, calls)] for c in calls],
                        "type": type(model).__name__,
                        "encoder": label(getattr(model, "encoder", None), calls),
                        "decoder": label(getattr(model, "decoder", None), calls)}
    return result


def encode_inputs():
    return tokens(21, [5, 1, 3], 6)


@probe("Q18")
def q18_encode(s):
    decoder = GraderDecoder()
    model = s.model.Seq2Seq(GraderEncoder(), decoder).eval()
    outputs, hidden, mask, keys = model.encode(*encode_inputs())
    return {"outputs": outputs, "hidden": hidden, "mask": mask, "keys": keys,
            "precomputed": decoder.attention.precomputed}


# =============================================================================================== Q19 teacher forcing
def tf_inputs(seed: int) -> tuple[Tensor, Tensor]:
    logits = rand(seed, 4, TGT_V)
    gold = (logits.argmax(-1) + 1 + torch.arange(4)) % TGT_V  # never the prediction
    return gold, logits


@probe("Q19")
def q19_extremes(s):
    gold, logits = tf_inputs(1)
    return {"one": [s.model.teacher_force(gold, logits, 1.0) for _ in range(20)],
            "zero": [s.model.teacher_force(gold, logits, 0.0) for _ in range(20)]}


@probe("Q19")
def q19_half(s):
    gold, logits = tf_inputs(2)
    torch.manual_seed(3)
    first = [s.model.teacher_force(gold, logits, 0.5) for _ in range(200)]
    torch.manual_seed(3)
    again = [s.model.teacher_force(gold, logits, 0.5) for _ in range(50)]
    return {"first": first, "again": again}


# =============================================================================================== Q20 forward
FORWARD_CASES = {  # name -> (source lengths, src_len, target length)
    "mixed": ([5, 2, 4], 5, 6), "one": ([1], 1, 2), "longer_target": ([3, 3], 3, 8)}


def forward_inputs(case: str) -> tuple[Tensor, Tensor, Tensor]:
    lengths, src_len, tgt_len = FORWARD_CASES[case]
    src, lens = tokens(len(lengths) * 7 + tgt_len, lengths, src_len)
    tgt = torch.randint(3, TGT_V, (len(lengths), tgt_len), generator=torch.Generator().manual_seed(tgt_len))
    tgt[:, 0] = SOS
    return src, lens, tgt


def model_under_test(s) -> nn.Module:
    """The student's Seq2Seq around the grader's encoder and decoder, with the grader's encode and teacher_force."""
    model = s.model.Seq2Seq(GraderEncoder(), GraderDecoder()).eval()
    model.encode = types.MethodType(grader_encode, model)
    return model


def forward(s, model: nn.Module, *args):
    with mock.patch.object(s.model, "teacher_force", grader_teacher_force):
        return model(*args)


@probe("Q20")
def q20_outputs(s):
    model = model_under_test(s)
    result = {}
    for case in FORWARD_CASES:
        for ratio in (1.0, 0.0):
            logits, attention = forward(s, model, *forward_inputs(case), ratio)
            result[f"{case}/{ratio}"] = {"logits": logits, "attention": attention}
    return result


@probe("Q20")
def q20_changed_target(s):
    """Forward again with one gold token changed, at either ratio."""
    model = model_under_test(s)
    src, lens, tgt = forward_inputs("longer_target")
    changed = tgt.clone()
    changed[:, 3] = (changed[:, 3] + 1) % TGT_V
    return {str(ratio): [forward(s, model, src, lens, t, ratio)[0] for t in (tgt, changed)] for ratio in (1.0, 0.0)}


@probe("Q20")
def q20_gradient(s):
    model = model_under_test(s).train()
    logits, _ = forward(s, model, *forward_inputs("mixed"), 1.0)
    (logits * rand(9, *logits.shape)).sum().backward()
    return model.encoder.last_outputs.grad
