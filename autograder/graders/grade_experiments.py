"""Graders for section 11, experimenting with hyperparameters: Q31 (``run_setting`` and the learning-rate study),
Q32 (hidden size), Q33 (teacher-forcing ratio) and Q34 (score function).

Isolation: every probe puts the grader's own pieces in place of the ones the studies call (``set_seed``,
``build_model``, ``make_optimizer``, ``train_epoch``, ``evaluate``, ``diverged``), a tiny grader model and a
grader corpus (a copy task) with a grader loader, so that a bug in Q4, Q5-Q8, Q18-Q25 costs nothing here,
and every number depends on the student's ``run_setting`` alone: same seed, same calls in the same order, same
numbers as the reference. The probes of Q32-Q34 (and part of Q31's) also replace ``run_setting`` itself, by a
recording fake or by the grader's own, so that a bug in Q31's ``run_setting`` costs Q31 only.

Everything here trains models of a few thousand parameters on 96 sentences: the four questions take a few
seconds of one CPU thread.
"""
from __future__ import annotations

import contextlib
import math
import random
from dataclasses import asdict, fields, is_dataclass
from unittest import mock

import pytest
import sacrebleu
import torch
from torch import nn

from autograder.graders.common import EOS, PAD, SOS, Batch, TinyVocab  # noqa: F401
from autograder.graders.grade_training import grader_loss
from autograder.registry import probe, question

question("Q31", "learning-rate study: one run per setting, divergence reported", points=4, timeout=120)
question("Q32", "hidden-size study", points=4, timeout=90)
question("Q33", "teacher-forcing study", points=4, timeout=90)
question("Q34", "attention score-function study", points=4, timeout=90)

# ---------------------------------------------------------------------------------------------------- data
WORDS = 10                # word ids 4 .. 13 on both sides; the target is a copy of the source
VOCAB = 4 + WORDS
VOCAB_WORDS = TinyVocab(VOCAB).itos


def _pad(rows: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row)
    return out


class GraderLoader:
    """Batches of one split, shuffled per epoch from ``f"{seed}:{epoch}"`` like the course's sampler; the epoch
    counter goes up with every ``iter``, so one loader iterated twice gives two different epochs."""

    def __init__(self, examples, split: str, batch_size: int, seed: int, shuffle: bool, bucket: bool) -> None:
        self.examples, self.split, self.batch_size = examples, split, batch_size
        self.seed, self.shuffle, self.bucket, self.epoch = seed, shuffle, bucket, 0

    def __len__(self) -> int:
        return math.ceil(len(self.examples) / self.batch_size)

    def __iter__(self):
        rng = random.Random(f"{self.seed}:{self.epoch}")
        self.epoch += 1
        indices = list(range(len(self.examples)))
        if self.shuffle:
            rng.shuffle(indices)
        if self.bucket:
            indices.sort(key=lambda i: len(self.examples[i][0]))
        batches = [indices[a:a + self.batch_size] for a in range(0, len(indices), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        for chosen in batches:
            src = [self.examples[i][0] for i in chosen]
            tgt = [self.examples[i][1] for i in chosen]
            yield Batch((_pad(src), torch.tensor([len(s) for s in src]), _pad(tgt)))


class GraderData:
    """Stands in for ``seq2seq.data.Data``: ``loader``, ``src_vocab``, ``tgt_vocab``, ``tokens``, ``corpus``."""

    def __init__(self, seed: int = 31, sizes=(96, 24, 24)) -> None:
        rng = random.Random(seed)
        self.src_vocab, self.tgt_vocab = TinyVocab(VOCAB), TinyVocab(VOCAB)
        self.tokens, self.ids = {}, {}
        for split, n in zip(("train", "valid", "test"), sizes):
            pairs = []
            for _ in range(n):
                words = [rng.randrange(4, VOCAB) for _ in range(rng.randint(1, 6))]
                pairs.append((words, words))
            self.ids[split] = [([SOS, *s, EOS], [SOS, *t, EOS]) for s, t in pairs]
            self.tokens[split] = [([VOCAB_WORDS[i] for i in s], [VOCAB_WORDS[i] for i in t]) for s, t in pairs]
        self.corpus = "grader copy task"
        self.datasets = {split: self.ids[split] for split in self.ids}

    def loader(self, split: str, batch_size: int, **options):
        loader = GraderLoader(self.ids[split], split, batch_size, options.get("seed", 0),
                              options.get("shuffle", split == "train"), options.get("bucket", True))
        EVENTS.append({"event": "loader", "split": split, "batch_size": batch_size, "seed": options.get("seed", 0),
                       "id": id(loader)})
        return loader


# ---------------------------------------------------------------------------------------------------- model
class GraderDecoder(nn.Module):
    def __init__(self, config) -> None:
        super().__init__()
        e, h, d, self.method = config.emb_dim, config.hidden_size, config.dec_hidden, config.attention
        self.embedding, self.cell = nn.Embedding(config.tgt_vocab, e), nn.GRUCell(e + h, d)
        self.key = nn.Linear(h, d)
        if self.method == "general":
            self.w = nn.Linear(d, d, bias=False)
        if self.method == "additive":
            self.w, self.v = nn.Linear(d, d), nn.Linear(d, 1, bias=False)
        self.out = nn.Linear(d + h, config.tgt_vocab)

    def precompute(self, encoder_outputs):
        return self.key(encoder_outputs)

    def forward_step(self, prev, hidden, encoder_outputs, mask, keys):
        if self.method == "none":
            weights = mask.float() / mask.float().sum(1, keepdim=True)
        else:
            if self.method == "additive":
                scores = self.v(torch.tanh(keys + self.w(hidden).unsqueeze(1))).squeeze(2)
            else:
                query = self.w(hidden) if self.method == "general" else hidden
                scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)
                if self.method == "scaled_dot":
                    scores = scores / math.sqrt(hidden.size(1))
            weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        context = torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1)
        hidden = self.cell(torch.cat([self.embedding(prev), context], dim=-1), hidden)
        return self.out(torch.cat([hidden, context], dim=-1)), hidden, weights


