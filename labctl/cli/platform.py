"""``labctl serve``, ``labctl jobs``, ``labctl admin create``, ``labctl db upgrade``, ``labctl audit
verify``.

Each works on the database named by ``--database-url`` or ``LABCTL_DATABASE_URL`` (default: a
SQLite file in the user's data directory: the embedded default, zero set-up).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from labctl.cli.console import console, flush
from labctl.errors import LabctlError

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", help="sqlite:///… or postgresql+psycopg://… (default: "
    "LABCTL_DATABASE_URL, else the embedded SQLite file).")]

admin_app = typer.Typer(help="Platform administration.", no_args_is_help=True)
db_app = typer.Typer(help="The platform database.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


def _fail(exc: BaseException) -> typer.Exit:
    console(stderr=True).print(f"labctl: {exc}")
    return typer.Exit(2)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64,
        help="API worker processes on the one port (uvicorn's; a dead one is restarted). "
        "More than 1 needs PostgreSQL and no LABCTL_BENCHES (use station agents).")] = 1,
) -> None:
    """Serve the platform's HTTP API (OpenAPI at /docs) until Ctrl-C.

    The background jobs (daily due notices, audit checkpoints) run in the server, each once
    per day across all workers, unless LABCTL_SCHEDULER=off."""
    from labctl.api import serve as run_server

    try:
        run_server(host=host, port=port, database_url=database_url, workers=workers)
    except LabctlError as exc:
        raise _fail(exc) from None


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="The administrator's login.")],
    full_name: Annotated[str, typer.Option(help="The administrator's name.")],
    organisation_code: Annotated[str, typer.Option(help="Code of the top organisation.")],
    organisation_name: Annotated[str, typer.Option(help="Name of the top organisation.")],
    level: Annotated[str, typer.Option(help="national, provincial, local or industry.")
                     ] = "national",
    country_code: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2.")] = "",
    email: Annotated[str, typer.Option()] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create the first administrator and the organisation it administers.

    The password is read from LABCTL_ADMIN_PASSWORD or asked for (never an option: it would
    stay in the shell history)."""
    from labctl.platform.admin import create_admin

    password = os.environ.get("LABCTL_ADMIN_PASSWORD") or getpass.getpass("password: ")
    try:
        create_admin(username=username, password=password, full_name=full_name,
                     organisation_code=organisation_code, organisation_name=organisation_name,
                     level=level, country_code=country_code, email=email,
                     database_url=database_url)
    except LabctlError as exc:
        raise _fail(exc) from None
    console().print(f"administrator {username} of {organisation_code} created")
    flush()


