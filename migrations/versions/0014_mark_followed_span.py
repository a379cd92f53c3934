"""a followed mark is followed on a span of photos (followed_from, followed_until), not erased

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 23:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _fill() -> None:
    """Give every mark stored before this the span of photos it was followed on."""
    bind = op.get_bind()
    mark = sa.table('mark', sa.column('id', sa.Integer), sa.column('treatment_id', sa.Integer),
                    sa.column('removed_at', sa.DateTime), sa.column('followed_from', sa.DateTime),
                    sa.column('followed_until', sa.DateTime))
    reading = sa.table('mark_reading', sa.column('mark_id', sa.Integer),
                       sa.column('checkin_id', sa.Integer))
    checkin = sa.table('check_in', sa.column('id', sa.Integer),
                       sa.column('treatment_id', sa.Integer), sa.column('taken_at', sa.DateTime))
    audit = sa.table('audit_event', sa.column('action', sa.String),
                     sa.column('object_type', sa.String), sa.column('object_id', sa.Integer),
                     sa.column('detail', sa.JSON))
    first_photo = dict(bind.execute(sa.select(checkin.c.treatment_id, sa.func.min(checkin.c.taken_at))
                                    .group_by(checkin.c.treatment_id)).all())
    first_read = bind.execute(sa.select(reading.c.mark_id, sa.func.min(checkin.c.taken_at))
                              .join(checkin, checkin.c.id == reading.c.checkin_id)
                              .group_by(reading.c.mark_id)).all()
    taken = dict(bind.execute(sa.select(checkin.c.id, checkin.c.taken_at)).all())
    # the photo each mark was stopped on, as the audit recorded it (the latest stop counts)
    stopped_on = {}
    for object_id, detail in bind.execute(sa.select(audit.c.object_id, audit.c.detail).where(
            audit.c.action == 'stop_following_mark', audit.c.object_type == 'mark')):
        if isinstance(detail, dict) and detail.get('checkin_id') in taken:
            stopped_on[object_id] = taken[detail['checkin_id']]
    first_of_mark = dict(first_read)
    for mark_id, treatment_id, removed_at in bind.execute(
            sa.select(mark.c.id, mark.c.treatment_id, mark.c.removed_at)).all():
        # a mark first read on the treatment's first photo was one of the first confirmed
        # (carried to every photo): followed from the start; a mark added later from its photo
        start = first_of_mark.get(mark_id)
        since = None if start is None or start <= first_photo.get(treatment_id, start) else start
        # without its audit row, the moment it was stopped is the nearest we know
        until = stopped_on.get(mark_id, removed_at) if removed_at is not None else None
        if since is not None or until is not None:
            bind.execute(mark.update().where(mark.c.id == mark_id)
                         .values(followed_from=since, followed_until=until))


def upgrade():
    with op.batch_alter_table('mark', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followed_from', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('followed_until', sa.DateTime(), nullable=True))
    _fill()


def downgrade():
    with op.batch_alter_table('mark', schema=None) as batch_op:
        batch_op.drop_column('followed_until')
        batch_op.drop_column('followed_from')
