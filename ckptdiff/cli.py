"""The ckptdiff command line: parse, call one library function, render, exit.

Errors from the library (CkptdiffError) become one line on stderr and exit status 2; nothing
below this module prints.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

import click

from ckptdiff import __version__
from ckptdiff.errors import CkptdiffError, ExitCode

FORMAT_CHOICES_INSPECT = ("table", "json")


def format_option(choices: tuple[str, ...]) -> Callable:
    """The shared --format flag."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default="table",
        show_default=True,
        help="Output for people (table) or machines.",
    )


def quiet_option(func: Callable) -> Callable:
    """The shared --quiet flag (no progress, no notes on stderr)."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ckptdiff")
def cli() -> None:
    """Checkpoint forensics for TensorFlow and Keras.

    Reads TF2 and TF1 checkpoints (V2 bundles and V1 files), SavedModels, Keras 2 legacy H5,
    Keras 3 .weights.h5 and .keras archives, without executing anything stored in them.

    Exit status: 0 nothing found, 1 findings, 2 unusable input.
    """


@cli.command()
@click.argument("artifact")
@format_option(FORMAT_CHOICES_INSPECT)
@click.option("--filter", "filters", multiple=True, metavar="GLOB", help="Only keys or paths matching GLOB (repeatable).")
@click.option("--no-stats", is_flag=True, help="Skip the per-tensor statistics pass.")
@click.option(
    "--group",
    type=click.Choice(["model", "optimizer", "bookkeeping", "all"]),
    default="all",
    show_default=True,
    help="Which tensors to list.",
)
@quiet_option
def inspect(artifact: str, output_format: str, filters: tuple[str, ...], no_stats: bool, group: str, quiet: bool) -> None:
    """List the tensors of ARTIFACT with shape, dtype, group, size and statistics.

    ARTIFACT is a checkpoint prefix, its .index or .data file, a directory with a
    'checkpoint' state file, a SavedModel directory, a V1 checkpoint, an H5 file or a .keras
    archive.

    Example:

        ckptdiff inspect sample_checkpoints/keras3/model.weights.h5 --group model
    """
    from ckptdiff.inspect import inspect_artifact
    from ckptdiff.readers import open_artifact

    with open_artifact(artifact) as art:
        report = inspect_artifact(art, filters=filters, group=group, with_stats=not no_stats)
    if output_format == "json":
        from ckptdiff.report.json import render_inspect_json

        click.echo(render_inspect_json(report), nl=False)
    else:
        from ckptdiff.report.table import render_inspect_table

        click.echo(render_inspect_table(report), nl=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the CLI and map errors to exit statuses."""
    try:
        cli.main(args=argv, prog_name="ckptdiff", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ckptdiff: aborted", err=True)
        sys.exit(ExitCode.ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.ERROR)
    except CkptdiffError as exc:
        click.echo(f"ckptdiff: error: {_one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except Exception as exc:  # the one-line contract holds even for our own bugs
        if os.environ.get("CKPTDIFF_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"ckptdiff: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(set CKPTDIFF_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(ExitCode.ERROR)
    sys.exit(ExitCode.OK)


def _one_line(message: str) -> str:
    return " ".join(message.split())
