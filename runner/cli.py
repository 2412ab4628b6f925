"""The `verification-runner` command line: parse, build `Settings` once, dispatch, exit.

Exceptions from the core map to the exit-code contract through `errors.failure_of`.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from runner import __version__
from runner.config.settings import Settings, child_environment, load_settings
from runner.contract.errors import failure_of
from runner.contract.exitcodes import ExitCode

PROMOTION_HELP = "Promotion id; overrides KARGO_PROMOTION_ID."


def _settings(promotion: str | None = None, *, say_warnings: bool = True) -> Settings:
    """The settings, once. Variables that look mistyped are named on stderr (`run` puts them
    at the start of its log instead), or are exit 2 with STRICT_SETTINGS=true."""
    settings = load_settings()
    if say_warnings:
        for warning in settings.warnings:
            click.echo(f"verification-runner: WARNING: {warning}", err=True)
    if promotion is not None:
        settings = settings.overridden(kargo_promotion_id=promotion)
    return settings


def _run(action: Callable[[], ExitCode]) -> NoReturn:
    """Run one command and exit with its code; an exception becomes its sentence and code.

    Ctrl-C is exit 130 for every command (`run` and `wait` turn the signal into `Interrupted`
    themselves): click would print "Aborted!" and exit 1, "tests failed".
    """
    try:
        code = action()
    except KeyboardInterrupt:
        click.echo("verification-runner: interrupted (SIGINT)", err=True)
        code = ExitCode.INTERRUPTED
    except Exception as exc:
        failure = failure_of(exc)
        if failure.internal:
            traceback.print_exc()
        click.echo(f"verification-runner: {failure.reason}", err=True)
        code = failure.code
    sys.exit(int(code))


class _ContractGroup(click.Group):
    """Click's own outcomes mapped to the exit-code contract on purpose: a usage error (unknown
    command or option, missing argument) is a configuration error, 2; Ctrl-C before a command
    runs is 130. Left to click they would be 2 by coincidence and "Aborted!" with 1."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as exc:
            exc.show()
            sys.exit(int(ExitCode.CONFIG_ERROR))
        except click.Abort:  # click's word for a KeyboardInterrupt outside `_run`
            click.echo("verification-runner: interrupted (SIGINT)", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        sys.exit(code if isinstance(code, int) else int(ExitCode.PASSED))  # --help, --version


@click.group(cls=_ContractGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="verification-runner")
def main() -> None:
    """Prove a deployment works before it is trusted (the Kargo verification Job payload).

    Configuration comes from the environment; see the README for every variable.
    """


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--promotion", default=None, help=PROMOTION_HELP)
def identity(as_json: bool, promotion: str | None) -> None:
    """Print the resolved run identity and its directories, creating nothing."""
    from runner import commands  # noqa: PLC0415 - per-command imports keep start-up short

    _run(lambda: commands.show_identity(_settings(promotion), as_json=as_json, echo=click.echo))


# No --help/-h of its own: in a Job's args a help text would exit 0, a green verification of
# nothing. They reach Playwright's argument check instead and are refused (exit 2).
@main.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    add_help_option=False,
)
@click.option("--promotion", default=None, help=PROMOTION_HELP)
@click.argument("playwright_args", nargs=-1, type=click.UNPROCESSED)
def run(promotion: str | None, playwright_args: tuple[str, ...]) -> None:
    """Verify: run the acceptance suite for this run's identity and judge the results.

    Extra arguments go to `playwright test`, e.g. `run --grep "should have Events link"`.
    """
    from runner import execution  # noqa: PLC0415 - per-command imports keep start-up short

    _run(
        lambda: execution.run_verification(
            _settings(promotion, say_warnings=False),
            playwright_args=playwright_args,
            base_env=child_environment(),
        )
    )


