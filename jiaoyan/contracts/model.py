"""The building blocks of a contract: fields with their rules, and the contract itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"


class ContractError(ValueError):
    """A whole file breaks its contract (missing column, unreadable); nothing of it loads."""

    def __init__(self, source: str, message: str, field: str | None = None) -> None:
        self.source = source
        self.field = field
        where = f"{source}: field {field!r}: " if field else f"{source}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Field:
    name: str
    type: pa.DataType
    description: str
    required: bool = True
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None  # regular expression a string value must match

    def rules(self) -> str:
        """The field's rules in words, for the generated documentation."""
        parts = ["required" if self.required else "optional"]
        if self.allowed:
            parts.append("one of " + ", ".join(f"`{v}`" for v in self.allowed))
        if self.min is not None:
            parts.append(f"≥ {self.min:g}")
        if self.max is not None:
            parts.append(f"≤ {self.max:g}")
        if self.pattern:
            parts.append(f"matches `{self.pattern}`")
        return "; ".join(parts)


@dataclass(frozen=True)
class Contract:
    name: str  # also the raw table's name in the warehouse
    description: str
    location: str  # glob of its files inside a batch folder
    format: str  # csv | jsonl | parquet | json
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"contract {self.name}: key fields {missing} are not fields")

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.name, f.type, nullable=not f.required) for f in self.fields])

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"contract {self.name} has no field {name!r}")
