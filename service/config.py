"""Service settings, read from ``KESU_*`` environment variables (or passed in by the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be told; each field is also ``KESU_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KESU_", extra="ignore", protected_namespaces=())

    models_dir: Path = Path("models")
    model_version: str | None = Field(
        default=None, description="Version folder name under models_dir, or a path; None = models/DEFAULT."
    )
    precision: Literal["int8", "fp32"] = "int8"
    intra_op_threads: int = Field(default=0, ge=0, description="onnxruntime intra-op threads; 0 = all cores.")

    max_batch_items: int = Field(default=256, ge=1)
    max_text_chars: int = Field(default=5000, ge=1)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    micro_batching: bool = True
    micro_batch_max_size: int = Field(default=32, ge=1, description="Texts per model run.")
    micro_batch_max_wait_ms: float = Field(default=4.0, ge=0)

    stream_max_calls: int = Field(default=10_000, ge=1)
    stream_idle_seconds: float = Field(default=1800.0, gt=0)

    feedback_db: Path = Path("data/feedback.db")
    api_key: SecretStr | None = None
    routing_file: Path | None = None
    log_text: bool = False
