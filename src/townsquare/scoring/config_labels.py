"""Labels for the scoring configuration form: every editable number named in words (translated),
grouped the way an operator thinks of them, instead of the raw flattened keys."""

from __future__ import annotations

from townsquare.core.i18n import N_, gettext
from townsquare.scoring.views import PILLARS, metric_labels

GROUPS = (
    ("pillar_weights", N_("Pillar weights")),
    ("metric_weights", N_("Metric weights")),
    ("data", N_("How much data a score needs")),
    ("tiers", N_("Tier thresholds")),
    ("trust", N_("Trust and reaction")),
)
SINGLE = {
    "min_orders": N_("Minimum orders for a score"),
    "min_visits": N_("Minimum visits for a score"),
    "min_days_active": N_("Minimum active days for a score"),
    "rating_prior_strength": N_("Weight of the category average in small rating samples"),
    "response_prior_strength": N_("Weight of the category average in small response samples"),
    "rate_confidence_z": N_("Caution on small-sample rates (z)"),
    "rate_prior_strength": N_("Weight of the category average in small rate samples"),
    "min_city_peers": N_("Minimum peers to compare within a city"),
    "min_category_peers": N_("Minimum peers in a category before it is pooled with all"),
    "absolute_tiers_upto": N_("Categories up to this size get tiers by score, not rank"),
    "interval_z": N_("Width of the score interval (z)"),
    "rate_prior_min": N_("Least weight of the category average in small rate samples"),
}
# trusted signals, recency and interim re-scores (docs/scoring.md, "Trust")
TRUST = {
    "recent_half_life_days": N_("Half-life of past days in the quality rates (days, 0: none)"),
    "self_report_weight": N_("Weight of a self-reported rating nothing can corroborate"),
    "spike_hours": N_("Complaint and refund spike: hours looked at"),
    "spike_min_events": N_("Complaint and refund spike: minimum count"),
    "spike_factor": N_("Complaint and refund spike: times the usual rate"),
}
TIER_SETTINGS = {
    "tier_percentiles": N_("Tier {tier}: from percentile"),
    "tier_scores": N_("Tier {tier}: from score (small categories)"),
    "tier_min_orders": N_("Tier {tier}: minimum orders"),
    "tier_min_quality": N_("Tier {tier}: minimum quality score"),
}


def label_of(key: str, locale: str) -> tuple[str, str]:
    """(group, label) of a flattened setting key; an unknown key keeps its key as the label."""
    head, _, sub = key.partition(".")
    if head == "pillar_weights":
        pillar = dict(PILLARS).get(sub)
        return head, gettext("Weight of {pillar}").format(
            pillar=gettext(pillar) if pillar else sub
        )
    if head == "metric_weights":
        metric = metric_labels(locale).get(sub, (sub, ""))[0]
        return head, gettext("Weight of {metric}").format(metric=metric)
    if head in TIER_SETTINGS:
        return "tiers", gettext(TIER_SETTINGS[head]).format(tier=sub)
    if key in SINGLE:
        return "data", gettext(SINGLE[key])
    if key in TRUST:
        return "trust", gettext(TRUST[key])
    return "data", key


def labelled_groups(
    numbers: dict[str, float], locale: str
) -> list[tuple[str, list[tuple[str, str, float]]]]:
    """[(group label, [(key, label, value), …]), …] in the order of GROUPS."""
    grouped: dict[str, list[tuple[str, str, float]]] = {name: [] for name, _ in GROUPS}
    for key, value in numbers.items():
        group, label = label_of(key, locale)
        grouped[group].append((key, label, value))
    return [(gettext(title), grouped[name]) for name, title in GROUPS if grouped[name]]
