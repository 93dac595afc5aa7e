"""Validity of the Q31-Q34 graders (hyperparameter studies): stub 0, solution full marks, realistic bugs cost
their own question only, another correct implementation keeps full marks; and the study command's quick size.

The graders train models of a few thousand parameters (the four questions take ~10 s of one thread), so every
mutant is graded on all four questions: a bug in ``run_setting`` (Q31) must not cost Q32-Q34, whose probes put
the grader's own ``run_setting`` or a recording fake in its place.
"""
from __future__ import annotations

import csv

import pytest

from tests.bug_reach import assert_costs_only_its_question
from tests.helpers import SOLUTION, STUB, Mutant, full_marks, mutant, run_seq2seq, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = ["Q31", "Q32", "Q33", "Q34"]
EXP = "seq2seq/experiments.py"


@pytest.fixture(scope="module")
def maximum():
    return full_marks(QUESTIONS)


def test_solution_full_marks_and_stub_zero(maximum):
    assert all(points > 0 for points in maximum.values()), maximum
    assert scores(SOLUTION, QUESTIONS) == maximum
    assert scores(STUB, QUESTIONS) == {q: 0 for q in QUESTIONS}


RUN_LOOP = '''    for _ in range(budget.epochs):
        try:
            train_loss.append(float(train_epoch(model, loader, optimizer, clip=budget.clip,'''

MUTANTS: dict[str, Mutant] = {
    # Q31: run_setting and the learning-rate study
    "Q31 lr not passed to the optimizer": Mutant("Q31", {EXP: [
        ("    optimizer = make_optimizer(model, budget.lr)\n", "    optimizer = make_optimizer(model)\n"),
    ]}),
    "Q31 divergence raises": Mutant("Q31", {EXP: [
        ("        except FloatingPointError:\n            train_loss.append(math.nan)",
         "        except ZeroDivisionError:\n            train_loss.append(math.nan)"),
    ]}),
    "Q31 seed set after building": Mutant("Q31", {EXP: [
        ("    set_seed(budget.seed)\n    model = build_model(config).to(device)\n",
         "    model = build_model(config).to(device)\n    set_seed(budget.seed)\n"),
    ]}),
    "Q31 no uniform baseline": Mutant("Q31", {EXP: [
        ("if diverged([uniform, *train_loss]):", "if diverged(train_loss):"),
    ]}),
    "Q31 new loader every epoch": Mutant("Q31", {EXP: [
        ('    loader = data.loader("train", budget.batch_size, seed=budget.seed)\n', ""),
        ("train_loss.append(float(train_epoch(model, loader, optimizer,",
         'train_loss.append(float(train_epoch(model, data.loader("train", budget.batch_size, seed=budget.seed), '
         "optimizer,"),
    ]}),
    "Q31 ratio not passed to train_epoch": Mutant("Q31", {EXP: [
        (" " * 48 + "teacher_forcing_ratio=budget.teacher_forcing_ratio, device=device,", " " * 48 + "device=device,"),
    ]}),
    "Q31 evaluated on test": Mutant("Q31", {EXP: [
        ('result = evaluate(model, data.loader("valid", budget.batch_size)',
         'result = evaluate(model, data.loader("test", budget.batch_size)'),
    ]}),
    "Q31 study lr ignored": Mutant("Q31", {EXP: [
        ('return [{"lr": lr, **run_setting(data, config, replace(budget, lr=lr), device=device)}',
         'return [{"lr": lr, **run_setting(data, config, budget, device=device)}'),
    ]}),
    # Q32
    "Q32 only the encoder's size": Mutant("Q32", {EXP: [
        ("run_setting(data, replace(config, hidden_size=h, dec_hidden=h), budget,",
         "run_setting(data, replace(config, hidden_size=h), budget,"),
    ]}),
    "Q32 sizes ignored": Mutant("Q32", {EXP: [
        ("run_setting(data, replace(config, hidden_size=h, dec_hidden=h), budget,",
         "run_setting(data, config, budget,"),
    ]}),
    "Q32 config changed in place": Mutant("Q32", {EXP: [
        ('    return [{"hidden_size": h, **run_setting(data, replace(config, hidden_size=h, dec_hidden=h), budget,\n'
         "                                             device=device)} for h in sizes]",
         "    records = []\n    for h in sizes:\n        config.hidden_size = config.dec_hidden = h\n"
         '        records.append({"hidden_size": h, **run_setting(data, config, budget, device=device)})\n'
         "    return records"),
    ]}),
    # Q33
    "Q33 ratio ignored": Mutant("Q33", {EXP: [
        ("**run_setting(data, config, replace(budget, teacher_forcing_ratio=ratio), device=device)",
         "**run_setting(data, config, budget, device=device)"),
    ]}),
    "Q33 ratio inverted": Mutant("Q33", {EXP: [
        ("run_setting(data, config, replace(budget, teacher_forcing_ratio=ratio),",
         "run_setting(data, config, replace(budget, teacher_forcing_ratio=1 - ratio),"),
    ]}),
    # Q34
    "Q34 method ignored": Mutant("Q34", {EXP: [
        ("run_setting(data, replace(config, attention=method), budget",
         'run_setting(data, replace(config, attention="additive"), budget'),
    ]}),
    "Q34 config changed in place": Mutant("Q34", {EXP: [
        ('    return [{"attention": method, **run_setting(data, replace(config, attention=method), budget, '
         'device=device)}\n'
         "            for method in methods]",
         "    records = []\n    for method in methods:\n        config.attention = method\n"
         '        records.append({"attention": method, **run_setting(data, config, budget, device=device)})\n'
         "    return records"),
    ]}),
}


