"""Checks for section 11, experimenting with hyperparameters: Q31 (``run_setting`` and the learning-rate study),
Q32 (hidden size), Q33 (teacher-forcing ratio) and Q34 (score function).

Isolation: every probe puts the grader's own pieces in place of the ones the studies call (``set_seed``,
``build_model``, ``make_optimizer``, ``train_epoch``, ``evaluate``, ``diverged``), a tiny grader model and a
grader corpus (a copy task) with a grader loader, so that a bug in Q4, Q5-Q8, Q18-Q25 costs nothing here,
and every number depends on the student's ``run_setting`` alone: same seed, same calls in the same order, same
numbers as the reference. The probes of Q32-Q34 (and part of Q31's) also replace ``run_setting`` itself, by a
recording fake or by the grader's own, so that a bug in Q31's ``run_setting`` costs Q31 only.

Everything here trains models of a few thousand parameters on 96 sentences: the four questions take a few
seconds of one CPU thread.

The probes these checks read are in ``autograder/probes/experiments.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import math

import pytest

from autograder.probes.experiments import (
    BASE, BUDGET31, LRS, METHODS, RATIOS, SIZES, VOCAB, fake_run_setting_result, plain_record,
)


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


def _run(out, name="q31_run") -> dict:
    got = out[name]
    assert got["raised"] is None, f"run_setting raised {got['raised']}"
    record = got["record"]
    assert isinstance(record, dict), f"run_setting must return a dict, got {record}"
    return record


@pytest.mark.grade("Q31", points=0.5, requires="test_q31_same_numbers_as_reference")  # a record of zeros passes
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
    """The budget is honoured: seed before building, lr, one loader, every epoch with clip and ratio, greedy evaluation on valid."""  # noqa: E501 - a check's name is one line
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
    assert (max(i for i, k in enumerate(kinds) if k == "evaluate")
            > max(i for i, k in enumerate(kinds) if k == "train")), "evaluate after the last epoch"


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
        "the true tokenised references, in the order of data.loader(\"valid\", batch_size))")
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
    """A finite loss far above a uniform guess from the first epoch on counts as diverged (against log(vocabulary size))."""  # noqa: E501 - a check's name is one line
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
    """learning_rate_study trains one model per learning rate, in order; 30.0 is reported as diverged, the others not."""  # noqa: E501 - a check's name is one line
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


@pytest.mark.grade("Q32", points=1)
def test_q32_records(out):
    """One record per hidden size, in order: {"hidden_size": h, **run_setting(...)}."""
    check_fake_passthrough(out["q32_fake"], "hidden_size", SIZES)


@pytest.mark.grade("Q32", points=1.5)
def test_q32_both_hidden_sizes_set(out):
    """Each setting's config has hidden_size = dec_hidden = h and nothing else changed; the budget is passed as given."""  # noqa: E501 - a check's name is one line
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
    built = [(b["config"].get("hidden_size"), b["config"].get("dec_hidden")) for b in builds]
    assert built == [(h, h) for h in SIZES], (
        "the models built must have hidden_size = dec_hidden = each size in turn")
    params = {r["hidden_size"]: r["parameters"] for r in got["records"]}
    assert params[4] < params[8] < params[12], f"the parameter counts {params} do not grow with the hidden size"


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