class GraderModel(nn.Module):
    """A small attention model with ``Seq2Seq``'s interface, sized by the config (emb_dim, hidden_size,
    dec_hidden, attention); its result never depends on which sentences share a batch."""

    def __init__(self, config) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.src_vocab, config.emb_dim)
        self.rnn = nn.GRU(config.emb_dim, config.hidden_size, batch_first=True)
        self.bridge = nn.Linear(config.hidden_size, config.dec_hidden)
        self.decoder = GraderDecoder(config)

    def encode(self, src, src_lengths):
        outputs, _ = self.rnn(self.embedding(src))
        last = outputs[torch.arange(src.size(0)), src_lengths.to(src.device) - 1]
        return outputs, torch.tanh(self.bridge(last)), src != PAD, self.decoder.precompute(outputs)

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        EVENTS.append({"event": "forward", "model": id(self), "ratio": teacher_forcing_ratio,
                       "training": self.training})
        outputs, hidden, mask, keys = self.encode(src, src_lengths)
        logits, weights = [], []
        for t in range(1, tgt.size(1)):
            step, hidden, w = self.decoder.forward_step(tgt[:, t - 1], hidden, outputs, mask, keys)
            logits.append(step)
            weights.append(w)
        logits, weights = torch.stack(logits, 1), torch.stack(weights, 1)
        return (torch.cat([torch.zeros_like(logits[:, :1]), logits], 1),
                torch.cat([torch.zeros_like(weights[:, :1]), weights], 1))


# ---------------------------------------------------------------------------------------------------- parts
EVENTS: list[dict] = []
NAN_LR = 0.0123     # grader_train_epoch raises FloatingPointError in the 2nd epoch of a model with this lr
SPIKE_LR = 0.0456   # ... returns a loss far above a uniform guess from the 1st epoch on (never any worse)


def _config_dict(config) -> dict:
    return asdict(config) if is_dataclass(config) else {"__type__": type(config).__name__}


def grader_set_seed(seed, deterministic=False):
    EVENTS.append({"event": "seed", "seed": seed})
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def grader_build_model(config):
    model = GraderModel(config)
    EVENTS.append({"event": "build", "model": id(model), "config": _config_dict(config),
                   "parameters": sum(p.numel() for p in model.parameters())})
    return model


def grader_optimizer(model, lr=1e-3, weight_decay=0.0):
    EVENTS.append({"event": "optimizer", "model": id(model), "lr": lr})
    return torch.optim.Adam(model.parameters(), lr=lr)


def grader_train_epoch(model, loader, optimizer, *, clip=1.0, teacher_forcing_ratio=1.0, device=None, history=None,
                       progress=False, **_):
    lr = optimizer.param_groups[0]["lr"]
    epoch = 1 + sum(e["event"] == "train" and e["model"] == id(model) for e in EVENTS)
    EVENTS.append({"event": "train", "model": id(model), "loader": id(loader), "ratio": teacher_forcing_ratio,
                   "clip": clip, "lr": lr, "split": getattr(loader, "split", None), "epoch": epoch})
    if lr == NAN_LR and epoch == 2:
        raise FloatingPointError("training diverged at step 3 of this epoch: loss nan")
    model.train()
    total = tokens = 0
    for batch in loader:
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
        loss = grader_loss(logits, batch.tgt)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"training diverged: loss {loss.item()}")
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        n = int((batch.tgt[:, 1:] != PAD).sum())
        total, tokens = total + loss.item() * n, tokens + n
    if lr == SPIKE_LR:
        return 10 * math.log(VOCAB)
    return total / max(tokens, 1)


