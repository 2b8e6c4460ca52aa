"""The ``wsbench`` command line: ``wsbench data|arch|search|train|eval|quickstart ...``.

Each command group lives in ``wsbench.commands.<name>`` and registers itself on the app; heavy modules
(torch, matplotlib) are imported inside the commands so that ``wsbench --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="wsbench",
    help="Build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks.\n\n"
         "Exit codes: 0 ok, 1 unexpected error, 2 usage or bad input, 3 training diverged, 4 a dependency "
         "(torch) is missing.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

COMMAND_MODULES = ("data", "arch", "search", "train", "evaluate_cmd", "judge", "quickstart", "report", "sweep",
                   "standalone", "presets")


def _version(value: bool) -> None:
    if value:
        from wsbench import __version__

        typer.echo(f"wsbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    """Build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks."""

for _name in COMMAND_MODULES:
    importlib.import_module(f"wsbench.commands.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