@main.command(
    name="list",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--promotion", default=None, help=PROMOTION_HELP)
@click.argument("playwright_args", nargs=-1, type=click.UNPROCESSED)
def list_command(as_json: bool, promotion: str | None, playwright_args: tuple[str, ...]) -> None:
    """List what `run` would execute, per tree and project, creating nothing.

    Extra arguments filter as they would for `run`, e.g. `list --grep @smoke`. Exit 6 when
    nothing would run.
    """
    from runner import listing  # noqa: PLC0415 - per-command imports keep start-up short

    _run(
        lambda: listing.list_tests(
            _settings(promotion),
            playwright_args=playwright_args,
            base_env=child_environment(),
            as_json=as_json,
            echo=click.echo,
            warn=lambda line: click.echo(line, err=True),
        )
    )


@main.command()
def wait() -> None:
    """Wait until the target is ready, as `run` does first: exit 0, or 4 at the deadline."""
    from runner import readiness  # noqa: PLC0415 - per-command imports keep start-up short

    _run(lambda: readiness.wait_command(_settings(), say=click.echo))


@main.command()
@click.argument("junit", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the summary as JSON to this file.",
)
def report(junit: tuple[Path, ...], summary_json: Path | None) -> None:
    """Judge existing JUnit files (from Playwright or any producer) without running anything."""
    from runner.config.derived import redactor_for  # noqa: PLC0415
    from runner.judging.report import report_junit  # noqa: PLC0415 - per-command imports: fast start

    def action() -> ExitCode:
        settings = _settings()
        return report_junit(
            junit,
            flaky_policy=settings.flaky_policy,
            allow_no_tests=settings.allow_no_tests,
            summary_json=summary_json,
            echo=click.echo,
            redactor=redactor_for(settings, child_environment()),
        )

    _run(action)


@main.command()
@click.option(
    "--dry-run", is_flag=True, help="Print what would be removed and kept; remove nothing."
)
def cleanup(dry_run: bool) -> None:
    """Apply the artifact retention policy (RETENTION_*) to ARTIFACT_ROOT, saying why for each run.

    Exit 0 even when a deletion failed (it is reported and retried by the next cleanup); 3 when
    the artifact root cannot be read.
    """
    from runner import commands  # noqa: PLC0415 - per-command imports keep start-up short

    _run(lambda: commands.cleanup_artifacts(_settings(), dry_run=dry_run, echo=click.echo))


def _rule_ids(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@main.command()
@click.argument("paths", nargs=-1, metavar="[PATH|-]...")
@click.option(
    "-k",
    "--kustomize",
    "kustomizations",
    multiple=True,
    metavar="DIR",
    help="Render DIR with `kubectl kustomize` (else `kustomize build`) and lint the output.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
)
@click.option("--select", multiple=True, metavar="RULE[,RULE]", help="Only these rules.")
@click.option("--ignore", multiple=True, metavar="RULE[,RULE]", help="Not these rules.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--list-rules", is_flag=True, help="Print every rule (why, fix) and exit.")
def lint(
    *,
    paths: tuple[str, ...],
    kustomizations: tuple[str, ...],
    fmt: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    strict: bool,
    list_rules: bool,
) -> None:
    """Find the settings that make a Kargo verification pass when it should fail, or never run.

    PATH is a YAML file, a directory (every .yaml/.yml under it) or `-` for stdin; everything
    given is linted as one set. Exit 0 clean, 1 on an error finding (any finding with
    --strict), 2 on a usage error or unreadable input. Silence one line with a comment
    `# verification-runner: ignore=RULE` on it.
    """
    from runner import lint as linting  # noqa: PLC0415 - per-command imports keep start-up short

    if list_rules:
        _run(lambda: linting.list_rules(fmt=fmt, echo=click.echo))
    if not paths and not kustomizations:
        raise click.UsageError("give a YAML file, a directory, -k DIR, or - for stdin")
    _run(
        lambda: linting.lint_command(
            paths=paths,
            kustomizations=kustomizations,
            read_stdin=sys.stdin.read,
            fmt=fmt,
            select=_rule_ids(select),
            ignore=_rule_ids(ignore),
            strict=strict,
            echo=click.echo,
            notice=lambda text: click.echo(f"verification-runner: note: {text}", err=True),
        )
    )


__all__ = ["ExitCode", "main"]
