"""`omnicanal users ...`: console users."""

from __future__ import annotations

import typer

from omnicanal.settings import get_settings
from omnicanal.shared.errors import DomainError
from omnicanal.storage.database import Database

app = typer.Typer(help="Console users: store associates and head office.", no_args_is_help=True)


def _database() -> Database:
    settings = get_settings()
    return Database(settings.database_url, pool_size=2)


@app.command("create")
def users_create(
    email: str = typer.Option(..., help="The person's work email (their sign-in)."),
    role: str = typer.Option(..., help="associate (one store) or head_office."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters."
    ),
    store: str | None = typer.Option(None, help="The store an associate works in (loc_…)."),
    name: str | None = typer.Option(None, help="Display name; the email's local part if absent."),
    language: str = typer.Option("en", help="en or fr: the console's language for this person."),
) -> None:
    """Create a console user (only a salted scrypt hash of the password is stored)."""
    from omnicanal.console.users import create_user

    db = _database()
    try:
        with db.uow() as uow:
            user = create_user(
                uow,
                email=email,
                display_name=name or email.split("@")[0],
                password=password,
                role=role,
                store_id=store,
                language=language,
            )
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    where = f" at {user.store_id}" if user.store_id else ""
    typer.echo(f"{user.id} {user.email} {user.role.value}{where}")


@app.command("list")
def users_list() -> None:
    """Every console user: id, email, role, store, language."""
    from omnicanal.console.users import list_users

    db = _database()
    try:
        with db.read() as session:
            rows = list_users(session)
    finally:
        db.dispose()
    for row in rows:
        state = "" if row.active else " (disabled)"
        typer.echo(
            f"{row.id}\t{row.email}\t{row.role}\t{row.store_id or '-'}\t{row.language}"
            f"\t{row.display_name}{state}"
        )
