"""SQLite tables never give a deleted row's id again (AUTOINCREMENT); nothing on PostgreSQL

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _tables_with_integer_ids(bind) -> list[str]:
    """The tables whose primary key is one integer column (the ones AUTOINCREMENT applies to)."""
    inspector = sa.inspect(bind)
    names = []
    for name in inspector.get_table_names():
        key = inspector.get_pk_constraint(name)["constrained_columns"]
        types = {c["name"]: c["type"] for c in inspector.get_columns(name)}
        if name != "alembic_version" and len(key) == 1 and isinstance(types[key[0]], sa.Integer):
            names.append(name)
    return names


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        # PostgreSQL's sequences never re-use an id
        return
    # SQLite can only set AUTOINCREMENT when it creates a table: each is copied into a new one
    # (migrations/env.py turns foreign keys off meanwhile, so nothing cascades)
    for name in _tables_with_integer_ids(bind):
        with op.batch_alter_table(name, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade():
    # an id names a photo in a saved link and an object in the audit log: a deleted latest
    # check-in's id, given again, made an old link show a newer photo
    _rebuild(True)


def downgrade():
    _rebuild(False)