def grader_evaluate(model, loader, tgt_vocab, *, device=None, beam_size=1, max_len=None, length_penalty=1.0,
                    references=None, **_):
    from seq2seq.search import translate  # provided code, not a question

    EVENTS.append({"event": "evaluate", "model": id(model), "split": getattr(loader, "split", None),
                   "beam_size": beam_size})
    was_training = model.training
    model.eval()
    total = tokens = 0
    hypotheses, refs = [], []
    with torch.no_grad():
        for batch in loader:
            n = int((batch.tgt[:, 1:] != PAD).sum())
            total, tokens = total + float(grader_loss(model(*batch)[0], batch.tgt)) * n, tokens + n
            for result in translate(model, batch.src, batch.src_lengths, beam_size, 2 * batch.src_lengths + 10):
                hypotheses.append(tgt_vocab.decode(result.tokens))
            refs.extend(tgt_vocab.decode(row) for row in batch.tgt.tolist())
    model.train(was_training)
    if references is not None:
        refs = [list(r) for r in references]
    loss = total / max(tokens, 1)
    score = sacrebleu.metrics.BLEU(tokenize="none", force=True).corpus_score(
        [" ".join(h) for h in hypotheses], [[" ".join(r) for r in refs]]).score
    return {"loss": loss, "ppl": math.exp(min(loss, 50)), "bleu": score, "hypotheses": hypotheses,
            "references": refs, "src_lengths": [int(n) - 2 for b in loader for n in b.src_lengths]}


def grader_diverged(losses, factor=3.0):
    if not losses:
        return False
    if not math.isfinite(losses[-1]):
        return True
    earlier = [x for x in losses[:-1] if math.isfinite(x)]
    return bool(earlier) and losses[-1] > factor * min(earlier)


PARTS = {"set_seed": grader_set_seed, "build_model": grader_build_model, "make_optimizer": grader_optimizer,
         "train_epoch": grader_train_epoch, "evaluate": grader_evaluate, "diverged": grader_diverged}


def grader_run_setting(data, config, budget, *, device=None, progress=False):
    """The grader's own Q31 (reference semantics), for the probes of Q32-Q34."""
    EVENTS.append({"event": "run_setting", "config": _config_dict(config), "budget": _config_dict(budget)})
    grader_set_seed(budget.seed)
    model = grader_build_model(config)
    optimizer = grader_optimizer(model, budget.lr)
    loader = data.loader("train", budget.batch_size, seed=budget.seed)
    losses, failed = [], False
    for _ in range(budget.epochs):
        try:
            losses.append(grader_train_epoch(model, loader, optimizer, clip=budget.clip,
                                             teacher_forcing_ratio=budget.teacher_forcing_ratio))
        except FloatingPointError:
            losses.append(math.nan)
            failed = True
            break
        if grader_diverged([math.log(len(data.tgt_vocab)), *losses]):
            failed = True
            break
    valid_loss, score = math.nan, 0.0
    if not failed:
        result = grader_evaluate(model, data.loader("valid", budget.batch_size, bucket=False), data.tgt_vocab,
                                 references=[t for _, t in data.tokens["valid"]])
        valid_loss, score = result["loss"], result["bleu"]
    return {"train_loss": losses, "valid_loss": valid_loss, "bleu": score, "diverged": failed,
            "parameters": sum(p.numel() for p in model.parameters()), "epochs": len(losses), "seconds": 0.01}


def fake_run_setting(data, config, budget, *, device=None, progress=False):
    """Records how it is called and returns a record that differs from call to call."""
    n = sum(e["event"] == "run_setting" for e in EVENTS)
    EVENTS.append({"event": "run_setting", "config": _config_dict(config), "budget": _config_dict(budget),
                   "device": str(device), "data": id(data)})
    return fake_run_setting_result(n)


def fake_run_setting_result(n: int) -> dict:
    return {"train_loss": [5.0 - n, 4.0 - n / 2], "valid_loss": 3.0 + n / 10, "bleu": 10.0 + n, "diverged": False,
            "parameters": 1000 + 17 * n, "epochs": 2, "seconds": 0.5 + n}


