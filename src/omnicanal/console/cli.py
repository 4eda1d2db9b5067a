"""`omnicanal users ...`: console users."""

from __future__ import annotations

import typer

app = typer.Typer(help="Console users: store associates and head office.", no_args_is_help=True)
