"""Runtime settings, read from the environment (prefix ``OMNICANAL_``) and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNICANAL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{Path('var') / 'omnicanal.db'}",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    db_pool_size: int = 20
    sql_echo: bool = False

    # Inventory
    default_reservation_ttl_minutes: int = 30
    default_low_stock_threshold: int = 2
    sweeper_interval_seconds: float = 15.0

    # Events and webhooks
    dispatcher_poll_seconds: float = 0.5
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 8
    webhook_backoff_base_seconds: float = 10.0
    consumer_max_attempts: int = 5
    run_background_workers: bool = True

    # API
    idempotency_required_channels: list[str] = ["pos", "app"]
    idempotency_retention_hours: int = 48
    api_key_cache_seconds: float = 10.0
    public_base_url: str = "http://127.0.0.1:8000"

    # Notifications (see docs/notifications.md)
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay for email messages")
    smtp_port: int = 25
    smtp_from: str = "Omnicanal <no-reply@omnicanal.local>"
    smtp_timeout_seconds: float = 10.0
    notifications_email_provider: str = Field(default="smtp", description="smtp | log")
    notifications_sms_webhook_url: str | None = None  # None: SMS go to the log provider
    notifications_push_webhook_url: str | None = None  # None: push go to the log provider
    notifications_webhook_secret: str = "change-me"
    notifications_timezone: str = "Europe/Paris"  # quiet hours when no store is involved
    notifications_review_delay_days: int = 7
    notifications_abandoned_cart_hours: int = 24
    notifications_sender_interval_seconds: float = 2.0

    # Event transport (see docs/deployment.md): None keeps the in-process bus (embedded default)
    nats_url: str | None = Field(default=None, description="nats://host:4222 for JetStream")
    nats_stream: str = "OMNICANAL"

    # Console (see docs/console.md)
    console_secret: str | None = Field(
        default=None, description="Signs console sessions; None: a random key per process"
    )
    console_session_hours: float = 12.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
