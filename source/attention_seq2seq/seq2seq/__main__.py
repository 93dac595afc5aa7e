"""Command line of the course package: ``python -m seq2seq COMMAND``.

Commands:
    env        print the environment report (Q1–Q3): Python, pinned packages, chosen device
    demo       the README's main job: train on the embedded synthetic corpus (CPU, a few minutes), print test
               BLEU, translate a few sentences, write attention heatmaps and loss curves to runs/demo/
    train      train from a config (``--config run.json`` and/or flags); checkpoints, log.csv in --out-dir
    evaluate   test BLEU of a checkpoint, greedy and beam search, with sacrebleu's signature
    translate  translate sentences (arguments, or one per line on stdin) with a checkpoint
    compare    attention vs. vanilla with the same budget: BLEU by source length (Q27)
    experiments  the hyperparameter studies (Q31-Q34): learning rate, hidden size, teacher forcing, score
               function; --size quick (synthetic, under a minute) or real (Tatoeba); CSV, PNG, summary.md
    check      run the visible sanity checks of one question, e.g. ``python -m seq2seq check Q4``, or of all
    submit     check the package (imports, visible checks, unanswered questions) and write the zip to hand in,
               ``attention_seq2seq_submission.zip`` (``--out PATH`` for another)

Examples:
    python -m seq2seq train --corpus multi30k --src de --tgt en --epochs 10 --out-dir runs/m30k
    python -m seq2seq train --out-dir runs/m30k --max-minutes 30   # stops cleanly, saves last.pt
    python -m seq2seq train --out-dir runs/m30k --resume
    torchrun --standalone --nproc-per-node 2 -m seq2seq train ...   # 2 processes share every batch (DDP)
    python -m seq2seq evaluate runs/m30k/best.pt --beam 5
    python -m seq2seq experiments --size real --study lr --out results
    echo "ein mann fährt fahrrad ." | python -m seq2seq translate runs/m30k/best.pt --heatmaps runs/m30k/maps
"""
from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields


