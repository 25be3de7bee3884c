"""The search tokenizer: CJK bigrams, Latin words with prefixes, full-width folding, name keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from townsquare.traffic.search.tokens import (
    PREFIX_WEIGHT,
    WORD_MAX,
    find_name,
    index_terms,
    name_key,
    query_terms,
    tokenize,
)


def test_chinese_runs_become_overlapping_bigrams():
    assert tokenize("鲜丰水果") == ["鲜丰", "丰水", "水果"]
    assert tokenize("城东 菜场") == ["城东", "菜场"]  # no bigram across a space
    assert tokenize("茶") == ["茶"]  # a one-character run is kept as itself


def test_latin_words_are_casefolded_and_full_width_folded():
    assert tokenize("Online CLINIC") == ["online", "clinic"]
    assert tokenize("ＣＬＩＮＩＣ　１２号") == ["clinic", "12", "号"]
    assert tokenize("KFC炸鸡，奶茶!") == ["kfc", "炸鸡", "奶茶"]
    assert tokenize("Café") == ["café"]


def test_separators_and_control_characters_make_no_tokens():
    assert tokenize("") == []
    assert tokenize("  !!! —— 🍎 \x00\x1f ") == []
    assert tokenize("水\x00果") == ["水", "果"]


def test_documents_index_unigrams_and_word_prefixes():
    terms = index_terms("西湖茶社 clinic")
    assert {"西湖", "湖茶", "茶社", "西", "湖", "茶", "社", "clinic"} <= set(terms)
    assert {"cl*", "cli*", "clin*", "clini*"} <= set(terms)
    assert "clinic*" not in terms and "c*" not in terms  # proper prefixes of 2+ characters


def test_query_terms_weigh_prefixes_lower():
    assert query_terms("cli") == {"cli": 1.0, "cli*": PREFIX_WEIGHT}
    assert query_terms("鲜丰水果") == {"鲜丰": 1.0, "丰水": 1.0, "水果": 1.0}
    assert query_terms("茶") == {"茶": 1.0}
    assert query_terms("x") == {"x": 1.0}


def test_a_query_prefix_meets_an_indexed_prefix():
    assert set(query_terms("Cli")) & set(index_terms("Online clinic consultation"))
    assert not set(query_terms("clx")) & set(index_terms("Online clinic consultation"))


def test_long_words_are_cut_alike_in_documents_and_queries():
    word = "a" * 100
    assert tokenize(word) == ["a" * WORD_MAX]
    assert "a" * WORD_MAX in query_terms(word) and "a" * WORD_MAX in index_terms(word)


def test_name_keys_ignore_spacing_and_width():
    assert name_key("鲜丰 水果") == name_key("鲜丰水果") == "鲜丰水果"
    assert name_key("ＫＦＣ 炸鸡") == "kfc炸鸡"
    assert name_key("Apple  Store") == "apple store"


def test_find_name_wants_the_whole_name_and_latin_word_edges():
    assert find_name(name_key("我想买鲜丰水果"), "鲜丰水果") == 3
    assert find_name(name_key("鲜丰 水果 特卖"), "鲜丰水果") == 0
    assert find_name(name_key("鲜丰果业"), "鲜丰水果") == -1  # the look-alike
    assert find_name(name_key("鲜丰"), "鲜丰水果") == -1  # part of a name does not name it
    assert find_name(name_key("steam"), "Tea") == -1
    assert find_name(name_key("tea house"), "TEA") == 0
    assert find_name(name_key("kfc炸鸡"), "KFC") == 0
    assert find_name(name_key("anything"), "!!") == -1


@given(st.text(max_size=80))
def test_any_text_gives_clean_bounded_terms(text):
    for term in index_terms(text) + list(query_terms(text)):
        assert term and len(term) <= WORD_MAX + 1
        assert not any(ch.isspace() for ch in term)
    assert tokenize(text) == tokenize(tokenize_input(text))


def tokenize_input(text: str) -> str:
    """The same text in full width where a full-width form exists (NFKC folds it back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
