"""Reading and cancelling messages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


from app.extensions import db
from app.models import Account, Message, Status, get_owned, scoped, utcnow
from app.services import budgets
from app.services.errors import Conflict, NotFound
from app.services.paging import Page, paginate


@dataclass(frozen=True)
class MessageFilter:
    statuses: tuple[str, ...] = ()
    direction: str | None = None
    customer_ref: str | None = None
    batch_id: str | None = None
    campaign_id: str | None = None
    number: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def list_messages(account: Account, flt: MessageFilter, page: int, page_size: int) -> Page:
    query = _filtered(scoped(Message, account.id), flt)
    return paginate(query, Message.created_at.desc(), Message.id, page=page, page_size=page_size)


def _filtered(query, flt: MessageFilter):
    if flt.statuses:
        query = query.where(Message.status.in_(flt.statuses))
    if flt.direction:
        query = query.where(Message.direction == flt.direction)
    for column, value in ((Message.customer_ref, flt.customer_ref), (Message.batch_id, flt.batch_id),
                          (Message.campaign_id, flt.campaign_id)):
        if value:
            query = query.where(column == value)
    if flt.number:
        query = query.where((Message.to_number == flt.number) | (Message.from_number == flt.number))
    if flt.created_from:
        query = query.where(Message.created_at >= flt.created_from)
    if flt.created_to:
        query = query.where(Message.created_at <= flt.created_to)
    return query


def get_message(account: Account, message_id: str) -> Message:
    message = get_owned(Message, account.id, message_id)
    if message is None:
        raise NotFound(f"Message '{message_id}' not found")
    return message


def cancel_message(account: Account, message_id: str) -> Message:
    """SCHEDULED or QUEUED -> CANCELLED, atomically: if a worker claims the row first, the
    conditional UPDATE changes nothing and the caller learns the status that won."""
    message = get_message(account, message_id)
    result = db.session.execute(
        Message.transition(Status.CANCELLED, Message.__table__.c.id == message.id, now=utcnow())
        .returning(*budgets.GIVE_BACK_COLUMNS)
    )
    cancelled = result.all()
    budgets.give_back(account, cancelled)  # its cost no longer counts against the monthly limit
    db.session.commit()
    db.session.refresh(message)
    if not cancelled:
        raise Conflict(f"Message cannot be cancelled: its status is {message.status} "
                       "(only SCHEDULED or QUEUED messages can be cancelled)", code="not_cancellable")
    return message