def test_every_question_has_two_mutants():
    for qid in QUESTIONS:
        assert sum(m.qid == qid for m in MUTANTS.values()) >= 2, qid
    assert {m.qid for m in MUTANTS.values()} <= set(QUESTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_loses_points_on_its_question_only(name, tmp_path, reached):
    assert_costs_only_its_question(MUTANTS[name], tmp_path, reached, name)


ALTERNATIVE = '''

def run_setting(data, config, budget, *, device=None, progress=False):  # another order, a while loop, module calls
    from seq2seq import evaluation, training
    from seq2seq.environment import set_seed as seed_everything

    clock = time.time()
    train = data.loader("train", budget.batch_size, seed=budget.seed)  # before seeding: it draws no random numbers
    seed_everything(budget.seed)
    model = build_model(config)
    if device is not None:
        model = model.to(device)
    optimizer = training.make_optimizer(model, lr=budget.lr)
    n_params = sum(p.numel() for p in model.parameters())
    losses, bad, epoch = [], False, 0
    baseline = math.log(len(data.tgt_vocab))
    while epoch < budget.epochs and not bad:
        epoch += 1
        try:
            loss = training.train_epoch(model, train, optimizer, clip=budget.clip, device=device,
                                        teacher_forcing_ratio=budget.teacher_forcing_ratio)
        except FloatingPointError:
            loss = float("nan")
        losses.append(loss)
        bad = math.isnan(loss) or training.diverged([baseline] + losses)
    record = {"train_loss": losses, "diverged": bad, "parameters": n_params, "epochs": epoch,
              "valid_loss": float("nan"), "bleu": 0.0}
    if not bad:
        valid = evaluation.evaluate(model, data.loader("valid", budget.batch_size, bucket=False), data.tgt_vocab,
                                    device=device, beam_size=1,
                                    references=[list(tgt) for _, tgt in data.tokens["valid"]])
        record.update(valid_loss=valid["loss"], bleu=valid["bleu"])
    record["seconds"] = time.time() - clock
    return record


def learning_rate_study(data, config, lrs=(3e-4, 1e-3, 3e-3, 30.0), budget=Budget(), *, device=None):
    from dataclasses import asdict
    records = []
    for lr in lrs:
        result = run_setting(data, config, Budget(**{**asdict(budget), "lr": lr}), device=device)
        records.append(dict(lr=lr, **result))
    return records


def hidden_size_study(data, config, sizes=(32, 64, 128), budget=Budget(), *, device=None):
    import copy
    records = []
    for h in sizes:
        sized = copy.deepcopy(config)
        sized.hidden_size, sized.dec_hidden = h, h
        records.append({"hidden_size": h} | run_setting(data, sized, budget, device=device))
    return records


def teacher_forcing_study(data, config, ratios=(1.0, 0.5, 0.0), budget=Budget(), *, device=None):
    budgets = [replace(budget, teacher_forcing_ratio=r) for r in ratios]
    results = [run_setting(data, config, b, device=device) for b in budgets]
    return [{"teacher_forcing_ratio": r, **res} for r, res in zip(ratios, results)]


def score_function_study(data, config, methods=("dot", "general", "scaled_dot", "additive"), budget=Budget(), *,
                         device=None):
    out = []
    for method in methods:
        record = {"attention": method}
        record.update(run_setting(data, ModelConfig(**{**asdict(config), "attention": method}), budget,
                                  device=device))
        out.append(record)
    return out
'''


def test_independent_correct_implementation_scores_full_marks(tmp_path, maximum):
    sub = mutant(tmp_path, {})
    (sub / EXP).write_text((sub / EXP).read_text() + ALTERNATIVE)
    assert scores(sub, QUESTIONS) == maximum


def test_run_setting_bug_costs_q31_only(tmp_path, maximum):
    """Q32-Q34 replace run_setting with the grader's: even a run_setting that does not run costs them nothing."""
    sub = mutant(tmp_path, {EXP: [("    started = time.perf_counter()\n    device = torch.device(device or \"cpu\")\n",
                                   "    raise NotImplementedError()\n")]})
    got = scores(sub, QUESTIONS)
    assert got["Q31"] < maximum["Q31"] and got["Q31"] > 0, got  # the study's own part still earns its points
    assert {q: got[q] for q in QUESTIONS[1:]} == {q: maximum[q] for q in QUESTIONS[1:]}, got


@pytest.mark.slow
def test_quick_study_command_writes_tables_plots_and_summary(tmp_path):
    done = run_seq2seq(SOLUTION, "experiments", "--size", "quick", "--study", "lr", "--out", str(tmp_path),
                       "--device", "cpu", "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(csv.DictReader(open(tmp_path / "lr.csv", encoding="utf-8")))
    assert [float(r["lr"]) for r in rows] == [1e-3, 1e-2, 30.0]
    assert [r["diverged"] for r in rows] == ["False", "False", "True"]
    assert (tmp_path / "lr.png").stat().st_size > 10_000
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| lr |" in summary and "Diverged (detected and stopped, not crashed): lr = 30" in summary
    assert "tok:none" in summary
