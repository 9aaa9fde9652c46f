"""The base of every section of the settings (`[detection]`, `[samples]`, `[warehouse]`, ...).

Unknown keys are refused, a section never changes once read, a number is finite (an infinity
turns a check off, a NaN compares false with everything), and true or false is no number
(pydantic would read `spike_z = true` as 1.0)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

_NUMBERS = {int, float, int | None, float | None}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: object, info: ValidationInfo) -> object:
        name = info.field_name
        field = cls.model_fields.get(name) if name else None
        if isinstance(value, bool) and field is not None and field.annotation in _NUMBERS:
            raise ValueError(f"{str(value).lower()} is not a number")
        return value
