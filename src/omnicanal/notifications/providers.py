"""Who carries a message: SMTP for email, a signed webhook for SMS and push gateways, and a log
provider for the demo and tests. The sender only knows the ``Provider`` protocol."""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx2
import structlog

from omnicanal import __version__
from omnicanal.events.webhooks import SIGNATURE_HEADER, sign
from omnicanal.notifications.model import Channel
from omnicanal.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: str
    channel: Channel
    to: str  # an email address, an E.164 phone number, or a customer id for push
    subject: str
    text: str
    html: str | None
    template: str
    locale: str


class ProviderError(Exception):
    """The provider refused or could not be reached; the sender retries with backoff."""


class Provider(Protocol):
    name: str

    def send(self, message: Outgoing) -> str:
        """Hands the message over; returns the provider's reference for it."""
        ...


Providers = Mapping[Channel, Provider]


class SmtpProvider:
    name = "smtp"

    def __init__(self, host: str, port: int, sender: str, *, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout

    def send(self, message: Outgoing) -> str:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(idstring=message.message_id)
        email["X-Omnicanal-Message"] = message.message_id
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        email["Content-Language"] = message.locale  # after: making it multipart moves Content-*
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
        return str(email["Message-ID"])


class WebhookProvider:
    """POSTs ``{message_id, channel, to, subject, text, template, locale}`` signed as our webhooks
    are (``Omnicanal-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")``)."""

    def __init__(
        self, url: str, secret: str, *, client: httpx2.Client | None = None, timeout: float = 5.0
    ) -> None:
        self.name = "webhook"
        self.url = url
        self.secret = secret
        self.client = client or httpx2.Client(follow_redirects=False)
        self.timeout = timeout

    def send(self, message: Outgoing) -> str:
        body = json.dumps(
            {
                "message_id": message.message_id,
                "channel": message.channel.value,
                "to": message.to,
                "subject": message.subject,
                "text": message.text,
                "template": message.template,
                "locale": message.locale,
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"omnicanal-notifications/{__version__}",
            "Omnicanal-Message-Id": message.message_id,
            SIGNATURE_HEADER: sign(self.secret, body, int(time.time())),
        }
        try:
            response = self.client.post(
                self.url, content=body, headers=headers, timeout=self.timeout
            )
        except httpx2.HTTPError as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise ProviderError(f"HTTP {response.status_code}: {response.text[:300]}")
        return response.headers.get("X-Message-Ref", message.message_id)


@dataclass
class LogProvider:
    """Keeps what it was given (the demo shows it; tests read it) and logs one line."""

    name: str = "log"
    sent: list[Outgoing] = field(default_factory=list)

    def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        log.info(
            "notification",
            channel=message.channel.value,
            template=message.template,
            message_id=message.message_id,
        )
        return message.message_id


def providers_from_settings(settings: Settings) -> dict[Channel, Provider]:
    """SMTP (or the log) for email; the configured webhook gateways (or the log) for SMS, push."""
    logged = LogProvider()
    email: Provider = (
        SmtpProvider(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
        )
        if settings.notifications_email_provider == "smtp"
        else logged
    )
    secret = settings.notifications_webhook_secret
    sms_url, push_url = (
        settings.notifications_sms_webhook_url,
        settings.notifications_push_webhook_url,
    )
    return {
        Channel.EMAIL: email,
        Channel.SMS: WebhookProvider(sms_url, secret) if sms_url else logged,
        Channel.PUSH: WebhookProvider(push_url, secret) if push_url else logged,
    }
