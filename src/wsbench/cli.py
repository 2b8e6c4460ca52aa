"""The ``wsbench`` command line: ``wsbench data|arch|search|train|eval|quickstart ...``.

Each command group lives in ``wsbench.commands.<name>`` and registers itself on the app; heavy modules
(torch, matplotlib) are imported inside the commands so that ``wsbench --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="wsbench",
    help="Build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("data", "arch", "search", "train", "evaluate_cmd", "judge", "quickstart", "report", "sweep",
                   "standalone")

for _name in COMMAND_MODULES:
    importlib.import_module(f"wsbench.commands.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