@contextlib.contextmanager
def grader_parts(s, **extra):
    """The grader's pieces in every student module that might look them up (and ``extra`` in experiments)."""
    EVENTS.clear()
    with contextlib.ExitStack() as stack:
        for module in (s.experiments, s.training, s.evaluation, s.model, s.environment):
            for name, value in PARTS.items():
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, value))
        for name, value in extra.items():
            stack.enter_context(mock.patch.object(s.experiments, name, value))
        yield


BASE = dict(emb_dim=8, hidden_size=16, dec_hidden=16, attention="general", dropout=0.0)


def base_config(s, **changes):
    return s.model.ModelConfig(VOCAB, VOCAB, **{**BASE, **changes})


def plain_record(record) -> dict | str:
    """A record as plain data (the check tells what is wrong with the rest)."""
    if not isinstance(record, dict):
        return f"not a dict but {type(record).__name__}"
    out = {}
    for key, value in record.items():
        if isinstance(value, (list, tuple)):
            value = [float(v) if isinstance(v, (int, float, torch.Tensor)) and not isinstance(v, bool) else repr(v)
                     for v in value]
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        elif not isinstance(value, (bool, int, float, str)) and value is not None:
            value = repr(value)[:80]
        out[str(key)] = value
    return out


def _records(result):
    if not isinstance(result, (list, tuple)):
        return f"not a list but {type(result).__name__}"
    return [plain_record(r) for r in result]


def study_probe(s, study: str, settings, *, fake: bool, budget=None, config=None):
    """Run one study with the grader's parts, ``run_setting`` replaced by the fake or by the grader's own."""
    data = GraderData()
    config = config or base_config(s)
    budget = budget or s.experiments.Budget(epochs=1, batch_size=24, lr=0.01, clip=1.0, teacher_forcing_ratio=1.0,
                                            seed=5)
    before_config, before_budget = _config_dict(config), _config_dict(budget)
    with grader_parts(s, run_setting=fake_run_setting if fake else grader_run_setting):
        result = getattr(s.experiments, study)(data, config, settings, budget, device="cpu")
    return {"records": _records(result), "events": list(EVENTS), "config_before": before_config,
            "config_after": _config_dict(config), "budget_before": before_budget, "budget_after": _config_dict(budget)}


# ---------------------------------------------------------------------------------------------------- helpers
KEYS = ("train_loss", "valid_loss", "bleu", "diverged", "parameters", "epochs", "seconds")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _close(a, b, tol=1e-4) -> bool:
    if not (_is_number(a) and _is_number(b)):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(b))


def check_shape(records, key: str, settings) -> None:
    """One record per setting, in order, under ``key``, with run_setting's keys."""
    assert isinstance(records, list), f"the study must return a list of records (dicts), got {records}"
    assert len(records) == len(settings), f"expected one record per setting ({len(settings)}), got {len(records)}"
    for record, setting in zip(records, settings):
        assert isinstance(record, dict), f"every record must be a dict, got {record}"
        assert key in record, f"every record needs the key {key!r} holding its setting (keys: {sorted(record)})"
        assert record[key] == setting, (
            f"the records must follow the order of the settings {list(settings)}: found {key}={record[key]!r} "
            f"where {setting!r} was expected")
        missing = [k for k in KEYS if k not in record]
        assert not missing, f"the record of {key}={setting!r} lacks run_setting's keys {missing}"


def calls(got, event: str) -> list[dict]:
    return [e for e in got["events"] if e["event"] == event]


def check_fake_passthrough(got, key: str, settings) -> None:
    """The records are {key: setting, **what run_setting returned}, one run_setting call per setting."""
    runs = calls(got, "run_setting")
    assert len(runs) == len(settings), (
        f"run_setting must be called once per setting ({len(settings)} times), it was called {len(runs)} times")
    check_shape(got["records"], key, settings)
    for n, (record, setting) in enumerate(zip(got["records"], settings)):
        want = {key: setting, **plain_record(fake_run_setting_result(n))}
        assert record == want, (
            f"the record of {key}={setting!r} must be {{{key!r}: setting, **run_setting(...)}}: the setting, then "
            "exactly what run_setting returned for it")
    assert all(run["device"] == "cpu" for run in runs), "pass the study's device on to run_setting"


def check_unchanged(got) -> None:
    assert got["config_after"] == got["config_before"], (
        "the study changed the config it was given: make a copy per setting (dataclasses.replace) instead of "
        "setting its fields")
    assert got["budget_after"] == got["budget_before"], "the study changed the budget it was given"


def differing(before: dict, after: dict) -> dict:
    return {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}


