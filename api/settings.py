"""Configuration from flags or ``FAIRLEDGER_*`` environment variables (DESIGN §8)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the ledger lives. ``FAIRLEDGER_HOME`` holds keys (``keys/<participant>.pem``)
    and, by default, the SQLite database; ``FAIRLEDGER_DATABASE_URL`` overrides the latter."""

    model_config = SettingsConfigDict(env_prefix="FAIRLEDGER_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.cwd() / ".fairledger")
    database_url: str | None = None
    #: Passphrase for encrypted key files (read from the environment only, never a flag).
    passphrase: str | None = None

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    def key_path(self, participant: str) -> Path:
        return self.keys_dir / f"{participant}.pem"

    @property
    def passphrase_bytes(self) -> bytes | None:
        return self.passphrase.encode() if self.passphrase else None


def load_settings(home: Path | None = None, database_url: str | None = None) -> Settings:
    settings = Settings()
    if home is not None:
        settings.home = home
    if database_url is not None:
        settings.database_url = database_url
    return settings
