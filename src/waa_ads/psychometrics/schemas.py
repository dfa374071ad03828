"""Replies of the psychometrics routes."""

from __future__ import annotations

from pydantic import BaseModel


class OptionStatisticsRead(BaseModel):
    option: str
    key: bool
    share: float
    upper: float
    lower: float
    point_biserial: float | None
    mean_total: float | None


class ItemStatisticsRead(BaseModel):
    item: str
    presented: int
    max_score: float
    mean: float | None
    facility: float | None
    discrimination: float | None
    point_biserial: float | None
    corrected_item_total: float | None
    alpha_if_deleted: float | None
    options: list[OptionStatisticsRead]
    flags: list[str]


class TestStatisticsRead(BaseModel):
    persons: int
    items: int
    mean: float | None
    sd: float | None
    alpha: float | None
    kr20: float | None
    sem: float | None


class ItemAnalysisRead(BaseModel):
    """Classical item analysis of an administration's scored attempts (docs/psychometrics.md)."""

    administration_id: str
    test: TestStatisticsRead
    items: list[ItemStatisticsRead]
