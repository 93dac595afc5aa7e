"""Command line of the course package: ``python -m seq2seq COMMAND``.

Commands:
    env     print the environment report (Q1–Q3): Python, pinned packages, chosen device
    demo    the README's main job; for now the environment report and a seeded reproducibility check (Q4)
    check   run the visible sanity checks of one question, e.g. ``python -m seq2seq check Q4``
"""
from __future__ import annotations

import argparse
import sys


def _demo(device: str) -> int:
    import torch

    from seq2seq.environment import environment_report, set_seed

    print(environment_report(device))
    set_seed(2026)
    first = torch.rand(3)
    set_seed(2026)
    again = torch.rand(3)
    print(f"seed 2026   torch.rand(3) = {first.tolist()} twice: "
          f"{'identical' if torch.equal(first, again) else 'DIFFERENT'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seq2seq", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("env", "demo"):
        sub = commands.add_parser(name, help=f"{name} (see the module docstring)")
        sub.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    check = commands.add_parser("check", help="run a question's visible sanity checks")
    check.add_argument("question", help="e.g. Q4, or 'all'")
    args = parser.parse_args(argv)

    if args.command == "env":
        from seq2seq.environment import environment_report

        print(environment_report(args.device))
        return 0
    if args.command == "demo":
        return _demo(args.device)
    from seq2seq.check import check

    return 0 if check(args.question) else 1


if __name__ == "__main__":
    sys.exit(main())