def _config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per RunConfig field (``out_dir`` -> ``--out-dir``); booleans get ``--no-...`` too.
    Defaults are None, so that only the flags given override the JSON file and the dataclass defaults."""
    from seq2seq.config import RunConfig

    hints = typing.get_type_hints(RunConfig)
    group = parser.add_argument_group("run config (see seq2seq.config.RunConfig)")
    for field in fields(RunConfig):
        hint = hints[field.name]
        union = isinstance(hint, types.UnionType)
        kinds = [t for t in typing.get_args(hint) if t is not type(None)] if union else [hint]
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not MISSING else None
        if kinds[0] is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=f"(default {default})")
        else:
            group.add_argument(flag, type=kinds[0], default=None, metavar=kinds[0].__name__.upper(),
                               help=f"(default {default})")
    group.add_argument("--config", help="a JSON file of RunConfig fields; flags override it")


def _run_config(args: argparse.Namespace):
    from seq2seq.config import RunConfig

    given = {f.name: getattr(args, f.name) for f in fields(RunConfig) if getattr(args, f.name) is not None}
    return RunConfig.from_json(args.config, **given) if args.config else RunConfig(**given)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _decoding_flags(parser: argparse.ArgumentParser, beam_help: str) -> None:
    """The flags ``evaluate`` and ``translate`` share: the checkpoint(s), beam, length penalty, device, amp."""
    parser.add_argument("checkpoint")
    parser.add_argument("--ensemble", nargs="+", default=(), metavar="CHECKPOINT",
                        help="more checkpoints (same vocabularies) decoded together with the first, their "
                             "probabilities averaged (seq2seq.ensemble; translate: after the sentences)")
    parser.add_argument("--beam", type=_positive, default=5, help=beam_help)
    parser.add_argument("--length-penalty", type=float, default=None,
                        help="beam search's length penalty alpha (default: the checkpoint's run config)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    parser.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"),
                        help="decode under autocast: bf16 on CUDA or on a CPU with native bfloat16 (faster, "
                             "translations may differ where two words are nearly tied), fp16 on CUDA; float32 "
                             "elsewhere, said in one line (default: off, float32)")


def build_parser(run_config: bool = True) -> argparse.ArgumentParser:
    """The command line: one subcommand per entry of :data:`COMMANDS`.

    ``run_config``: give ``train`` and ``compare`` their flags, one per RunConfig field; that imports most of the
    package, so :func:`main` asks for them only when one of those two commands runs (``check`` and ``submit`` must
    work, and say what is wrong, when a module of the package does not import)."""
    parser = argparse.ArgumentParser(prog="python -m seq2seq", description=__doc__.split("\n\n")[0],
                                     epilog="run 'python -m seq2seq COMMAND --help' for a command's options")
    commands = parser.add_subparsers(dest="command", required=True)
    env = commands.add_parser("env", help="print the environment report")
    env.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    demo = commands.add_parser("demo", help="train, evaluate and translate on the synthetic corpus")
    demo.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N (default: cpu)")
    demo.add_argument("--out-dir", default=None, help="default: runs/demo (the repository's runs/ inside it)")
    demo.add_argument("--threads", type=_positive, default=None,
                      help="torch CPU threads (default 2; 1 where other work shares the cores)")
    train = commands.add_parser("train", help="train a model (under torchrun: on several processes)")
    if run_config:
        _config_flags(train)
    train.add_argument("--resume", action="store_true",
                       help="go on from OUT_DIR/last.pt (also within an epoch, after --max-steps, --max-minutes or "
                            "Ctrl-C: the first Ctrl-C stops after the current step and saves last.pt)")
    compare = commands.add_parser("compare", help="attention vs. vanilla, BLEU by source length")
    if run_config:
        _config_flags(compare)
    evaluate = commands.add_parser("evaluate", help="test BLEU of a checkpoint")
    _decoding_flags(evaluate, "beam size besides greedy (1: greedy only; default 5)")
    evaluate.add_argument("--split", default="test", choices=("train", "valid", "test"))
    evaluate.add_argument("--data-dir", default=None, help="default: the checkpoint's run config's")
    translate = commands.add_parser("translate", help="translate sentences with a checkpoint")
    _decoding_flags(translate, "beam size (default 5, with the checkpoint's length penalty; 1: greedy)")
    translate.add_argument("sentences", nargs="*", help="sentences to translate; none: read lines from stdin")
    translate.add_argument("--heatmaps", default=None, metavar="DIR",
                           help="folder for one attention heatmap PNG per sentence: attention_N.png for sentence N; "
                                "when DIR already holds a run's, attention_N_run2.png, _run3, ... (never "
                                "overwritten)")
    experiments = commands.add_parser("experiments", help="hyperparameter studies (Q31-Q34): CSV, PNG, summary.md")
    experiments.add_argument("--size", default="quick", choices=("quick", "real"),
                             help="quick: synthetic corpus, tiny models (under a minute on a CPU); real: Tatoeba's "
                                  "tutorial subset (minutes per study on a CPU)")
    experiments.add_argument("--study", default="all", choices=("lr", "hidden", "tf", "score", "all"))
    experiments.add_argument("--out", default=None, help="default: results/ (the repository's results/ inside it)")
    experiments.add_argument("--data-dir", default=None, help="where eng-fra.txt is (default: $SEQ2SEQ_DATA_DIR)")
    experiments.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    experiments.add_argument("--threads", type=int, default=None,
                             help="torch CPU threads (default: 1 for quick, whose tiny models gain nothing from more "
                                  "and lose much on a busy machine; torch's default for real)")
    check = commands.add_parser("check", help="run a question's visible sanity checks")
    check.add_argument("question", help="e.g. Q4, or 'all'")
    check.add_argument("-v", "--verbose", action="store_true", help="pytest's whole report, tracebacks included")
    submit = commands.add_parser("submit", help="check the package and write the zip to hand in")
    submit.add_argument("--out", default=None,
                        help="the zip to write, or a folder for it (default: ./attention_seq2seq_submission.zip)")
    return parser


# ================================================================================================== commands
def _env(args: argparse.Namespace) -> int:
    from seq2seq.environment import environment_report

    print(environment_report(args.device))
    return 0


def _check(args: argparse.Namespace) -> int:
    from seq2seq.check import check

    return 0 if check(args.question, verbose=args.verbose) else 1


def _submit(args: argparse.Namespace) -> int:
    from seq2seq.submit import DEFAULT_OUT, submit

    submit(args.out or DEFAULT_OUT)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from seq2seq.runner import demo

    demo(args.device, args.out_dir, **({"threads": args.threads} if args.threads else {}))
    return 0


def _train(args: argparse.Namespace) -> int:
    """Train; 130 (as a shell reports Ctrl-C) when Ctrl-C stopped it, after saving (or a second Ctrl-C)."""
    from seq2seq.runner import train

    config = _run_config(args)
    try:
        stopped = train(config, resume=args.resume)["stopped"]
    except KeyboardInterrupt:
        print(f"interrupted: {config.out_dir}/last.pt holds the last epoch saved; go on with --resume",
              file=sys.stderr)
        return 130
    if stopped == "Ctrl-C":
        print("interrupted by Ctrl-C: the checkpoint above was saved; go on with --resume", file=sys.stderr)
        return 130
    return 0


def _compare(args: argparse.Namespace) -> int:
    from seq2seq.runner import compare

    compare(_run_config(args))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from seq2seq.runner import evaluate_checkpoint

    evaluate_checkpoint(args.checkpoint, split=args.split, beams=tuple(sorted({1, args.beam})), device=args.device,
                        data_dir=args.data_dir, length_penalty=args.length_penalty, ensemble=tuple(args.ensemble),
                        amp=args.amp)
    return 0


def _translate(args: argparse.Namespace) -> int:
    from seq2seq.runner import translate_sentences

    sentences = args.sentences or [line.strip() for line in sys.stdin if line.strip()]
    if not sentences:
        raise ValueError("no sentences: give them as arguments or on stdin")
    translate_sentences(args.checkpoint, sentences, beam_size=args.beam, device=args.device, heatmaps=args.heatmaps,
                        length_penalty=args.length_penalty, amp=args.amp, ensemble=tuple(args.ensemble))
    return 0


def _experiments(args: argparse.Namespace) -> int:
    import torch

    from seq2seq.environment import get_device
    from seq2seq.experiments import STUDIES, default_results_dir, run_studies

    threads = args.threads or (1 if args.size == "quick" else None)
    if threads:
        torch.set_num_threads(threads)
    studies = tuple(STUDIES) if args.study == "all" else (args.study,)
    run_studies(args.size, args.out or default_results_dir(), studies=studies, data_dir=args.data_dir,
                device=get_device(args.device))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "env": _env, "check": _check, "demo": _demo, "train": _train, "compare": _compare, "evaluate": _evaluate,
    "translate": _translate, "experiments": _experiments, "submit": _submit}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; errors a user can fix print one line and return 2."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(run_config=command in ("train", "compare")).parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
