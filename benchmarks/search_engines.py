"""The comparison behind keeping a hand-written index (not a test): the same catalogue and queries
in SQLite FTS5 and PostgreSQL full-text over jieba-segmented text, beside the in-memory index;
and what word segmentation would cost the documents (time, and the name fragments it misses).

  fts5      an FTS5 table (unicode61 over jieba's `cut_for_search` words, five columns weighted
            like the index: name 4, tags 2.5, merchant 2, category 2, description 1), `MATCH`
            the query's words and synonyms OR-ed, `ORDER BY bm25(…) LIMIT 50`;
  pg        a `tsvector` column (the same words, `simple` configuration, weights A–D) with a GIN
            index, `@@ to_tsquery('a | b')`, `ORDER BY ts_rank(…) DESC LIMIT 50`;
  index     `search.query` on the same catalogue (what serving runs).

Both engines score every match before the LIMIT (FTS5's bm25 and PostgreSQL's ts_rank have no
top-k pruning), and neither knows categories, topics or city filters: the figures are a floor for
them. Prints the figures (docs/traffic.md quotes them); `--pg` adds PostgreSQL.

    .venv/bin/python benchmarks/search_engines.py --sizes 20000,200000 --pg postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from search_world import CITIES, seed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
QUERIES = ("买菜", "看病", "外卖", "生鲜买菜", "城东福鲜果店", "鲜丰水果", "光谷", "药店",
           "在线问诊", "保洁", "我想买菜")
FIELDS = ("name", "tags", "merchant", "category", "description")


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f} ms"


def segmented(url: str) -> tuple[list[tuple[int, list[str]]], float, dict[str, object]]:
    """Each listed mini-app's five fields as jieba words joined by spaces; seconds it took."""
    from townsquare.core.database import Database
    from townsquare.traffic.search import segment
    from townsquare.traffic.search import service as search
    from townsquare.traffic.search.tokens import normalise

    segment.warm()
    cut = segment._tokenizer.cut_for_search
    database = Database(url)
    with database.unit_of_work(read_only=True) as db:
        docs = search.documents(db)
        from sqlalchemy import select

        from townsquare.merchants.models import Category
        names = {c: f"{zh} {en}" for c, zh, en in db.execute(
            select(Category.code, Category.name_zh, Category.name_en))}
    started = time.perf_counter()
    rows = []
    for doc in docs.values():
        fields = [doc.name, " ".join(doc.tags), doc.merchant_name, names[doc.category],
                  doc.description]
        rows.append((doc.id, [" ".join(w for w in cut(normalise(f)) if w.strip())
                              for f in fields]))
    return rows, time.perf_counter() - started, dict(docs)


def _words(query: str) -> list[str]:
    from townsquare.traffic.search import segment, synonyms

    found = []
    for word in segment.words(query):
        found += [word, *synonyms.of(word)]
    return list(dict.fromkeys(found))


def fts5(rows: list[tuple[int, list[str]]], rounds: int) -> tuple[float, list[float]]:
    conn = sqlite3.connect(f"{tempfile.mkdtemp()}/fts.db")
    conn.execute(f"CREATE VIRTUAL TABLE docs USING fts5({', '.join(FIELDS)})")
    started = time.perf_counter()
    conn.executemany("INSERT INTO docs(rowid, name, tags, merchant, category, description) "
                     "VALUES (?, ?, ?, ?, ?, ?)", [(i, *f) for i, f in rows])
    conn.commit()
    build = time.perf_counter() - started
    times = []
    for n in range(rounds):
        match = " OR ".join(f'"{w}"' for w in _words(QUERIES[n % len(QUERIES)]))
        started = time.perf_counter()
        conn.execute("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY "
                     "bm25(docs, 4.0, 2.5, 2.0, 2.0, 1.0) LIMIT 50", (match,)).fetchall()
        times.append(time.perf_counter() - started)
    conn.close()
    return build, times


