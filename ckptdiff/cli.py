"""The ckptdiff command line: parse, call one library function, render, exit.

Errors from the library (CkptdiffError) become one line on stderr and exit status 2; nothing
below this module prints.
"""

from __future__ import annotations

import gc
import os

# ckptdiff parallelises across tensors itself; BLAS threads inside those workers only oversubscribe
# the cores (measured: the init detector's eigvalsh ran 15x slower with OpenBLAS' own threads).
# Set before numpy is first imported; a user's explicit setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from ckptdiff import __version__
from ckptdiff.audit.task import ALLOWABLE
from ckptdiff.errors import BadOption, CkptdiffError, ExitCode, one_line
from ckptdiff.match.interface import LOADER_AUTO, LOADERS

if TYPE_CHECKING:
    from ckptdiff.artifact import Artifact
    from ckptdiff.report.progress import ProgressBar

FORMAT_CHOICES_INSPECT = ("table", "json")
HISTORY_FAIL_ON_CHOICES = ("never_changed", "stopped_changing", "changing", "nonfinite")
AUDIT_ALLOW_CHOICES = ALLOWABLE
"""The statuses `history --fail-on/--allow` accept (ckptdiff.report.interface.ChangeStatus)."""
FAIL_ON_CHOICES = (
    "missing",
    "shape_mismatch",
    "dtype_mismatch",
    "partial",
    "unexpected",
    "fresh",
    "nonfinite",
    "misplaced",
)
"""ckptdiff.commands.check.FAIL_ON_CHOICES, spelled here so that `--help` needs no numpy (a test checks they agree)."""
GROUP_NAMES = ("model", "optimizer", "bookkeeping")
"""ckptdiff.artifact.Group's values, spelled here so that `--help` needs no numpy (a test checks they agree)."""


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


def output_option(func: Callable) -> Callable:
    """The shared --output flag: write the report to FILE instead of standard output."""
    return click.option(
        "--output",
        "-o",
        "output_path",
        metavar="FILE",
        type=click.Path(dir_okay=False, writable=True),
        help="Write the report to FILE instead of standard output (any --format).",
    )(func)


def show_factory_output(live: object, quiet: bool) -> None:
    """What the model factory printed, on stderr (never in the report on stdout)."""
    printed = getattr(live, "printed", "")
    if printed and not quiet:
        lines = printed.rstrip("\n").splitlines()
        click.echo(
            f"ckptdiff: the --model factory printed {len(lines)} line(s), shown here, not in the report:", err=True
        )
        for line in lines:
            click.echo(f"  | {line}", err=True)


def _flat(groups: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Repeated comma-separated values, in order: (("a", "b"), ("c",)) -> ("a", "b", "c")."""
    return tuple(item for group in groups for item in group)


def emit(text: str, output_path: str | None, *, protect: tuple[str, ...] = ()) -> None:
    """Write a rendered report to --output FILE, or to standard output.

    Args:
        protect: the artifact paths of the command: --output never overwrites one of them.
    """
    if output_path is None:
        click.echo(text, nl=False)
        return
    target = os.path.realpath(output_path)
    if any(os.path.exists(p) and os.path.realpath(p) == target for p in protect):
        raise BadOption(f"--output {output_path} is the artifact itself: choose another file")
    try:
        with open(output_path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise BadOption(f"--output {output_path}: cannot write ({exc.strerror})") from None


def wide_option(func: Callable) -> Callable:
    """The shared --wide flag: tables show keys in full instead of fitting the terminal."""
    return click.option(
        "--wide", is_flag=True, help="Show long keys in full (tables fit the terminal width otherwise)."
    )(func)


def table_width(wide: bool) -> int | None:
    """The width tables fit: the terminal's ($COLUMNS wins) when stdout is one; none with --wide or when
    piped or redirected (logs and files keep every key on one line)."""
    if wide or not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def quiet_option(func: Callable) -> Callable:
    """The shared --quiet flag (no progress, no notes on stderr)."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")(func)


def verify_option(func: Callable) -> Callable:
    """The shared --verify flag (check every stored checksum; damage is a finding, exit 1)."""
    return click.option(
        "--verify",
        is_flag=True,
        help=(
            "Also check every tensor's stored CRC32C (V2 bundles), read every HDF5 dataset and zip member; "
            "damaged ones are listed and make the exit status 1."
        ),
    )(func)


