"""``flask --app webapp flags sweep``: raise missed-check-in flags, re-check active recoveries."""

import click
from flask import Blueprint

from webapp.extensions import db
from webapp.services.flags import sweep

# the blueprint only carries the `flask flags ...` commands
bp = Blueprint("flags", __name__, cli_group="flags")


@bp.cli.command("sweep")
def sweep_command() -> None:
    """Raise flags for missed check-ins and re-check the others; safe to run from cron."""
    raised, closed = sweep()
    db.session.commit()
    click.echo(f"Raised {len(raised)} flag(s), closed {len(closed)} missed check-in flag(s).")
    for flag in raised:
        click.echo(f"  treatment {flag.treatment_id}: {flag.kind}: {flag.reason}")
