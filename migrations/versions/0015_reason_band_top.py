"""a stored "slower than expected" reason names the band's top, as every other reason does

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 00:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# the sentences whose figure "ceiling" was the expected curve U(t); it is now the band's top,
# 1.25 U(t) (webapp.analysis.course.SLOW_FACTOR when this was written: a migration keeps its
# own copy), which "where up to %(ceiling)s is expected" names in every reason
ON_THE_CURVE = frozenset({'above_curve', 'above_curve_mark'})
SLOW_FACTOR = 1.25


def _rescale(factor: float) -> None:
    """Multiply the figure "ceiling" of every stored reason of ON_THE_CURVE by ``factor``."""
    bind = op.get_bind()
    for name, key in (('flag', 'id'), ('recovery_summary', 'treatment_id')):
        table = sa.table(name, sa.column(key, sa.Integer), sa.column('reason_data', sa.JSON))
        rows = bind.execute(sa.select(table.c[key], table.c.reason_data)
                            .where(table.c.reason_data.is_not(None))).all()
        for row_id, data in rows:
            figures = (data or {}).get('figures') or {}
            if not ON_THE_CURVE.intersection(data.get('keys') or ()) or 'ceiling' not in figures:
                continue
            data = {**data, 'figures': {**figures, 'ceiling': figures['ceiling'] * factor}}
            bind.execute(table.update().where(table.c[key] == row_id).values(reason_data=data))


def upgrade():
    # "3.7, above the expected 2.9" named the curve, "3.4, within the expected 3.6" its band:
    # a reason now says "expected up to" the band's top only
    _rescale(SLOW_FACTOR)


def downgrade():
    _rescale(1 / SLOW_FACTOR)
