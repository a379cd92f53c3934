"""people whose zone was stored as the tz database's placeholder ("Factory", "localtime") get UTC

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# webapp.services.auth.NOT_PLACES when this was written (a migration keeps its own copy, so a
# later change of the app's list cannot change what this revision did)
NOT_PLACES = ('Factory', 'localtime')


def upgrade():
    # babel's pytz knows neither name, so every dated page failed for a person with one; the
    # settings form accepts neither since 0010's release, and UTC is what sign-up falls back to
    user = sa.table('user', sa.column('timezone', sa.String))
    op.execute(user.update().where(user.c.timezone.in_(NOT_PLACES)).values(timezone='UTC'))


def downgrade():
    # the placeholder zones were never a choice anyone meant: nothing to put back
    pass
