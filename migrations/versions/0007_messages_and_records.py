"""messages between client and therapist per treatment; issued treatment-mark records; strong
suction widens a treatment's expected window

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('treatment_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=True),
    sa.Column('from_client', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['flag.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['therapist_id'], ['user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_treatment_created', ['treatment_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_therapist_id'), ['therapist_id'], unique=False)

    op.create_table('record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('treatment_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_treatment_id'), ['treatment_id'], unique=False)

    # strong suction now widens the expected window like a risk factor (webapp.services.recovery):
    # treatments recorded before keep their facts and get the window those facts now mean
    op.execute("UPDATE treatment SET expected_days = 10 "
               "WHERE suction = 'strong' AND expected_days < 10")


def downgrade():
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_treatment_id'))
    op.drop_table('record')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_therapist_id'))
        batch_op.drop_index('ix_message_treatment_created')
    op.drop_table('message')
