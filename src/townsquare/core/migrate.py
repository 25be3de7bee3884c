"""Running Alembic from code (the CLI and tests), against any database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# src/townsquare/core/migrate.py → the repository root holds alembic.ini and migrations/
ROOT = Path(__file__).resolve().parents[3]


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
