"""The ``abrkit`` command line: one sub-command per module in ``player.commands``.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Exit codes: 0 success, 1 playback/processing failure,
2 bad arguments or bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "play": "player.commands.play",
    "demo": "player.commands.demo",
    "inspect": "player.commands.inspect",
    "replay": "player.commands.replay",
    "serve": "server.commands.serve",
    "package": "server.commands.package",
}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="abrkit",
        description="Adaptive-streaming player, trace replay and reference backend.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object] = {}
    for name, path in COMMANDS.items():
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:  # a command whose module is not built yet
            if exc.name and path.startswith(exc.name):
                continue
            raise
        modules[name] = module
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    module = modules[args.command]
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
