"""What a search matched, in the reader's language: for the page and the JSON API alike."""

from __future__ import annotations

from townsquare.core import i18n
from townsquare.core.i18n import N_
from townsquare.traffic.search.service import Match

FIELD_LABELS = {
    "name": N_("in the name"),
    "tags": N_("in the tags"),
    "merchant": N_("in the merchant"),
    "category": N_("in the category"),
    "description": N_("in the description"),
    "topic": N_("in a topic"),
}
KIND_LABELS = {
    "category": N_("Matched by category 「{name}」"),
    "topic": N_("Matched by topic 「{name}」"),
    "synonym": N_("Synonym: {word} → {name}"),
}


def label(match: Match) -> str:
    """"按分类「生鲜买菜」匹配", "同义词：买菜 → 生鲜" (English names on request)."""
    english = i18n.current_locale.get() == "en"
    name = match.name_en if english and match.name_en else match.name
    return i18n.gettext(KIND_LABELS[match.kind]).format(word=match.word, name=name)


def fields(names: tuple[str, ...]) -> list[str]:
    """The matched fields of one hit, labelled ("名称", "分类")."""
    return [i18n.gettext(FIELD_LABELS[n]) for n in names if n in FIELD_LABELS]
