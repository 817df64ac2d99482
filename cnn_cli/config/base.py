"""The common base of every config schema: unknown keys are refused, values are checked on assignment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, use_enum_values=True)