# ---------------------------------------------------------------------------------------------------- Q31
BUDGET31 = dict(epochs=2, batch_size=8, lr=2e-2, clip=0.5, teacher_forcing_ratio=0.6, seed=7)


def budget31(s, **changes):
    return s.experiments.Budget(**{**BUDGET31, **changes})


def _call_run_setting(s, data, config, budget):
    try:
        record = plain_record(s.experiments.run_setting(data, config, budget, device="cpu"))
        return {"record": record, "raised": None}
    except Exception as error:  # noqa: BLE001 - which error is the point
        return {"record": None, "raised": f"{type(error).__name__}: {error}"[:300]}


@probe("Q31")
def q31_run(s):
    data = GraderData()
    with grader_parts(s):
        result = _call_run_setting(s, data, base_config(s), budget31(s))
        events = list(EVENTS)
    return {**result, "events": events}


@probe("Q31")
def q31_diverge(s):
    data = GraderData()
    out = {}
    for name, lr in (("nan", NAN_LR), ("spike", SPIKE_LR), ("huge", 30.0)):
        with grader_parts(s):
            result = _call_run_setting(s, data, base_config(s), budget31(s, epochs=3, lr=lr))
            out[name] = {**result, "events": list(EVENTS)}
    return out


LRS = (2e-2, 1e-3, 30.0)


@probe("Q31")
def q31_study(s):
    data = GraderData()
    budget = budget31(s, epochs=1)
    with grader_parts(s):
        try:
            records, raised = _records(s.experiments.learning_rate_study(data, base_config(s), LRS, budget,
                                                                         device="cpu")), None
        except Exception as error:  # noqa: BLE001
            records, raised = None, f"{type(error).__name__}: {error}"[:300]
        events = list(EVENTS)
    return {"records": records, "raised": raised, "events": events}


@probe("Q31")
def q31_study_fake(s):
    return study_probe(s, "learning_rate_study", LRS, fake=True, budget=budget31(s))


def _run(out, name="q31_run") -> dict:
    got = out[name]
    assert got["raised"] is None, f"run_setting raised {got['raised']}"
    record = got["record"]
    assert isinstance(record, dict), f"run_setting must return a dict, got {record}"
    return record


@pytest.mark.grade("Q31", points=0.5)
def test_q31_record_keys(out):
    """run_setting returns a record with the documented keys and types."""
    record = _run(out)
    missing = [k for k in KEYS if k not in record]
    assert not missing, f"the record lacks {missing} (keys: {sorted(record)})"
    assert isinstance(record["train_loss"], list) and all(_is_number(v) for v in record["train_loss"]), (
        "'train_loss' must be a list of floats, one per epoch")
    for key in ("valid_loss", "bleu", "seconds"):
        assert _is_number(record[key]), f"'{key}' must be a float, got {record[key]!r}"
    assert isinstance(record["diverged"], bool), f"'diverged' must be True or False, got {record['diverged']!r}"
    for key in ("parameters", "epochs"):
        assert isinstance(record[key], int) and not isinstance(record[key], bool), f"'{key}' must be an int"


@pytest.mark.grade("Q31", points=1)
def test_q31_budget_honoured(out):
    """The budget is honoured: seed before building, lr, one loader, every epoch with clip and ratio, greedy evaluation on valid."""
    got = out["q31_run"]
    _run(out)
    events = [e for e in got["events"] if e["event"] != "forward"]
    kinds = [e["event"] for e in events]
    assert "build" in kinds, "run_setting must build the model with build_model(config)"
    build = kinds.index("build")
    seeds = [e for e in events[:build] if e["event"] == "seed"]
    assert seeds and seeds[-1]["seed"] == BUDGET31["seed"], (
        "call set_seed(budget.seed) right before build_model, so that every setting starts from the same weights")
    opt = [e for e in events if e["event"] == "optimizer"]
    assert len(opt) == 1 and opt[0]["lr"] == BUDGET31["lr"], (
        f"make_optimizer(model, budget.lr) once; the learning rates used were {[e['lr'] for e in opt]} for "
        f"lr={BUDGET31['lr']}")
    trains = [e for e in events if e["event"] == "train"]
    assert len(trains) == BUDGET31["epochs"], (
        f"train_epoch must run budget.epochs ({BUDGET31['epochs']}) times, it ran {len(trains)} times")
    assert all(e["clip"] == BUDGET31["clip"] for e in trains), "pass clip=budget.clip to train_epoch"
    assert all(e["ratio"] == BUDGET31["teacher_forcing_ratio"] for e in trains), (
        "pass teacher_forcing_ratio=budget.teacher_forcing_ratio to train_epoch")
    assert all(e["split"] == "train" for e in trains), "train on data.loader(\"train\", ...)"
    assert len({e["loader"] for e in trains}) == 1, (
        "build the training loader once and iterate it every epoch (a new loader each epoch repeats the first "
        "epoch's batches)")
    loaders = {e["id"]: e for e in events if e["event"] == "loader"}
    train_loader = loaders.get(trains[0]["loader"], {})
    assert train_loader.get("batch_size") == BUDGET31["batch_size"] and train_loader.get("seed") == BUDGET31["seed"], (
        "the training loader must be data.loader(\"train\", budget.batch_size, seed=budget.seed)")
    evals = [e for e in events if e["event"] == "evaluate"]
    assert evals and evals[-1]["split"] == "valid" and evals[-1]["beam_size"] == 1, (
        "evaluate the trained model with greedy decoding on data.loader(\"valid\", ...)")
    assert max(i for i, k in enumerate(kinds) if k == "evaluate") > max(i for i, k in enumerate(kinds) if k == "train"), (
        "evaluate after the last epoch")


