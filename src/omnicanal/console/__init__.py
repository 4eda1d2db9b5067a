"""The web console for store associates and head office (server-rendered, Jinja2)."""

from __future__ import annotations

from fastapi import FastAPI


def install_console(app: FastAPI) -> None:
    """Mounts the console's pages, static files and session handling on ``app``."""
