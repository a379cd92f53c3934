"""a flag's and a recovery summary's reason by key, said in each reader's language

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('flag', 'recovery_summary'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('reason_data', sa.JSON(), nullable=True))


def downgrade():
    for table in ('flag', 'recovery_summary'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('reason_data')
