"""Templates in English and French (Jinja2, autoescaped): a subject, a plain text (SMS, push,
the email's text part) and the email's HTML, from one file per template and language."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from omnicanal.orders.wording import pick_locale


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    locale: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("omnicanal.notifications", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=False,
    )


def _block(template: Any, name: str, values: dict[str, Any]) -> str:
    rendered = "".join(template.blocks[name](template.new_context(values)))
    return Markup(rendered).unescape().strip()  # escaped for HTML, plain for subject and text


def render(template: str, locale: str | None, values: dict[str, Any]) -> Rendered:
    lang = pick_locale(locale)
    found = environment().get_template(f"{lang}/{template}.jinja")
    context = {"locale": lang, "name": None, **values}
    return Rendered(
        subject=" ".join(_block(found, "subject", context).split()),
        text=_block(found, "text", context),
        html=found.render(context),
        locale=lang,
    )
