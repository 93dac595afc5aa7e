"""Probes of section 11, hyperparameter studies: Q31–Q34.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_experiments.py``.
"""
from __future__ import annotations

import contextlib
import math
import random
from dataclasses import asdict, is_dataclass
from unittest import mock

import sacrebleu
import torch

from autograder.probes.common import PAD
from autograder.probes.standins import StandInModel, TaskData
from autograder.probes.standins import train_epoch as stand_in_epoch
from autograder.probes.training import grader_loss
from autograder.registry import probe, question

question("Q31", "learning-rate study: one run per setting, divergence reported", points=4, timeout=120)
question("Q32", "hidden-size study", points=4, timeout=90)
question("Q33", "teacher-forcing study", points=4, timeout=90)
question("Q34", "attention score-function study", points=4, timeout=90)

# ---------------------------------------------------------------------------------------------------- data
WORDS = 10                # word ids 4 .. 13 on both sides; the target is a copy of the source
VOCAB = 4 + WORDS


class GraderData(TaskData):
    """Stands in for ``seq2seq.data.Data``: the grader's copy task, its loaders recorded."""

    def __init__(self, seed: int = 31, sizes=(96, 24, 24)) -> None:
        super().__init__(seed, sizes, words=WORDS, lengths=(1, 6))
        self.corpus = "grader copy task"

    def loader(self, split: str, batch_size: int, **options):
        loader = super().loader(split, batch_size, **options)
        EVENTS.append({"event": "loader", "split": split, "batch_size": batch_size, "seed": options.get("seed", 0),
                       "id": id(loader)})
        return loader


# ---------------------------------------------------------------------------------------------------- model
class GraderModel(StandInModel):
    """The stand-in model, its calls recorded."""

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        EVENTS.append({"event": "forward", "model": id(self), "ratio": teacher_forcing_ratio,
                       "training": self.training})
        return super().forward(src, src_lengths, tgt, teacher_forcing_ratio)


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
    loss = stand_in_epoch(model, loader, optimizer, grader_loss, clip=clip, teacher_forcing_ratio=teacher_forcing_ratio,
                          check_finite=True)
    return 10 * math.log(VOCAB) if lr == SPIKE_LR else loss


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
        result = grader_evaluate(model, data.loader("valid", budget.batch_size), data.tgt_vocab,
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


# ---------------------------------------------------------------------------------------------------- Q32
SIZES = (4, 12, 8)


@probe("Q32")
def q32_fake(s):
    return study_probe(s, "hidden_size_study", SIZES, fake=True)


@probe("Q32")
def q32_trained(s):
    return study_probe(s, "hidden_size_study", SIZES, fake=False)


# ---------------------------------------------------------------------------------------------------- Q33
RATIOS = (1.0, 0.25, 0.0)


@probe("Q33")
def q33_fake(s):
    return study_probe(s, "teacher_forcing_study", RATIOS, fake=True)


@probe("Q33")
def q33_trained(s):
    return study_probe(s, "teacher_forcing_study", RATIOS, fake=False)


# ---------------------------------------------------------------------------------------------------- Q34
METHODS = ("dot", "general", "additive", "scaled_dot")


@probe("Q34")
def q34_fake(s):
    return study_probe(s, "score_function_study", METHODS, fake=True)


@probe("Q34")
def q34_trained(s):
    return study_probe(s, "score_function_study", METHODS, fake=False)
