"""The one settings class: where data lives and how to reach it, read from the environment.

Secrets (S3 keys) are read here and handed to s3fs; they are never logged, put in flow parameters,
prefect.yaml or Parquet.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERSONA_LENS_", extra="ignore")

    root: str = Field("./data", description="Dataset root: a local path or s3://bucket/prefix.")
    cache_dir: Path = Field(Path.home() / ".cache" / "persona-lens",
                            description="Derived artefacts: ONNX exports, converted weights.")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint (e.g. http://127.0.0.1:8333).")
    s3_key: str | None = Field(None, description="S3 access key id (else the usual AWS chain).")
    s3_secret: SecretStr | None = Field(None, description="S3 secret key (else the usual AWS chain).")

    def s3_options(self) -> dict:
        """s3fs keyword arguments. Region comes from AWS_DEFAULT_REGION (see STACK.md)."""
        opts: dict = {}
        if self.s3_endpoint_url:
            opts["endpoint_url"] = self.s3_endpoint_url
        if self.s3_key:
            opts["key"] = self.s3_key
        if self.s3_secret:
            opts["secret"] = self.s3_secret.get_secret_value()
        return opts


def get_settings() -> Settings:
    return Settings()
