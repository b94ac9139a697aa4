"""The list conventions shared by every collection endpoint (Wristband API reference §3.1):
``start_index``/``startIndex`` (1-based; 0 reads as 1), ``count`` (0 → only ``totalResults``),
``sort_by``, ``query``, ``fields``, and the ``{totalResults, startIndex, itemsPerPage, items}``
envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request

from tenantry.core.errors import InvalidRequest
from tenantry.core.ports import ListSpec, Page
from tenantry.protocols.query import (
    AttributeSpec,
    FieldSelection,
    parse_fields,
    parse_query,
    parse_sort,
    select_fields,
)

T = TypeVar("T")
MAX_START_INDEX = 2**31 - 1


@dataclass(frozen=True)
class ListParams:
    spec: ListSpec
    fields: FieldSelection | None


def _int_param(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"The {name} parameter must be an integer") from None


def list_params(attributes: Mapping[str, AttributeSpec]) -> Callable[..., ListParams]:
    """A dependency that reads and validates the list parameters against ``attributes``."""

    def dependency(
        request: Request,
        start_index: Annotated[str | None, Query(description="1-based index of the first item")] = None,
        count: Annotated[str | None, Query(description="page size; 0 returns only totalResults")] = None,
        sort_by: Annotated[str | None, Query(description="attr[:asc|desc],...")] = None,
        query: Annotated[str | None, Query(description="filter expression")] = None,
        fields: Annotated[str | None, Query(description="comma-separated field paths")] = None,
    ) -> ListParams:
        settings = request.app.state.services.settings
        start = _int_param(
            start_index if start_index is not None else request.query_params.get("startIndex"), "start_index"
        )
        size = _int_param(count, "count")
        if start is not None and start < 0:
            raise InvalidRequest("The start_index parameter must be greater than or equal to 1")
        if start is not None and start > MAX_START_INDEX:
            raise InvalidRequest(f"The start_index parameter must be less than or equal to {MAX_START_INDEX}")
        if size is not None and size < 0:
            raise InvalidRequest("The count parameter must be greater than or equal to 0")
        if size is not None and size > settings.max_page_size:
            raise InvalidRequest(f"The count parameter must be less than or equal to {settings.max_page_size}")
        spec = ListSpec(
            filter=parse_query(query, attributes) if query and query.strip() else None,
            sort=parse_sort(sort_by, attributes),
            start_index=max(start or 1, 1),
            count=settings.default_page_size if size is None else size,
        )
        return ListParams(spec, parse_fields(fields))

    return dependency


def envelope(page: Page[T], params: ListParams, render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    items: Iterable[dict[str, Any]] = (select_fields(render(item), params.fields) for item in page.items)
    rendered = list(items)
    return {
        "totalResults": page.total,
        "startIndex": page.start_index,
        "itemsPerPage": len(rendered),
        "items": rendered,
    }


def ListParamsDep(attributes: Mapping[str, AttributeSpec]) -> Any:
    return Annotated[ListParams, Depends(list_params(attributes))]
