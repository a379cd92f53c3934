"""an invite's name: who the therapist meant it for

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_column('name')
