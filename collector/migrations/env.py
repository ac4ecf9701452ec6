"""The Alembic environment of the collector's schema (run by Alembic, never imported).

At run time collector.db.open_database hands over its own connection, inside the
transaction that holds the schema lock (`config.attributes["connection"]`): the
migrations then run in that transaction. Developers' `alembic` commands (docs/collector.md)
give a database URL instead, as `-x db=URL`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from collector.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters most things by copying the table: autogenerate writes those
        # changes as batch operations, which do that there and plain ALTERs elsewhere.
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("db")
    if not url:
        raise SystemExit("give the database: alembic -x db=sqlite:///collector.db …")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