@pytest.mark.grade("Q31", points=1)
def test_q31_same_numbers_as_reference(out, ref):
    """Same seed, same calls: run_setting's losses, BLEU and parameter count equal the reference's."""
    got, want = _run(out), ref["q31_run"]["record"]
    assert got["epochs"] == want["epochs"] and len(got["train_loss"]) == len(want["train_loss"]), (
        f"{got['epochs']} epochs recorded, expected {want['epochs']}")
    assert got["parameters"] == want["parameters"], (
        f"'parameters' is {got['parameters']}, but the model has {want['parameters']}: count every parameter "
        "of the model built (sum of p.numel())")
    assert all(_close(a, b) for a, b in zip(got["train_loss"], want["train_loss"])), (
        f"the training losses {got['train_loss']} differ from the expected {want['train_loss']}: seed with "
        "budget.seed before build_model, then make_optimizer and the training loader, as the docstring says")
    assert _close(got["valid_loss"], want["valid_loss"]), (
        f"the validation loss {got['valid_loss']} differs from the expected {want['valid_loss']:.5f} (evaluate "
        "the final model on the valid split)")
    assert _close(got["bleu"], want["bleu"], 1e-3), (
        f"the BLEU {got['bleu']} differs from the expected {want['bleu']:.3f} (greedy, on the valid split, with "
        "the true tokenised references, in the order of data.loader(\"valid\", batch_size, bucket=False))")
    assert got["diverged"] is False, "a run that trained normally must not be marked diverged"


def _diverged_case(out, name: str) -> dict:
    got = out["q31_diverge"][name]
    assert got["raised"] is None, (
        f"a diverging run must be reported, not crash: run_setting raised {got['raised']}")
    assert isinstance(got["record"], dict), f"run_setting must return a dict, got {got['record']}"
    return got


@pytest.mark.grade("Q31", points=0.5)
def test_q31_nan_reported_not_raised(out):
    """A NaN loss (train_epoch raising FloatingPointError) stops the run and is reported as diverged."""
    got = _diverged_case(out, "nan")
    record = got["record"]
    assert record.get("diverged") is True, "when train_epoch raises FloatingPointError, report diverged=True"
    trains = [e for e in got["events"] if e["event"] == "train"]
    assert len(trains) == 2, f"stop training at once after a FloatingPointError (train_epoch ran {len(trains)} times)"
    losses = record.get("train_loss")
    assert isinstance(losses, list) and len(losses) == 2 and _is_number(losses[-1]) and math.isnan(losses[-1]), (
        f"train_loss must hold one entry per epoch run, nan for the epoch that raised: got {losses}")
    assert record.get("epochs") == 2, f"'epochs' counts the epochs run (2 here), got {record.get('epochs')}"
    assert _is_number(record.get("valid_loss")) and math.isnan(record["valid_loss"]) and record.get("bleu") == 0.0, (
        "a diverged run gets valid_loss nan and bleu 0.0")
    assert not any(e["event"] == "evaluate" for e in got["events"]), "do not evaluate a diverged model"


