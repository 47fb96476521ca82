"""``sememe info``: what a model is, where it came from, its licence."""

from __future__ import annotations

import argparse
import json

from ..loading import available_models, load
from .common import add_model_options, common_options

#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "show a model's size, dimensions, provenance and licence"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        parents=[common_options()],
        help=HELP,
    )
    add_model_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--list", action="store_true", help="list the registered model names")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(available_models()))
        return 0
    info = load(args.model, dim=args.dim).info()
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        else:
            print(f"{key.ljust(width)}  {value}")
    return 0
