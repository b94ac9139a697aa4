"""Pieces every entity shares: the ``metadata`` block and JSON-like values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class EntityMetadata:
    """Wristband's ``metadata`` object; ``version`` grows by one on every change."""

    creation_time: datetime
    last_modified_time: datetime
    version: int = 1
    activation_time: datetime | None = None
    deactivation_time: datetime | None = None
    last_verification_time: datetime | None = None

    @classmethod
    def new(cls, now: datetime) -> EntityMetadata:
        return cls(creation_time=now, last_modified_time=now)

    def touch(self, now: datetime) -> None:
        self.last_modified_time = now
        self.version += 1
