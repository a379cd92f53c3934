"""``flask --app webapp demo``: create the demo data (services.demo); ``--if-empty`` does nothing
once anyone has an account (``make run`` calls it that way).
"""

import click
import sqlalchemy as sa
from flask import Blueprint

from webapp.extensions import db
from webapp.models import User, utcnow
from webapp.services.demo import DEMO_PASSWORD, THERAPIST_EMAIL, create_demo

bp = Blueprint("demo", __name__, cli_group=None)


@bp.cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing if any account exists already.")
def demo_command(if_empty: bool) -> None:
    """Create a demo therapist and two demo clients with a week of photos, and print the logins."""
    if db.session.scalar(sa.select(User.id).limit(1)) is not None:
        if if_empty:
            click.echo("Accounts exist already: no demo data added.")
            return
        if db.session.scalar(sa.select(User.id).where(User.email == THERAPIST_EMAIL)):
            raise click.ClickException("The demo data exists already.")
    logins = create_demo(utcnow())
    click.echo("Demo data created. Log in with any of these, password: " + DEMO_PASSWORD)
    for role, email in logins:
        click.echo(f"  {role:<10} {email}")
