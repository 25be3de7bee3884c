"""Alembic environment: the URL comes from the caller (CLI, tests) or TOWNSQUARE_* settings."""

from alembic import context

from townsquare.core.database import make_engine
from townsquare.core.settings import get_settings
from townsquare.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
