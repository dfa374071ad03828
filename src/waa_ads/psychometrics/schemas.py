"""Replies of the psychometrics routes."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field


class OptionStatisticsRead(BaseModel):
    option: str
    key: bool
    share: float
    upper: float
    lower: float
    point_biserial: float | None
    mean_total: float | None
    groups: list[float] = Field(
        default_factory=list,
        description="Share choosing the option in each fifth of the candidates by total "
        "score, lowest first.",
    )


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


class CalibrationCreate(BaseModel):
    administration_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    model: Literal["rasch", "2pl", "3pl", "gpcm", "grm"] = "2pl"


class ItemCalibrationRead(BaseModel):
    item_version_id: str
    item: str
    a: float
    b: float | list[float]
    d: float | list[float]
    c: float | None
    se: dict[str, float | list[float | None] | None]
    fit: dict[str, float]


class CalibrationRead(BaseModel):
    """A calibration; each item version's ``irt`` now holds its parameters and this
    calibration's summary (docs/psychometrics.md)."""

    id: str
    model: str
    administration_ids: list[str]
    persons: float
    log_likelihood: float
    iterations: int
    converged: bool
    items: list[ItemCalibrationRead]


class DifCreate(BaseModel):
    """A DIF analysis: the reference group, and optionally the groups for this analysis only
    (candidate external id, or candidate id, -> group); without them each candidate's
    stored ``group`` is used."""

    reference: str = Field(min_length=1, max_length=200)
    groups: dict[str, str] | None = Field(default=None, min_length=2, max_length=200_000)


class MantelHaenszelRead(BaseModel):
    alpha: float | None
    delta: float | None
    se_delta: float | None
    chi_square: float | None
    p_value: float | None
    ets_class: Literal["A", "B", "C"] | None


class LogisticDifRead(BaseModel):
    group_effect: float | None
    interaction: float | None
    uniform_chi_square: float | None
    uniform_p_value: float | None
    uniform_delta_r2: float | None
    nonuniform_chi_square: float | None
    nonuniform_p_value: float | None
    nonuniform_delta_r2: float | None
    total_chi_square: float | None
    total_p_value: float | None
    total_delta_r2: float | None
    jodoin_gierl: Literal["A", "B", "C"] | None
    uniform_class: Literal["A", "B", "C"] | None


class ItemDifRead(BaseModel):
    item: str
    mantel_haenszel: MantelHaenszelRead
    logistic: LogisticDifRead


class PolytomousDifRead(BaseModel):
    """An item scored 0..K: Mantel's chi-square and the standardized mean difference
    (focal minus reference at equal total; ``effect`` = SMD / the item's SD) with the
    AA/BB/CC class."""

    item: str
    persons: int
    chi_square: float | None
    p_value: float | None
    smd: float | None
    effect: float | None
    ets_class: Literal["AA", "BB", "CC"] | None


class DifComparisonRead(BaseModel):
    focal: str
    reference_persons: int
    focal_persons: int
    persons_left_out: int
    items: list[ItemDifRead]
    polytomous: list[PolytomousDifRead] = Field(
        default_factory=list, description="Items scored in more than two categories."
    )


class SkippedItemRead(BaseModel):
    item: str
    reason: str


class DifRead(BaseModel):
    """DIF of an administration's right/wrong items (docs/psychometrics.md)."""

    administration_id: str
    reference: str
    items: list[str]
    skipped: list[SkippedItemRead]
    ungrouped: int
    comparisons: list[DifComparisonRead]


class LinkingCreate(BaseModel):
    """Two calibrations as ``calibrate`` prints them (model and items with a, d, c)."""

    form_x: dict[str, Any]
    form_y: dict[str, Any]
    method: Literal["mean-sigma", "mean-mean", "stocking-lord", "haebara"] = "stocking-lord"


class LinkingMethodRead(BaseModel):
    slope: float
    intercept: float
    criterion: float | None


class LinkedItemRead(BaseModel):
    item: str
    a: float
    d: float | list[float]
    b: float | list[float]
    c: float | None


class LinkingRead(BaseModel):
    """Form X put on form Y's scale: theta_Y = slope * theta_X + intercept."""

    model: str
    method: str
    slope: float
    intercept: float
    common_items: list[str]
    methods: dict[str, LinkingMethodRead]
    items: list[LinkedItemRead]


class ItemParametersRead(BaseModel):
    """An item's stored IRT parameters and the calibration they came from."""

    item: str
    item_version_id: str
    model: str
    a: float | None
    b: float | list[float] | None
    d: float | list[float] | None
    c: float | None
    se: dict[str, Any]
    calibration_id: str | None
    calibrated_at: str | None
