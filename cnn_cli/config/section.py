"""The common base of every config schema: unknown keys are refused, and a validated config is frozen
(a changed value makes a new copy, see `Config.resolved`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)
