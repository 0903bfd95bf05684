"""Alembic's environment for ``tracer serve``: run on the connection :func:`tracer.serve.storage.migrate`
hands it (in its transaction, under its lock), never on a URL of its own."""

from alembic import context

from tracer.serve.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