def _progress_bar(artifact: Artifact, label: str, quiet: bool, output_format: str) -> ProgressBar:
    """A progress line over the artifact's values, shown on a terminal for table output only."""
    from ckptdiff.report.progress import ProgressBar

    entries = artifact.entries
    total = sum(e.size for e in entries)
    bytes_per_value = max(1, sum(e.byte_size or 0 for e in entries) // max(total, 1))
    return ProgressBar.for_terminal(
        total, label, quiet=quiet, machine_output=output_format != "table", unit_bytes=bytes_per_value
    )


def parse_storage_options(pairs: tuple[str, ...]) -> dict[str, object]:
    """`KEY=VALUE` pairs as fsspec options: JSON values where they parse (true, 30, "x"), dotted keys nest."""
    import json

    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise BadOption(f"--storage-option {pair!r}: write KEY=VALUE (client_kwargs.endpoint_url=http://...)")
        try:
            value: object = json.loads(raw)
        except ValueError:
            value = raw
        target = options
        *parents, leaf = key.split(".")
        for part in parents:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise BadOption(f"--storage-option {pair!r}: {part} is both a value and a group")
            target = nested
        target[leaf] = value
    return options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ckptdiff")
@click.option(
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An fsspec option for s3://, gs://, https:// paths (repeatable; dotted keys nest, values parse as JSON): "
    "--storage-option anon=true, --storage-option client_kwargs.endpoint_url=http://127.0.0.1:9000.",
)
def cli(storage_options: tuple[str, ...]) -> None:
    """Checkpoint forensics for TensorFlow and Keras.

    Reads TF2 and TF1 checkpoints (V2 bundles and V1 files), SavedModels, Keras 2 legacy H5,
    Keras 3 .weights.h5 and .keras archives, without executing anything stored in them. Paths may be
    local, file://, s3://, gs://, https:// or any fsspec URL (the remote extra).

    Exit status: 0 nothing found, 1 findings, 2 unusable input.
    """
    options = parse_storage_options(storage_options)
    if options or "ckptdiff.storage.remote" in sys.modules:  # reset between in-process runs too
        from ckptdiff.storage.remote import configure

        configure(options)


@cli.command()
@click.argument("artifact")
@format_option(("table", "json", "html"))
@click.option(
    "--filter", "filters", multiple=True, metavar="GLOB", help="Only keys or paths matching GLOB (repeatable)."
)
@click.option("--no-stats", is_flag=True, help="Skip the per-tensor statistics pass (and the init verdicts).")
@click.option(
    "--no-init", is_flag=True, help="Statistics only: skip the fresh-init verdicts (their sampling and spectral tests)."
)
@click.option(
    "--group",
    type=click.Choice([*GROUP_NAMES, "all"]),
    default="all",
    show_default=True,
    help="Which tensors to list.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Compute the statistics on this Dask scheduler's workers, by shard and segment (identical results); "
    "the workers open ARTIFACT by its path or URL.",
)
@verify_option
@output_option
@wide_option
@quiet_option
def inspect(
    artifact: str,
    output_format: str,
    filters: tuple[str, ...],
    no_stats: bool,
    no_init: bool,
    group: str,
    scheduler: str | None,
    verify: bool,
    output_path: str | None,
    wide: bool,
    quiet: bool,
) -> None:
    """List the tensors of ARTIFACT with shape, dtype, group, size and statistics.

    ARTIFACT is a checkpoint prefix, its .index or .data file, a directory with a
    'checkpoint' state file, a SavedModel directory, a V1 checkpoint, an H5 file or a .keras
    archive.

    Example:

        ckptdiff inspect sample_checkpoints/keras3/model.weights.h5 --group model

        ckptdiff inspect sample_checkpoints/tf2 --verify --no-stats
    """
    from ckptdiff.commands.inspect import inspect_artifact
    from ckptdiff.formats import open_artifact, verify_artifact

    with open_artifact(artifact) as art:
        bar = _progress_bar(art, "inspect", quiet, output_format)
        try:
            report = inspect_artifact(
                art,
                filters=filters,
                group=group,
                with_stats=not no_stats,
                with_init=not no_init,
                progress=bar,
                scheduler=scheduler,
                histograms=output_format == "html",
            )
        finally:
            bar.close()
        if verify:
            report = replace(report, integrity=(verify_artifact(art),))
    if output_format == "json":
        from ckptdiff.report.json import render_inspect_json

        emit(render_inspect_json(report), output_path, protect=(artifact,))
    elif output_format == "html":
        from ckptdiff.report.html import render_inspect_html

        emit(render_inspect_html(report), output_path, protect=(artifact,))
    else:
        from ckptdiff.report.table import render_inspect_table

        emit(render_inspect_table(report, table_width(wide)), output_path, protect=(artifact,))
    if any(not r.ok for r in report.integrity):
        raise SystemExit(ExitCode.FINDINGS)


class CommaList(click.ParamType):
    """A comma-separated list of choices (`--fail-on missing,partial`); with multiple=True, repeatable."""

    name = "list"

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        items = tuple(v.strip() for v in str(value).split(",") if v.strip())
        bad = [v for v in items if v not in self.choices]
        if bad:
            self.fail(f"{', '.join(bad)} not in {', '.join(self.choices)}", param, ctx)
        return items


def gate_options(choices: tuple[str, ...], defaults: str, allow_example: str) -> Callable:
    """--fail-on and --allow over a command's statuses (repeatable, comma-separated)."""

    def decorate(func: Callable) -> Callable:
        func = click.option(
            "--allow",
            multiple=True,
            type=CommaList(choices),
            metavar="STATUS[,STATUS]",
            help=f"Do not fail on these (repeatable, comma-separated): removes them from the defaults and "
            f"--fail-on ({allow_example}).",
        )(func)
        return click.option(
            "--fail-on",
            multiple=True,
            type=CommaList(choices),
            metavar="STATUS[,STATUS]",
            help=f"Also fail on these (repeatable, comma-separated); adds to the defaults: {defaults}.",
        )(func)

    return decorate


@cli.command()
@click.argument("artifact")
@click.option(
    "--model",
    "model_spec",
    required=True,
    metavar="SPEC",
    help="FILE.py:FACTORY, package.module:FACTORY, a .keras or a full-model .h5.",
)
@click.option(
    "--loader",
    type=click.Choice([LOADER_AUTO, *LOADERS]),
    default="auto",
    show_default=True,
    help="Which real loader to emulate; auto picks the one users call for the artifact kind.",
)
@format_option(("table", "json", "junit", "sarif", "html"))
@gate_options(
    FAIL_ON_CHOICES,
    "missing, shape_mismatch, dtype_mismatch, partial, nonfinite, fresh, misplaced. Also: unexpected",
    "--allow fresh for an intentionally new head",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="GLOB",
    help="Leave out variables or entries whose path or key matches (repeatable).",
)
@verify_option
@output_option
@wide_option
@quiet_option
def check(
    artifact: str,
    model_spec: str,
    loader: str,
    output_format: str,
    fail_on: tuple[tuple[str, ...], ...],
    allow: tuple[tuple[str, ...], ...],
    ignore: tuple[str, ...],
    verify: bool,
    output_path: str | None,
    wide: bool,
    quiet: bool,
) -> None:
    """Report what restoring ARTIFACT into the model --model SPEC would do, variable by variable.

    Every model variable is matched, missing, shape_mismatch or dtype_mismatch; every entry
    nothing consumes is unexpected; layers restored in part are partial. Hints explain scope
    rewrites, renamed layers, shifted layer indices and changed heads.

    Example:

        ckptdiff check sample_checkpoints/scenarios/scope_mistake/model.ckpt \\
            --model sample_checkpoints/scenario_models.py:tf1_module
    """
    from ckptdiff.commands.check import check_restore, effective_fail_on
    from ckptdiff.formats import open_artifact, verify_artifact

    failing = effective_fail_on(_flat(fail_on), _flat(allow))
    from ckptdiff.live.spec import load_live_model

    with open_artifact(artifact) as art:
        integrity = (verify_artifact(art),) if verify else ()
        live = load_live_model(model_spec)
        show_factory_output(live, quiet)
        bar = _progress_bar(art, "check", quiet, output_format)
        try:
            report = check_restore(
                art,
                live,
                loader=loader,
                fail_on=failing,
                ignore=ignore,
                progress=bar,
                histograms=output_format == "html",
            )
        finally:
            bar.close()
        report = replace(report, integrity=integrity)
    if output_format == "json":
        from ckptdiff.report.json import render_check_json

        emit(render_check_json(report), output_path, protect=(artifact,))
    elif output_format == "junit":
        from ckptdiff.report.junit import render_check_junit

        emit(render_check_junit(report), output_path, protect=(artifact,))
    elif output_format == "sarif":
        from ckptdiff.report.sarif import render_check_sarif

        emit(render_check_sarif(report), output_path, protect=(artifact,))
    elif output_format == "html":
        from ckptdiff.report.html import render_check_html

        emit(render_check_html(report), output_path, protect=(artifact,))
    else:
        from ckptdiff.report.table import render_check_table

        emit(render_check_table(report, table_width(wide)), output_path, protect=(artifact,))
    if not report.ok or any(not r.ok for r in report.integrity):
        raise SystemExit(ExitCode.FINDINGS)


@cli.command()
@click.argument("artifact_a")
@click.argument("artifact_b")
@click.option(
    "--model",
    "model_spec",
    metavar="SPEC",
    help="Align both through this live model, as check would restore each into it.",
)
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option(
    "--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance: same when |a-b| <= atol + rtol*|b|."
)
@click.option(
    "--only",
    type=click.Choice(["changed", "same", "added", "removed", "all"]),
    default="all",
    show_default=True,
    help="Which pairs to list (counts always cover all).",
)
@format_option(("table", "json", "html"))
@verify_option
@output_option
@wide_option
@quiet_option
def diff(
    artifact_a: str,
    artifact_b: str,
    model_spec: str | None,
    atol: float,
    rtol: float,
    only: str,
    output_format: str,
    verify: bool,
    output_path: str | None,
    wide: bool,
    quiet: bool,
) -> None:
    """Compare the tensors of two artifacts, of the same or of different formats.

    Pairs are aligned by key, by object-graph path, or by Keras layer name and weight position;
    what cannot be aligned is listed as only_in_a / only_in_b. Exit 0 when every paired tensor is
    the same within tolerance, 1 when one differs.

    Example:

        ckptdiff diff sample_checkpoints/tf2/ckpt-1 sample_checkpoints/tf2/ckpt-2 --only changed
    """
    from ckptdiff.commands.diff import diff_artifacts
    from ckptdiff.formats import open_artifact, verify_artifact

    if atol < 0 or rtol < 0:
        raise BadOption(f"--atol {atol} --rtol {rtol}: tolerances must be >= 0")
    with open_artifact(artifact_a) as a, open_artifact(artifact_b) as b:
        live = None
        if model_spec:
            from ckptdiff.live.spec import load_live_model

            live = load_live_model(model_spec)
            show_factory_output(live, quiet)
        bar = _progress_bar(a, "diff", quiet, output_format)
        try:
            report = diff_artifacts(a, b, atol=atol, rtol=rtol, progress=bar, live=live)
        finally:
            bar.close()
        if verify:
            report = replace(report, integrity=(verify_artifact(a), verify_artifact(b)))
    if output_format == "json":
        from ckptdiff.report.json import render_diff_json

        emit(render_diff_json(report, only), output_path, protect=(artifact_a, artifact_b))
    elif output_format == "html":
        from ckptdiff.report.html import render_diff_html

        emit(render_diff_html(report), output_path, protect=(artifact_a, artifact_b))
    else:
        from ckptdiff.report.table import render_diff_table

        emit(render_diff_table(report, only, table_width(wide)), output_path, protect=(artifact_a, artifact_b))
    if not report.identical or any(not r.ok for r in report.integrity):
        raise SystemExit(ExitCode.FINDINGS)


@cli.command()
@click.argument("run", nargs=-1, required=True)
@click.option(
    "--group",
    type=click.Choice(["model", "optimizer", "all"]),
    default="model",
    show_default=True,
    help="Which variables to follow (the gate applies to model variables).",
)
@format_option(("table", "json", "junit", "html"))
@gate_options(
    HISTORY_FAIL_ON_CHOICES,
    "never_changed, nonfinite. Also: stopped_changing",
    "--allow never_changed for a run with intentionally frozen layers",
)
@click.option(
    "--changed-only",
    is_flag=True,
    help="Say whether each variable changed, not by how much: a V2 checkpoint tensor whose CRC32C differs "
    "is not read (rel_change null).",
)
@output_option
@wide_option
@quiet_option
def history(
    run: tuple[str, ...],
    group: str,
    output_format: str,
    fail_on: tuple[tuple[str, ...], ...],
    allow: tuple[tuple[str, ...], ...],
    changed_only: bool,
    output_path: str | None,
    wide: bool,
    quiet: bool,
) -> None:
    """Report how every variable changed across the checkpoints of one training run.

    RUN is a CheckpointManager directory (its `checkpoint` state file, else ckpt-N by N), a directory
    of per-epoch Keras files (weights.{epoch:02d}.weights.h5, *.keras, *.h5, by the number in the
    name), or two or more artifacts in order. Each variable is never_changed, stopped_changing or
    changing; the first checkpoint holding a NaN or Inf is shown. Exit 1 when a model variable never
    changed or a NaN/Inf appeared (see --allow), 2 on unusable input.

    Example:

        ckptdiff history sample_checkpoints/history/rebound_loop
    """
    from ckptdiff.artifact import Group
    from ckptdiff.commands.history import history_report
    from ckptdiff.formats import open_artifact

    groups = tuple(Group) if group == "all" else (Group(group),)
    report = history_report(
        run, open_artifact, fail_on=_flat(fail_on), allow=_flat(allow), groups=groups, magnitude=not changed_only
    )
    if output_format == "json":
        from ckptdiff.report.json import render_history_json

        emit(render_history_json(report), output_path, protect=run)
    elif output_format == "html":
        from ckptdiff.report.html import render_history_html

        emit(render_history_html(report), output_path, protect=run)
    elif output_format == "junit":
        from ckptdiff.report.junit import render_history_junit

        emit(render_history_junit(report), output_path, protect=run)
    else:
        from ckptdiff.report.table import render_history_table

        emit(render_history_table(report, table_width(wide)), output_path, protect=run)
    if not report.ok:
        raise SystemExit(ExitCode.FINDINGS)


@cli.command()
@click.argument("roots", nargs=-1, required=True)
@click.option(
    "--model",
    "model_spec",
    metavar="SPEC",
    help="Also check each artifact's restore into this live model (built once per worker).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "jsonl", "html"]),
    default="table",
    show_default=True,
    help="table for people; json: one ckptdiff.audit/1 document; jsonl: one line per artifact as it finishes.",
)
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Local worker processes.")
@click.option("--scheduler", metavar="ADDRESS", help="Run the per-artifact tasks on this Dask scheduler (tcp://...).")
@click.option(
    "--allow",
    multiple=True,
    type=CommaList(AUDIT_ALLOW_CHOICES),
    metavar="SOURCE[,SOURCE]",
    help="Do not count findings from these sources: fresh, nonfinite, scan, integrity, check.",
)
@click.option("--include", "include", multiple=True, metavar="GLOB", help="Audit only paths matching (repeatable).")
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB", help="Skip paths matching (repeatable).")
@output_option
@quiet_option
def audit(
    roots: tuple[str, ...],
    model_spec: str | None,
    output_format: str,
    workers: int,
    scheduler: str | None,
    allow: tuple[tuple[str, ...], ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    output_path: str | None,
    quiet: bool,
) -> None:
    """Audit every artifact under ROOTS: folders, globs, s3:// gs:// https:// prefixes.

    Each artifact is found once as a whole (a checkpoint prefix, a SavedModel, model directory,
    preset or Orbax step folder, an H5 or .keras file) and gets inspect --verify (statistics and
    fresh-init verdicts), scan and, with --model, check. A corrupt or hostile artifact is an `error`
    record and never stops the audit. Exit 1 when any artifact has findings or errors.

    Example:

        ckptdiff audit sample_checkpoints/history --workers 2
    """
    from ckptdiff.audit.discover import discover, matches
    from ckptdiff.audit.run import run_audit

    paths = [p for p in discover(list(roots)) if (not include or matches(p, include)) and not matches(p, exclude)]
    if not paths:
        raise BadOption(f"{' '.join(roots)}: no artifacts found")
    from ckptdiff.report.progress import ProgressBar

    bar = ProgressBar.for_terminal(len(paths), "audit", quiet=quiet, machine_output=output_format != "table")
    bar.unit = "artifacts"

    def on_result(record: dict) -> None:
        bar(1)
        if output_format == "jsonl" and output_path is None:
            from ckptdiff.audit.render import render_audit_line

            click.echo(render_audit_line(record))

    from ckptdiff.storage.remote import storage_options

    try:
        executor, records = run_audit(
            paths,
            on_result,
            model_spec=model_spec,
            allow=_flat(allow),
            storage_options=storage_options(),
            workers=workers,
            scheduler=scheduler,
        )
    finally:
        bar.close()
    from ckptdiff.audit import render

    if output_format == "json":
        emit(render.render_audit_json(executor, records), output_path, protect=tuple(paths))
    elif output_format == "html":
        from ckptdiff.report.html import render_audit_html

        emit(render_audit_html(executor, records), output_path, protect=tuple(paths))
    elif output_format == "jsonl":
        if output_path is not None:
            emit("".join(render.render_audit_line(r) + "\n" for r in records), output_path, protect=tuple(paths))
    else:
        emit(render.render_audit_table(executor, records), output_path, protect=tuple(paths))
    if any(r["status"] != "ok" for r in records):
        raise SystemExit(ExitCode.FINDINGS)


@cli.command()
@click.argument("artifact")
@format_option(("table", "json", "sarif"))
@output_option
def scan(artifact: str, output_format: str, output_path: str | None) -> None:
    """Report what loading ARTIFACT would execute, import, write or read, without executing anything.

    Keras configs (legacy H5 model_config/training_config, .keras config.json): Lambda layers,
    modules outside Keras, custom objects, raw-op wrappers. .keras zips: members Keras never writes,
    absolute or '..' paths, declared sizes no compression can produce. SavedModels: file, network,
    console and Python ops a signature, restored function or init op reaches; assets (info).
    Checkpoints hold data only. Exit 0 clean (info findings do not count), 1 findings, 2 unusable input.

    Example:

        ckptdiff scan sample_checkpoints/hostile/lambda.keras
    """
    from ckptdiff.report.scan_render import render_scan_json, render_scan_table
    from ckptdiff.scanning.scanner import scan_artifact

    report = scan_artifact(artifact)
    if output_format == "sarif":
        from ckptdiff.report.sarif import render_scan_sarif

        render = render_scan_sarif
    else:
        render = render_scan_json if output_format == "json" else render_scan_table
    emit(render(report), output_path, protect=(artifact,))
    if not report.clean:
        raise SystemExit(ExitCode.FINDINGS)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the CLI and map errors to exit statuses.

    The cyclic garbage collector is paused for the run: a command allocates hundreds of thousands of small
    acyclic objects per 100,000 entries, and the collector's repeated scans of them took 30% of such an
    inspect (10.5 s against 7.2 s on this project's VM, 2026-12-02). Reference counting still frees
    everything that is not a cycle; `audit` collects after each artifact, and the collector is restored on
    the way out (main is also called in-process, by the tests and by the Python API's users).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _main(argv)
    finally:
        if was_enabled:
            gc.enable()


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="ckptdiff", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ckptdiff: aborted", err=True)
        sys.exit(ExitCode.ERROR)
    except click.ClickException as exc:
        command = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "ckptdiff"
        click.echo(f"ckptdiff: error: {one_line(exc.format_message())} (see '{command} --help')", err=True)
        sys.exit(ExitCode.ERROR)
    except CkptdiffError as exc:
        click.echo(f"ckptdiff: error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except (RecursionError, MemoryError) as exc:
        click.echo(
            f"ckptdiff: error: the input nests too deep or is too large to process safely ({type(exc).__name__}); "
            "run `ckptdiff scan` on it",
            err=True,
        )
        sys.exit(ExitCode.ERROR)
    except Exception as exc:  # the one-line contract holds even for our own bugs
        if os.environ.get("CKPTDIFF_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"ckptdiff: internal error: {type(exc).__name__}: {one_line(str(exc))} (set CKPTDIFF_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(ExitCode.ERROR)
    sys.exit(ExitCode.OK)
