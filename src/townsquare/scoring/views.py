"""What the scoring pages show, built from stored scores: the merchant's explanation (pillars
against peers, metrics against benchmarks, tier, suggestions) and the operator's overview."""

from __future__ import annotations

from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.i18n import N_, gettext
from townsquare.scoring import charts
from townsquare.scoring.model.catalogue import METRICS
from townsquare.scoring.models import MiniAppScore
from townsquare.scoring.pipeline import attr

PILLARS = (("volume", N_("Volume")), ("scale", N_("Scale")), ("quality", N_("Quality")))


def localized(obj: Any, base: str, locale: str) -> str:
    """`obj.<base>_zh` or `_en` (or a {"zh", "en"} dict), for the page's language."""
    lang = "en" if locale == "en" else "zh"
    if isinstance(obj, dict) and lang in obj:  # {"code", "en", "zh"}
        return str(obj[lang] or "")
    value = attr(obj, f"{base}_{lang}", f"{base}_{'zh_cn' if lang == 'zh' else 'en'}", base)
    if isinstance(value, dict):
        value = value.get(lang) or value.get("en") or ""
    return str(value or "")


def metric_labels(locale: str) -> dict[str, tuple[str, str]]:
    """Metric name → (label, unit) from the metrics catalogue."""
    return {
        spec.name: (spec.label_en if locale == "en" else spec.label_zh, spec.unit or "")
        for spec in METRICS
    }


def peer_pillars(db: Session, score: MiniAppScore) -> dict[str, tuple[float | None, float | None]]:
    """Per pillar: the category's median and top quartile in the same cycle."""
    stmt = select(MiniAppScore.volume, MiniAppScore.scale, MiniAppScore.quality).where(
        MiniAppScore.cycle_id == score.cycle_id,
        MiniAppScore.category_code == score.category_code,
        MiniAppScore.state == "scored",
    )
    rows = db.execute(stmt).all()
    out: dict[str, tuple[float | None, float | None]] = {}
    for i, (pillar, _label) in enumerate(PILLARS):
        values: list[float] = sorted(v for r in rows if (v := r[i]) is not None)
        if not values:
            out[pillar] = (None, None)
            continue
        p75 = values[min(len(values) - 1, int(round(0.75 * (len(values) - 1))))]
        out[pillar] = (median(values), p75)
    return out


def metric_rows(score: MiniAppScore, locale: str) -> list[dict[str, Any]]:
    """Each metric: the app's value, shrunk value, the peers' median and top quartile, points."""
    result = score.result or {}
    labels = metric_labels(locale)
    inputs = result.get("metrics") or {}
    adjusted = result.get("adjusted") or {}
    benchmarks = result.get("benchmarks") or {}
    contributions = result.get("contributions") or {}
    names = [n for n in labels if n in benchmarks or n in contributions] or sorted(
        set(benchmarks) | set(contributions)
    )
    rows = []
    for name in names:
        label, unit = labels.get(name, (name, ""))
        bench = benchmarks.get(name) or {}
        rows.append(
            {
                "name": name,
                "label": label,
                "unit": unit,
                "value": inputs.get(name),
                "adjusted": adjusted.get(name),
                "median": bench.get("median"),
                "p75": bench.get("p75"),
                "points": contributions.get(name),
            }
        )
    return rows


def fmt(value: Any, unit: str = "") -> str:
    """A metric value for people: rates as percentages, counts without decimals."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, int | float):
        return str(value)
    if unit in ("%", "rate", "share", "ratio") or (unit == "" and 0 < abs(value) < 1):
        return f"{value * 100:.1f}%"
    if unit in ("s", "seconds"):
        return f"{value / 60:.1f} min" if value >= 120 else f"{value:.0f} s"
    if unit == "fen":
        return f"¥{value / 100:,.0f}"
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.2f}"


def interval(result: dict[str, Any] | None) -> tuple[float, float] | None:
    """The (low, high) of a stored score's interval, None when it has none (older cycles)."""
    low, high = (result or {}).get("score_low"), (result or {}).get("score_high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        return float(low), float(high)
    return None


def merchant_view(db: Session, history: list[MiniAppScore], locale: str) -> dict[str, Any]:
    """The context of the merchant's score page (works with no score yet)."""
    latest = history[-1] if history else None
    trend = charts.trend(
        [(s.cycle.as_of.strftime("%m-%d"), s.overall) for s in history],
        label=gettext("Overall score per cycle"),
    )
    context: dict[str, Any] = {
        "score": latest,
        "history": history,
        "trend_chart": trend,
        "pillar_chart": "",
        "metrics": [],
        "suggestions": [],
        "next_tier": [],
        "fmt": fmt,
    }
    if latest is None:
        return context
    peers = peer_pillars(db, latest)
    context["pillar_chart"] = charts.pillars(
        [(gettext(label), getattr(latest, key), *peers[key]) for key, label in PILLARS],
        label=gettext("Pillars against the category median and top quartile"),
    )
    context["metrics"] = metric_rows(latest, locale)
    context["suggestions"] = [
        {"text": localized(s, "text", locale), "points": attr(s, "points_gained", "points")}
        for s in latest.suggestions or []
    ]
    detail = latest.tier_detail or {}
    unmet = attr(detail, "unmet", "unmet_requirements", "next_tier_needs", default=[]) or []
    if isinstance(unmet, dict):
        unmet = unmet.get("en" if locale == "en" else "zh") or []
    context["next_tier"] = [
        localized(u, "text", locale) if isinstance(u, dict) else str(u) for u in unmet
    ]
    context["next_tier_name"] = attr(detail, "next_tier")
    context["percentile"] = attr(detail, "percentile")
    result = latest.result or {}
    context["interval"] = interval(result)
    context["pooled"] = result.get("peer_group") == "pooled"
    context["peer_count"] = result.get("peer_count")
    context["cap"] = (
        result.get("cap") if locale == "en" else result.get("cap_zh") or result.get("cap")
    )
    return context