@pytest.mark.grade("Q31", points=0.5)
def test_q31_loss_explosion_reported(out):
    """A finite loss far above a uniform guess from the first epoch on counts as diverged (against log(vocabulary size))."""
    got = _diverged_case(out, "spike")
    record = got["record"]
    trains = [e for e in got["events"] if e["event"] == "train"]
    assert record.get("diverged") is True and len(trains) == 1, (
        f"the first epoch's loss was {10 * math.log(VOCAB):.1f}, ten times log(vocabulary size) = "
        f"{math.log(VOCAB):.2f}: diverged([log(len(data.tgt_vocab)), *train_loss]) is true, so stop after that "
        f"epoch and report diverged=True (got diverged={record.get('diverged')!r} after {len(trains)} epochs)")
    assert record.get("epochs") == 1 and len(record.get("train_loss", [])) == 1, (
        "the epoch that diverged counts: epochs 1 and one training loss")
    huge = _diverged_case(out, "huge")["record"]
    assert huge.get("diverged") is True, "lr=30 makes training diverge: report diverged=True"


@pytest.mark.grade("Q31", points=1)
def test_q31_learning_rate_study_runs(out):
    """learning_rate_study trains one model per learning rate, in order; 30.0 is reported as diverged, the others not."""
    got = out["q31_study"]
    assert got["raised"] is None, f"learning_rate_study raised {got['raised']} (a diverging lr must not crash it)"
    check_shape(got["records"], "lr", LRS)
    builds = [e for e in got["events"] if e["event"] == "build"]
    assert len(builds) == len(LRS), "build a new model for every learning rate"
    assert [e["lr"] for e in got["events"] if e["event"] == "optimizer"] == list(LRS), (
        "each setting's optimizer must use that setting's learning rate")
    flags = [r["diverged"] for r in got["records"]]
    assert flags == [False, False, True], f"diverged flags {flags} for lrs {list(LRS)}: only 30.0 diverges"
    losses = [tuple(r["train_loss"]) for r in got["records"][:2]]
    assert losses[0] != losses[1], "two learning rates gave the same training losses: one model per setting"


@pytest.mark.grade("Q31", points=0.5)
def test_q31_study_passes_lr_only(out):
    """learning_rate_study calls run_setting once per lr with the budget's lr replaced and everything else as given."""
    got = out["q31_study_fake"]
    check_fake_passthrough(got, "lr", LRS)
    for run, lr in zip(calls(got, "run_setting"), LRS):
        changed = differing(got["budget_before"], run["budget"])
        assert changed == ({} if lr == got["budget_before"]["lr"] else {"lr": (got["budget_before"]["lr"], lr)}), (
            f"for lr={lr} the budget given to run_setting differs from the study's budget in {changed}: "
            "replace its lr only")
        assert run["config"] == got["config_before"], "pass the config unchanged to run_setting"
    check_unchanged(got)


# ---------------------------------------------------------------------------------------------------- Q32
SIZES = (4, 12, 8)


@probe("Q32")
def q32_fake(s):
    return study_probe(s, "hidden_size_study", SIZES, fake=True)


@probe("Q32")
def q32_trained(s):
    return study_probe(s, "hidden_size_study", SIZES, fake=False)


@pytest.mark.grade("Q32", points=1)
def test_q32_records(out):
    """One record per hidden size, in order: {"hidden_size": h, **run_setting(...)}."""
    check_fake_passthrough(out["q32_fake"], "hidden_size", SIZES)


@pytest.mark.grade("Q32", points=1.5)
def test_q32_both_hidden_sizes_set(out):
    """Each setting's config has hidden_size = dec_hidden = h and nothing else changed; the budget is passed as given."""
    got = out["q32_fake"]
    runs = calls(got, "run_setting")
    assert len(runs) == len(SIZES), f"run_setting must be called once per size, it was called {len(runs)} times"
    for run, h in zip(runs, SIZES):
        changed = differing(got["config_before"], run["config"])
        want = {"hidden_size": (BASE["hidden_size"], h), "dec_hidden": (BASE["dec_hidden"], h)}
        want = {k: v for k, v in want.items() if v[0] != v[1]}
        assert changed == want, (
            f"for h={h} the config given to run_setting changed {changed}; set both the encoder's hidden_size "
            "and the decoder's dec_hidden to h and leave the rest as it was")
        assert run["budget"] == got["budget_before"], "pass the budget unchanged to run_setting"


@pytest.mark.grade("Q32", points=0.5, requires="test_q32_both_hidden_sizes_set")  # passes when no study runs
def test_q32_config_left_alone(out):
    """The caller's config is not modified by the study."""
    check_unchanged(out["q32_fake"])


@pytest.mark.grade("Q32", points=1)
def test_q32_models_grow(out):
    """Trained for real, every size builds its own model and the parameter counts follow the sizes."""
    got = out["q32_trained"]
    check_shape(got["records"], "hidden_size", SIZES)
    builds = calls(got, "build")
    assert [(b["config"].get("hidden_size"), b["config"].get("dec_hidden")) for b in builds] == [(h, h) for h in SIZES], (
        "the models built must have hidden_size = dec_hidden = each size in turn")
    params = {r["hidden_size"]: r["parameters"] for r in got["records"]}
    assert params[4] < params[8] < params[12], f"the parameter counts {params} do not grow with the hidden size"


