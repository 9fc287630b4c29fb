"""The `files:` and `batches:` sections: where uploaded files' contents live (a directory, or an S3-compatible
bucket) and how big one may be, and how the batch engine runs its lines (docs/batches.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pydantic import Field, model_validator

from babelgate.config.strict import Strict

# OpenAI's own bound on a batch's input file.
DEFAULT_MAX_FILE_BYTES: Final = 200 * 1024 * 1024


def default_files_dir() -> Path:
    """Under the user's state directory (XDG), beside the default SQLite store."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "babelgate" / "files"


class S3FilesConfig(Strict):
    """An S3-compatible bucket (AWS S3, MinIO, R2, GCS's S3 API); credentials from botocore's chain."""

    bucket: str = Field(min_length=1)
    region: str = "us-east-1"
    endpoint_url: str | None = Field(default=None, description="unset: AWS S3 in `region`")
    prefix: str = Field(default="babelgate/files/", description="of every object's key")


class FilesConfig(Strict):
    """Where `/v1/files` keeps contents: `dir` (the default) or `s3`; the records are in the store."""

    dir: Path = Field(default_factory=default_files_dir)
    s3: S3FilesConfig | None = None
    max_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, gt=0, description="largest file an upload may send")

    @model_validator(mode="after")
    def _expand(self) -> FilesConfig:
        object.__setattr__(self, "dir", self.dir.expanduser())
        return self


class BatchesConfig(Strict):
    """The batch engine (`/v1/batches`, `/v1/messages/batches`)."""

    concurrency: int = Field(default=8, ge=1, le=1024, description="lines one instance runs at once")
    max_lines: int = Field(default=50_000, ge=1, description="lines a batch may hold (OpenAI's bound)")
    poll_interval: float = Field(default=30.0, gt=0, description="seconds between polls of a provider's batch")
    lease_seconds: float = Field(
        default=30.0, ge=1, description="how long an instance's claim on a batch's lines lasts without renewal"
    )
