"""The Alembic migrations build exactly the schema the models describe, on each database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from townsquare.core.database import Database
from townsquare.core.migrate import upgrade
from townsquare.models import metadata


def _fresh(database: Database) -> None:
    with database.engine.begin() as conn:
        if database.is_sqlite:
            return
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


def test_migrations_match_models(database: Database, tmp_path):
    if database.is_sqlite:
        database = Database(f"sqlite:///{tmp_path / 'migrated.db'}")
    _fresh(database)
    upgrade(database.url)
    with database.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