# ---------------------------------------------------------------------------------------------------- Q33
RATIOS = (1.0, 0.25, 0.0)


@probe("Q33")
def q33_fake(s):
    return study_probe(s, "teacher_forcing_study", RATIOS, fake=True)


@probe("Q33")
def q33_trained(s):
    return study_probe(s, "teacher_forcing_study", RATIOS, fake=False)


@pytest.mark.grade("Q33", points=1)
def test_q33_records(out):
    """One record per ratio, in order: {"teacher_forcing_ratio": r, **run_setting(...)}."""
    check_fake_passthrough(out["q33_fake"], "teacher_forcing_ratio", RATIOS)


@pytest.mark.grade("Q33", points=1.5)
def test_q33_ratio_in_the_budget(out):
    """Each setting's budget has its teacher_forcing_ratio replaced and nothing else; the config is passed as given."""
    got = out["q33_fake"]
    runs = calls(got, "run_setting")
    assert len(runs) == len(RATIOS), f"run_setting must be called once per ratio, it was called {len(runs)} times"
    for run, ratio in zip(runs, RATIOS):
        changed = differing(got["budget_before"], run["budget"])
        want = {} if ratio == got["budget_before"]["teacher_forcing_ratio"] else {
            "teacher_forcing_ratio": (got["budget_before"]["teacher_forcing_ratio"], ratio)}
        assert changed == want, (
            f"for ratio {ratio} the budget given to run_setting changed {changed}: replace its "
            "teacher_forcing_ratio (dataclasses.replace(budget, teacher_forcing_ratio=ratio)) and nothing else")
        assert run["config"] == got["config_before"], "pass the config unchanged to run_setting"
    check_unchanged(got)


@pytest.mark.grade("Q33", points=1)
def test_q33_ratio_reaches_training(out):
    """Trained for real, each model is trained with its own ratio (what train_epoch receives)."""
    got = out["q33_trained"]
    check_shape(got["records"], "teacher_forcing_ratio", RATIOS)
    ratios = [e["ratio"] for e in calls(got, "train")]
    assert ratios == list(RATIOS), f"train_epoch received the ratios {ratios}, expected {list(RATIOS)}"
    assert len(calls(got, "build")) == len(RATIOS), "train a new model for every ratio"


# ---------------------------------------------------------------------------------------------------- Q34
METHODS = ("dot", "general", "additive", "scaled_dot")


@probe("Q34")
def q34_fake(s):
    return study_probe(s, "score_function_study", METHODS, fake=True)


@probe("Q34")
def q34_trained(s):
    return study_probe(s, "score_function_study", METHODS, fake=False)


@pytest.mark.grade("Q34", points=1)
def test_q34_records(out):
    """One record per method, in order: {"attention": method, **run_setting(...)}."""
    check_fake_passthrough(out["q34_fake"], "attention", METHODS)


@pytest.mark.grade("Q34", points=1.5)
def test_q34_method_in_the_config(out):
    """Each setting's config has its attention set to the method and nothing else changed; the budget as given."""
    got = out["q34_fake"]
    runs = calls(got, "run_setting")
    assert len(runs) == len(METHODS), f"run_setting must be called once per method, it was called {len(runs)} times"
    for run, method in zip(runs, METHODS):
        changed = differing(got["config_before"], run["config"])
        want = {} if method == BASE["attention"] else {"attention": (BASE["attention"], method)}
        assert changed == want, (
            f"for {method!r} the config given to run_setting changed {changed}: set attention to the method "
            "(dataclasses.replace(config, attention=method)) and leave the rest as it was")
        assert run["budget"] == got["budget_before"], "pass the budget unchanged to run_setting"
    check_unchanged(got)


@pytest.mark.grade("Q34", points=1)
def test_q34_each_method_built(out):
    """Trained for real, a model is built with each score function, and their records differ."""
    got = out["q34_trained"]
    check_shape(got["records"], "attention", METHODS)
    built = [b["config"].get("attention") for b in calls(got, "build")]
    assert built == list(METHODS), f"the models built used the score functions {built}, expected {list(METHODS)}"
    results = [(tuple(r["train_loss"]), r["valid_loss"]) for r in got["records"]]
    assert len(set(results)) == len(results), "two score functions gave identical results: one model per method"
