"""Flags for therapists: slow healing, worsening, worrying symptoms, missed check-ins."""
from webapp.models import Flag, Treatment


def refresh(treatment: Treatment) -> list[Flag]:
    """Raise the flags a treatment's latest check-in calls for (in the caller's transaction)."""
    # the therapist workspace fills this in; the check-in flow already calls it before commit
    return []
