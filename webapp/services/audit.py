"""The append-only audit log: who did what to whose data, and when."""
from webapp.extensions import db
from webapp.models import AuditEvent, User


def record(action: str, actor: User | None, subject: User | int | None = None,
           obj: object | None = None, detail: dict | None = None) -> AuditEvent:
    """Add an audit event to the session; the caller's commit writes it with the change."""
    subject_id = subject.id if isinstance(subject, User) else subject
    event = AuditEvent(action=action, actor_id=actor.id if actor else None,
                       subject_id=subject_id,
                       object_type=type(obj).__name__.lower() if obj is not None else None,
                       object_id=getattr(obj, "id", None), detail=detail)
    db.session.add(event)
    return event
