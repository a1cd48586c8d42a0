"""Command-line tools: ``flask --app rehab <command>``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlmodel import Session, col, select

from rehab import db, security
from rehab.models import AuditEvent, Clinic
from rehab.services import accounts, audit
from rehab.services.passwords import password_problem


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(migrate)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_group)
    app.cli.add_command(grant_app_role)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(fhir_export)
    app.cli.add_command(render_worker)


def _read_password() -> str:
    return _read_secret("Password", confirm=True)


def _read_secret(prompt: str, *, confirm: bool = False) -> str:
    """Prompt (twice when ``confirm``) on a terminal; read one line from standard input otherwise (scripts, CI).
    Never an argument: arguments end up in shell histories and process lists."""
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return sys.stdin.readline().rstrip("\r\n")


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True, help="The person's full name, as shown in the app.")
@click.option("--admin", "is_admin", is_flag=True, help="Admin of the clinic: may manage its team and settings.")
@click.option("--clinic", "clinic_name", default=None,
              help="Clinic to join (created when the install has no clinic yet).")
def create_user(email: str, name: str, is_admin: bool, clinic_name: str | None) -> None:
    """Create a therapist or admin account. The password is asked for, never passed as an argument."""
    with db.side_transaction() as session:
        if accounts.email_taken(session, email):
            raise click.ClickException(f"An account with {email} already exists.")
        clinic_id, new_clinic = _choose_clinic(session, clinic_name)
        password = _read_password()
        problem = password_problem(password, email=email, name=name)
        if problem:
            raise click.ClickException(problem)
        user = accounts.create_user(session, security.hasher(), email=email, name=name, password=password,
                                    clinic_ids=[clinic_id], is_admin=is_admin)
        audit.record_event(session, key=security.audit_key(), action="user.create", clinic_id=clinic_id,
                           object_type="user", object_id=user.id)
    # Reported only once committed: a refused password rolls the new clinic back too.
    if new_clinic:
        click.echo(f"Created the clinic {new_clinic!r}. Admins can rename it under Clinic settings.")
    click.echo(f"Created {'admin' if is_admin else 'therapist'} {email}.")


def _choose_clinic(session: Session, clinic_name: str | None) -> tuple[int, str | None]:
    """The named clinic, the only clinic, or a new one when the install has none (then also its name)."""
    clinics = list(session.exec(select(Clinic)))
    if clinic_name:
        named = [clinic for clinic in clinics if clinic.name == clinic_name]
        if named:
            return named[0].id, None
        if clinics:
            raise click.ClickException(f"No clinic is called {clinic_name!r}.")
    elif len(clinics) == 1:
        return clinics[0].id, None
    elif clinics:
        raise click.ClickException("This install has several clinics: choose one with --clinic.")
    clinic = Clinic(name=clinic_name or "My clinic")
    session.add(clinic)
    session.flush()
    return clinic.id, clinic.name


@click.command("migrate")
@with_appcontext
@click.argument("revision", default="head")
def migrate(revision: str) -> None:
    """Bring the database schema up to date (Alembic ``upgrade``)."""
    from rehab.migrate import upgrade

    upgrade(revision)
    click.echo(f"Database is at {revision}.")


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Add a demo clinic with sample patients, only when the database has no accounts."""
    from rehab.demo import DEMO_EMAIL, DEMO_PASSWORD, seed

    with db.side_transaction() as session:
        created = seed(session, hasher=security.hasher())
    if created:
        click.echo("Demo clinic created.")
    click.echo(f"Demo sign-in: {DEMO_EMAIL} / {DEMO_PASSWORD}" if created or _demo_exists() else
               "The database already has accounts; no demo data was added.")


def _demo_exists() -> bool:
    from rehab.demo import DEMO_EMAIL

    with db.side_transaction() as session:
        return accounts.email_taken(session, DEMO_EMAIL)


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
@click.option("--expect", "expected_head", default=None, metavar="HEAD",
              help="A head printed by an earlier run: fail unless that event is still in the chain.")
def audit_verify(expected_head: str | None) -> None:
    """Check the HMAC chain; exit 1 and name the first broken row if any row was altered or removed.

    Prints the chain's head: keep it somewhere the database's users cannot write (a backup log, a ticket).
    Rows removed from the end of the trail leave an intact chain behind; ``--expect`` with a head recorded
    earlier finds that too."""
    session = db.get_session()  # the command's own, in one read: another process may go on writing meanwhile
    report = audit.check_chain(session, key=security.audit_key())
    recorded = audit.position_of(session, expected_head) if expected_head else None
    if report.broken_at is not None:
        raise click.ClickException(f"Audit trail broken at event {report.broken_at}.")
    click.echo(f"Audit trail intact: {_events(report.count)}.")
    click.echo(f"Head: {report.head}" + (f" (event {report.head_id})" if report.head_id else " (empty trail)"))
    if expected_head and expected_head != report.head:
        if recorded is None:
            raise click.ClickException(
                f"The expected head {expected_head} is not in the trail: events were removed or rewritten "
                "since it was recorded.")
        click.echo(f"The expected head is event {recorded}; the trail goes on intact after it, to event "
                   f"{report.head_id}.")


def _events(count: int) -> str:
    return f"{count} event{'' if count == 1 else 's'}"