def postgres(url: str, rows: list[tuple[int, list[str]]], rounds: int) -> tuple[float, list[float]]:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    conn.execute("DROP TABLE IF EXISTS fts_docs")
    conn.execute("CREATE TABLE fts_docs (id int primary key, name text, tags text, merchant text,"
                 " category text, description text, tsv tsvector)")
    started = time.perf_counter()
    with conn.cursor() as cur, cur.copy(
        "COPY fts_docs (id, name, tags, merchant, category, description) FROM STDIN"
    ) as copy:
        for i, fields in rows:
            copy.write_row((i, *fields))
    conn.execute("UPDATE fts_docs SET tsv = setweight(to_tsvector('simple', name), 'A') || "
                 "setweight(to_tsvector('simple', tags || ' ' || merchant || ' ' || category),"
                 " 'B') || setweight(to_tsvector('simple', description), 'D')")
    conn.execute("CREATE INDEX ON fts_docs USING gin (tsv)")
    conn.execute("ANALYZE fts_docs")
    build = time.perf_counter() - started
    times = []
    for n in range(rounds):
        query = " | ".join(w.replace("'", "") for w in _words(QUERIES[n % len(QUERIES)]))
        started = time.perf_counter()
        conn.execute("SELECT id FROM fts_docs, to_tsquery('simple', %s) q WHERE tsv @@ q "
                     "ORDER BY ts_rank(tsv, q) DESC LIMIT 50", (query,)).fetchall()
        times.append(time.perf_counter() - started)
    conn.execute("DROP TABLE fts_docs")
    conn.close()
    return build, times


def index(url: str, rounds: int) -> tuple[float, list[float]]:
    from townsquare.core.database import Database
    from townsquare.traffic.search import service as search

    database = Database(url)
    with database.unit_of_work(read_only=True) as db:
        cards = search.documents(db)
        started = time.perf_counter()
        search.warm(db, cards)
        build = time.perf_counter() - started
    times = []
    for n in range(rounds):
        started = time.perf_counter()
        with database.unit_of_work(read_only=True) as db:
            search.query(db, text=QUERIES[n % len(QUERIES)], city=CITIES[0], cards=cards)
        times.append(time.perf_counter() - started)
    search.forget()
    return build, times


def fragments(rows: list[tuple[int, list[str]]], docs: dict[str, object],
              rng: random.Random) -> tuple[int, int]:
    """Of 500 random 2–3 character fragments of names, how many jieba-segmented names hold as
    a word (found by FTS5 or PostgreSQL); the bigram index finds every one by construction."""
    words = {i: set(fields[0].split()) for i, fields in rows}
    found = 0
    sample = rng.sample(rows, 500)
    for i, _fields in sample:
        name = docs[i].name  # type: ignore[attr-defined]
        size = rng.choice((2, 3))
        start = rng.randrange(0, max(1, len(name) - size))
        fragment = name[start:start + size]
        found += all(w in words[i] for w in _words(fragment)[:1])
    return found, len(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,200000")
    parser.add_argument("--rounds", type=int, default=110)
    parser.add_argument("--pg", default="")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        url = f"sqlite:///{tempfile.mkdtemp(prefix='search-engines-')}/s.db"
        seed(url, size, random.Random(7))
        rows, cut_s, docs = segmented(url)
        print(f"{size:,} listed: jieba segmentation of the documents {cut_s:.1f} s "
              f"({cut_s / size * 1e6:.0f} µs a mini-app)", flush=True)
        hit, total = fragments(rows, docs, random.Random(7))
        print(f"  name fragments found as jieba words: {hit} of {total}", flush=True)
        build, times = index(url, args.rounds)
        print(f"  index: build {build:.1f} s, query p50 {_ms(times)}", flush=True)
        build, times = fts5(rows, args.rounds)
        print(f"  fts5: build {build:.1f} s, query p50 {_ms(times)}", flush=True)
        if args.pg:
            build, times = postgres(args.pg, rows, args.rounds)
            print(f"  postgresql: build {build:.1f} s, query p50 {_ms(times)}", flush=True)


if __name__ == "__main__":
    main()
