"""The operator's scoring configuration: versioned, one version active, every change audited.

The configuration itself is the score model's `ScoringConfig` stored as JSON; this module adds
the cycle schedule (cycle length, metrics window) and the checks an operator's edit must pass.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.errors import ValidationFailed
from townsquare.scoring.model.config import DEFAULT_CONFIG, ScoringConfig
from townsquare.scoring.models import ScoringConfigVersion

CYCLE_DAYS_RANGE = (1, 91)
WINDOW_DAYS_RANGE = (7, 90)
NUMBER_RANGE = (0.0, 1_000_000.0)


def config_from_json(data: dict[str, Any]) -> ScoringConfig:
    """The model's ScoringConfig built from its JSON form (raises on a malformed one)."""
    return ScoringConfig.from_json(data)


def active_version(db: Session) -> ScoringConfigVersion:
    """The active configuration version; version 1 (the model's defaults) is made on first use."""
    found = db.scalar(select(ScoringConfigVersion).where(ScoringConfigVersion.active.is_(True)))
    if found is not None:
        return found
    first = ScoringConfigVersion(
        version=1, config=DEFAULT_CONFIG.to_json(), active=True, note="defaults"
    )
    db.add(first)
    db.flush()
    return first


def active_config(db: Session) -> tuple[ScoringConfigVersion, ScoringConfig]:
    """The active version row and the ScoringConfig it holds."""
    row = active_version(db)
    return row, config_from_json(row.config)


def list_versions(db: Session, *, actor: User | None) -> list[ScoringConfigVersion]:
    """Every configuration version, newest first (operators)."""
    require_role(actor, Role.OPERATOR)
    active_version(db)
    stmt = select(ScoringConfigVersion).order_by(ScoringConfigVersion.version.desc())
    return list(db.scalars(stmt))


def editable_numbers(config_json: dict[str, Any]) -> dict[str, float]:
    """The numeric settings an operator may edit, flattened: {"pillar_weights.volume": 0.3, …}."""
    out: dict[str, float] = {}
    for key, value in config_json.items():
        if _is_number(value):
            out[key] = float(value)
        elif isinstance(value, dict) and value and all(_is_number(v) for v in value.values()):
            for sub, number in value.items():
                out[f"{key}.{sub}"] = float(number)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def save_config(
    db: Session,
    *,
    actor: User | None,
    changes: dict[str, Any],
    cycle_days: int | None = None,
    window_days: int | None = None,
    note: str = "",
) -> ScoringConfigVersion:
    """A new active version: the active one with `changes` (flattened numeric keys) applied."""
    require_role(actor, Role.OPERATOR)
    current = active_version(db)
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in current.config.items()}
    allowed = editable_numbers(current.config)
    for key, raw in changes.items():
        if key not in allowed:
            raise ValidationFailed("Unknown setting {key}.", key=str(key)[:64], field=str(key)[:64])
        number = _number(raw, key)
        top, _, sub = key.partition(".")
        original = current.config[top][sub] if sub else current.config[top]
        whole = isinstance(original, int) and number.is_integer()
        value: float | int = int(number) if whole else number
        if sub:
            data[top][sub] = value
        else:
            data[top] = value
    cycle = _days(cycle_days, current.cycle_days, CYCLE_DAYS_RANGE, "cycle_days")
    window = _days(window_days, current.window_days, WINDOW_DAYS_RANGE, "window_days")
    _check_weights(data)
    try:
        config = config_from_json(data)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            "The scoring model refused this configuration: {problem}", problem=str(exc)[:200]
        ) from exc
    if len(note) > 500:
        raise ValidationFailed("A note is at most {n} characters.", n=500, field="note")
    number = (db.scalar(select(func.max(ScoringConfigVersion.version))) or 0) + 1
    current.active = False
    db.flush()  # one active version at any time
    row = ScoringConfigVersion(
        version=number,
        config=config.to_json(),
        cycle_days=cycle,
        window_days=window,
        active=True,
        created_by_id=actor.id if actor else None,
        note=note.strip(),
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        actor_id=actor.id if actor else None,
        action="scoring.config_saved",
        subject_type="scoring_config",
        subject_id=str(number),
        changes={k: float(v) for k, v in changes.items()},
        cycle_days=cycle,
        window_days=window,
    )
    return row


def _number(raw: Any, key: str) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = math.nan
    low, high = NUMBER_RANGE
    if not math.isfinite(number) or not low <= number <= high:
        raise ValidationFailed(
            "{key} must be a number from {low} to {high}.",
            key=key,
            low=0,
            high=1_000_000,
            field=key,
        )
    return number


def _days(value: int | None, current: int, bounds: tuple[int, int], field: str) -> int:
    if value is None:
        return current
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed("Choose {low} to {high} days.", low=low, high=high, field=field)
    return value


def _check_weights(data: dict[str, Any]) -> None:
    """Weights are shares: a group of weights must not be all zero."""
    for key, value in data.items():
        weights = isinstance(value, dict) and "weight" in key and value
        if weights and sum(float(v) for v in value.values() if _is_number(v)) <= 0:
            raise ValidationFailed("At least one weight in {key} must be above 0.", key=key)
    for key, value in data.items():
        tiers = isinstance(value, dict) and "percentile" in key
        if tiers and any(_is_number(v) and not 0 <= float(v) <= 100 for v in value.values()):
            raise ValidationFailed("Tier percentiles are between 0 and 100.")