@audit_group.command("rekey")
@with_appcontext
@click.option("--from-unkeyed", is_flag=True, help="The trail was written before the chain was keyed.")
def audit_rekey(from_unkeyed: bool) -> None:
    """Re-hash the trail under the current AUDIT_KEY after changing the key (or SECRET_KEY, when AUDIT_KEY is
    unset). Reads the old key from standard input (the old SECRET_KEY when the old chain used a derived
    key: prefix it with ``secret:``). Rows that did not verify under the old key keep failing."""
    from rehab.migrate import owner_engine

    old: Callable[[str, AuditEvent], str]
    if from_unkeyed:
        old = audit.legacy_digest
    else:
        typed = _read_secret("Old AUDIT_KEY (or secret:OLD_SECRET_KEY)")
        if not typed:
            raise click.ClickException("No old key was given.")
        old_key = (audit.chain_key(audit_key="", secret_key=typed.removeprefix("secret:"))
                   if typed.startswith("secret:") else audit.chain_key(audit_key=typed, secret_key=""))
        old = audit.keyed_digest(old_key)
    new_key = security.audit_key()
    with owner_engine() as engine, Session(engine) as session:
        if audit.check_chain(session, key=new_key).broken_at is None:
            click.echo("The trail already verifies under the current key: nothing to do.")
            return
        count = audit.rekey(session, old=old, new=audit.keyed_digest(new_key))
        after = audit.check_chain(session, key=new_key)
        session.commit()
    click.echo(f"Re-keyed {_events(count)}.")
    if after.broken_at is not None:
        raise click.ClickException(f"Audit trail broken at event {after.broken_at}: it was under the old key "
                                   "too, or the old key is wrong (nothing that failed before verifies now).")
    click.echo(f"Head: {after.head}")


@click.command("grant-app-role")
@with_appcontext
def grant_app_role() -> None:
    """PostgreSQL: create the app's role (DATABASE_URL's user and password) if missing and grant it what the
    app needs, with no UPDATE or DELETE on the audit trail. Connects as MIGRATION_DATABASE_URL's owner."""
    from sqlalchemy.engine import make_url

    from rehab.migrate import app_role, owner_engine
    from rehab.pg_roles import create_role, grant_app_privileges, role_exists

    role = app_role()
    if role is None:
        raise click.ClickException("Set DATABASE_URL to the app's role and MIGRATION_DATABASE_URL to the owner's "
                                   "(two different PostgreSQL users) first.")
    with owner_engine() as engine, engine.begin() as connection:
        created = not role_exists(connection, role)
        if created:
            create_role(connection, role, make_url(current_app.config["DATABASE_URL"]).password or "")
        grant_app_privileges(connection, role)
    click.echo(f"{'Created' if created else 'Updated'} the role {role}: it may add audit events but not change "
               "or delete them.")


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def backup_command(target: Path) -> None:
    """Back up the database to TARGET while the app keeps running (SQLite backup API, or pg_dump)."""
    from rehab.backup import backup

    backup(current_app.config["DATABASE_URL"], target)
    click.echo(f"Backup written to {target}.")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Replace the database with a backup. Stop the app first: everything since the backup is lost."""
    from rehab.backup import restore

    if not yes:
        click.confirm("This replaces every record with the backup's. Continue?", abort=True)
    restore(current_app.config["DATABASE_URL"], source)
    click.echo(f"Database restored from {source}.")


@click.command("fhir-export")
@with_appcontext
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--clinic", "clinic_name", default=None, help="Only this clinic (default: every clinic, each in "
              "a folder clinic-ID of its own).")
@click.option("--base-url", default="http://localhost:5000/fhir", show_default=True,
              help="The FHIR base URL written into fullUrl and canonical URLs.")
@click.option("--no-pdfs", is_flag=True, help="Leave out the DocumentReferences of sheets and reports.")
def fhir_export(folder: Path, clinic_name: str | None, base_url: str, no_pdfs: bool) -> None:
    """Write each clinic's patients as FHIR NDJSON, one file per resource type (Bulk Data format)."""
    from rehab.views.fhir_bundle import export_clinic

    with db.side_transaction() as session:
        statement = select(Clinic).order_by(col(Clinic.id))
        if clinic_name:
            statement = statement.where(Clinic.name == clinic_name)
        clinics = list(session.exec(statement))
    if not clinics:
        raise click.ClickException(f"No clinic named {clinic_name!r}." if clinic_name else "No clinic yet.")
    for clinic in clinics:
        target = folder if clinic_name else folder / f"clinic-{clinic.id}"
        counts = export_clinic(current_app._get_current_object(), clinic, target,  # type: ignore[attr-defined]  # the proxy's app
                               base_url=base_url.rstrip("/"), with_pdfs=not no_pdfs)
        with db.side_transaction() as session:
            audit.record_event(session, key=security.audit_key(), action="fhir.export", clinic_id=clinic.id,
                               object_type="clinic", object_id=clinic.id)
        summary = ", ".join(f"{count} {kind}" for kind, count in counts.items()) or "no patients"
        click.echo(f"{clinic.name}: {target}: {summary}")


@click.command("render-worker")
@click.option("--threads", default=1, show_default=True,
              help="Sheets rendered at once by this process (rendering is CPU-bound: start one process per core "
                   "instead).")
@with_appcontext
def render_worker(threads: int) -> None:
    """Render the sheets and batch prints waiting in the render queue (RENDER_QUEUE) until stopped.

    `make run` and `make serve` start one; a chain starts them on the machines of its choice (docs/scaling.md)."""
    from rehab.printing import queue, worker

    if queue.is_inline():
        raise click.ClickException("RENDER_QUEUE is inline: sheets render in the page requests, no worker needed.")
    click.echo(f"Render worker {worker.worker_name()}: waiting for sheets (Ctrl+C to stop).")
    worker.run_worker(current_app._get_current_object(), threads=threads)  # type: ignore[attr-defined]
