"""The one pagination envelope of the API: `{"items": [...], "count": N, "next": url | null}`.

@router.get("/orders", response=list[OrderOut])
@paginate(Page)
@require_scope("read")
def order_list(request): return orders_for_user(user=request.user)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase, paginate

__all__ = ["Page", "paginate"]

PAGE_SIZE = settings.API_PAGE_SIZE
PAGE_MAX = settings.API_PAGE_MAX


class Page(PaginationBase):
    """limit/offset; `next` is the absolute URL of the following page, null on the last one."""

    class Input(Schema):
        limit: int = Field(PAGE_SIZE, ge=1, le=PAGE_MAX, description="Items per page")
        offset: int = Field(0, ge=0, description="Items to skip")

    class Output(Schema):
        items: list[Any]
        count: int
        next: str | None = Field(None, description="URL of the next page; null on the last page")

    def paginate_queryset(
        self, queryset: QuerySet[Any] | list[Any], pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        count = self._items_count(queryset)  # type: ignore[arg-type]
        start, stop = pagination.offset, pagination.offset + pagination.limit
        next_url = None
        if stop < count:
            query = request.GET.copy()
            query["offset"] = str(stop)
            query["limit"] = str(pagination.limit)
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(sorted(query.items()))}")
        return {"items": list(queryset[start:stop]), "count": count, "next": next_url}
