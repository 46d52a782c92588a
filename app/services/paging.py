"""Pages of a list: the one way every list (API and dashboard) is cut into pages."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    page_size: int

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


def paginate(query, *order_by, page: int, page_size: int) -> Page:
    """Page ``page`` (1-based) of ``query`` in ``order_by`` order, with the total count. The order
    must end in a unique column (the id), or rows could appear on two pages or on none."""
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(query.order_by(*order_by).offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(items), total, page, page_size)
