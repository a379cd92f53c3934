"""``flask --app webapp readings recompute``: measure again the readings of an older analyzer."""
import click
from flask import Blueprint

from webapp.analysis import ANALYZER_VERSION
from webapp.services.readings import recompute

# the blueprint only carries the `flask readings ...` commands
bp = Blueprint("readings", __name__, cli_group="readings")


@bp.cli.command("recompute")
def recompute_command() -> None:
    """Re-measure every stored reading made by an older analyzer (safe to run again)."""
    click.echo(f"Analyzer {ANALYZER_VERSION}: looking for older readings...")
    done, missing = recompute(click.echo)
    click.echo(f"Recomputed {done} check-in(s)" + (f", {missing} without a photo." if missing
                                                   else "."))