@admin_app.command("unlock")
def admin_unlock(
    username: Annotated[str | None, typer.Argument(help="The locked username.")] = None,
    address: Annotated[str | None, typer.Option(
        help="A locked client address (too many failed logins from it).")] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Lift a login lock (too many failed logins) before it ends by itself; audited."""
    from labctl.platform.admin import unlock_login

    if not username and not address:
        raise _fail(ValueError("name a username, or --address"))
    try:
        cleared = unlock_login(username=username, address=address, reason=reason,
                               database_url=database_url)
    except LabctlError as exc:
        raise _fail(exc) from None
    what = " and ".join(filter(None, (username, address and f"address {address}")))
    state = "unlocked" if cleared else "unlocked (it had no failed logins recorded)"
    console().print(f"{what}: {state}")
    flush()


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Migrate the database to this labctl's schema (alembic upgrade head)."""
    from labctl.platform.admin import migrate_database

    try:
        migrate_database(database_url)
    except LabctlError as exc:
        raise _fail(exc) from None
    console().print("database schema is current")


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", help="An exported checkpoint (JSON) to check the chain against; "
        "may be repeated.")] = None,
    record_checkpoint: Annotated[bool, typer.Option(
        "--record-checkpoint/--no-record-checkpoint",
        help="Sign the head as a new checkpoint when everything holds.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="The full report as JSON.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Check the audit trail: hash chain, seals, every checked row against the events that
    wrote it, signed checkpoints. Exit 1 and list every problem if any."""
    from labctl.platform.admin import verify_audit

    try:
        docs = [(str(p), json.loads(p.read_text())) for p in checkpoint or []]
        result = verify_audit(database_url, checkpoints=docs,
                              checkpoint_if_clean=record_checkpoint)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    except LabctlError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        if not result.ok:
            raise typer.Exit(1)
        return
    out = console()
    if result.ok:
        out.print(f"audit trail intact: {result.events} events, head {result.head_id} "
                  f"{result.head_hash}; {result.rows_checked} rows explained; "
                  f"{len(result.checkpoints)} checkpoints hold"
                  + (f"; checkpoint {result.new_checkpoint_id} signed"
                     if result.new_checkpoint_id else ""))
        return
    err = console(stderr=True)
    findings = (len(result.seal_problems) + len(result.rows) + result.rows_truncated
                + sum(not c.ok for c in result.checkpoints) + (not result.chain_ok))
    err.print(f"[bold red]AUDIT TRAIL NOT INTACT[/]: {findings} finding(s) in {result.events} "
              "events")
    if not result.chain_ok:
        err.print(f"audit trail BROKEN at event {result.first_bad_id}: {result.problem}")
    for problem in result.seal_problems:
        err.print(f"seal: {problem}")
    for f in result.rows:
        where = f"{f.table} {f.key}" + (f" {f.column}" if f.column else "")
        err.print(f"row {where}: {f.problem}; row says {f.row_value!r}, events say "
                  f"{f.event_value!r}" + (f" (event {f.event_id})" if f.event_id else ""),
                  markup=False)
    if result.rows_truncated:
        err.print(f"… and {result.rows_truncated} more row findings")
    for c in result.checkpoints:
        if not c.ok:
            err.print(f"checkpoint {c.source} (head {c.head_id}, {c.at}): {c.problem}",
                      markup=False)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    export: Annotated[Path | None, typer.Option(
        "--export", help="Also write the signed checkpoint to this JSON file (keep it "
        "outside the database).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Sign the audit chain's head now with the platform's audit key (LABCTL_KEYS_DIR)."""
    from labctl.platform.admin import audit_checkpoint as make

    try:
        doc = make(database_url)
    except LabctlError as exc:
        raise _fail(exc) from None
    text = json.dumps(doc, indent=2)
    if export is not None:
        export.write_text(text + "\n")
        console().print(f"checkpoint of event {doc['head_id']} written to {export}")
    else:
        typer.echo(text)


@audit_app.command("baseline")
def audit_baseline(
    reason: Annotated[str, typer.Option(help="Why the rows are adopted (recorded).")],
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="Only this checked table (repeatable; default: all).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Adopt the rows no audit event explains, once per table: after upgrading a database
    whose events predate the row cross-check (or when a table is newly checked). Run
    `labctl audit verify` first and look at what it lists: what is adopted stops showing."""
    from labctl.platform.admin import audit_baseline as adopt

    actor = f"system:cli:{getpass.getuser()}"
    try:
        adopted = adopt(database_url, reason=reason, actor=actor, tables=table)
    except LabctlError as exc:
        raise _fail(exc) from None
    for name, count in adopted.items():
        console().print(f"{name}: {count} rows adopted")


def jobs(
    job: Annotated[str | None, typer.Option(
        "--job", help="Only this job (due-notices, audit-checkpoint).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000,
                                       help="How many runs, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="The runs as JSON.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The background jobs' runs (the server's scheduler, once per period across all its
    workers): period, state, worker, outcome or error. Exit 1 if the newest run of a job
    failed."""
    from rich.table import Table

    from labctl.platform.admin import job_history
    from labctl.platform.models.jobs import JobState

    try:
        runs = job_history(database_url, job=job, limit=limit)
    except LabctlError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
    else:
        table = Table(title="background job runs")
        for name in ("job", "period (UTC)", "state", "worker", "attempt", "outcome / error"):
            table.add_column(name)
        for r in runs:
            table.add_row(r.job, r.period_start.strftime("%Y-%m-%d %H:%M"), r.state, r.worker,
                          str(r.attempt), r.error or json.dumps(r.outcome, sort_keys=True))
        console().print(table if runs else "no job has run yet", markup=False)
        flush()
    newest: dict[str, str] = {}
    for r in runs:  # newest period first
        newest.setdefault(r.job, r.state)
    if JobState.FAILED.value in newest.values():
        raise typer.Exit(1)


def register_commands(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("jobs")(jobs)
    app.add_typer(admin_app, name="admin")
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
