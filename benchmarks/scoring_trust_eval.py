"""Misreporting evaluation (not a test): what can a merchant gain by lying about itself?

Generates a synthetic market with the simulator (every event observed by the platform), picks
cheaters among the established median merchants (40th–60th percentile of true quality in their
category) and scores the market twice in each of two worlds, honest and with the cheaters'
misreports added as their backends' own events (ids without `platform:`):

  platform: the platform observes everything its services carry (trades, refunds, orders,
            ratings and complaints it collects, replies through its messaging); the cheaters
            add fake 5★ ratings from residents who never bought (twice their real ratings) and
            fake 20-second replies (twice their real replies);
  trades:   an ISV's mini-app taking payment through the platform, which observes its trades
            and refunds only; fulfilments, cancellations, complaints, ratings and replies are
            the mini-app's word. The cheaters also leave their cancellations and complaints
            unreported.

Reports the cheaters' median score gain and how many reach tier A or S, per world.

    .venv/bin/python benchmarks/scoring_trust_eval.py [--miniapps 2000 --seed 11]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
AS_OF = date(2026, 3, 1)
PLATFORM_KEEPS_IN_TRADES_WORLD = ("order_placed", "refund", "exposure", "click", "visit")


def _load(root: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(root.glob("date=*/*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def _write(table, root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    days = pc.cast(table["occurred_at"], pa.date32())
    for day in sorted(set(days.to_pylist())):
        folder = root / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.filter(pc.equal(days, pa.scalar(day, pa.date32()))),
                       folder / "part-0.parquet")
    return root


def _relabel_trades_world(table):
    """Only trades and refunds (and what only the platform can see) keep `platform:` ids."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = pc.is_in(table["type"], pa.array(PLATFORM_KEEPS_IN_TRADES_WORLD)).to_numpy(
        zero_copy_only=False)
    ids = np.array(table["event_id"].to_pylist(), dtype=object)
    ids[~keep] = [i.removeprefix("platform:") for i in ids[~keep]]
    return table.set_column(0, "event_id", pa.array(ids, pa.string()))


def _cheat(table, cheaters: set[int], *, drop_bad: bool, rng) -> object:
    """The cheaters' misreports: fake 5★ from non-buyers, fake fast replies, and (drop_bad)
    their own records of cancellations and complaints left out."""
    import numpy as np
    import pyarrow as pa

    apps = table["miniapp_id"].to_numpy()
    mine = np.isin(apps, list(cheaters))
    kinds = np.array(table["type"].to_pylist(), dtype=object)
    platform = np.array([i.startswith("platform:") for i in table["event_id"].to_pylist()])
    if drop_bad:
        dropped = mine & np.isin(kinds, ["order_cancelled", "complaint"]) & ~platform
        table = table.filter(pa.array(~dropped))
        apps, kinds = apps[~dropped], kinds[~dropped]
        mine = mine[~dropped]
    start = datetime.combine(AS_OF - timedelta(days=27), time(), tzinfo=UTC)
    rows = []
    first = {}
    for i in np.flatnonzero(mine):
        first.setdefault(int(apps[i]), i)
    for app, i in first.items():
        ratings = int(np.sum((apps == app) & (kinds == "rating")))
        replies = int(np.sum((apps == app) & (kinds == "message_response")))
        base = {c: table[c][int(i)].as_py() for c in ("miniapp_id", "merchant_id",
                                                      "category_code", "city")}
        for n, (kind, extra) in enumerate(
                [("rating", {"rating": 5})] * (2 * ratings)
                + [("message_response", {"response_seconds": 20})] * (2 * replies)):
            at = start + timedelta(seconds=float(rng.uniform(0, 28 * 86400 - 1)))
            rows.append({**base, "event_id": f"fake-{app}-{n}", "type": kind, "occurred_at": at,
                         "user_sub": f"ou_{rng.integers(0, 2**62):032x}", "community": "",
                         "surface": "", "slot_reason": "", **extra})
    fake = pa.Table.from_pylist(rows, schema=table.schema)
    return pa.concat_tables([table, fake]) if rows else table


def main() -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from townsquare.scoring.model.config import DEFAULT_CONFIG
    from townsquare.scoring.pipeline import evaluate
    from townsquare.simulation.market import generate_parquet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miniapps", type=int, default=2000)
    parser.add_argument("--events-per-app-day", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cheaters", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed + 1000)

    work = Path(tempfile.mkdtemp(prefix="scoring-trust-"))
    try:
        generate_parquet(work / "gen", miniapps=args.miniapps, days=28,
                         events_per_app_day=args.events_per_app_day, seed=args.seed, end=AS_OF)
        truth = pq.read_table(work / "gen" / "_market.parquet").to_pylist()
        events = _load(work / "gen")
        established = [t for t in truth if t["start_day"] == 0]
        band = []
        for code in {t["category_code"] for t in established}:
            qs = [t for t in established if t["category_code"] == code]
            lo, hi = np.quantile([t["quality"] for t in qs], [0.4, 0.6])
            band += [t["miniapp_id"] for t in qs if lo <= t["quality"] <= hi]
        cheaters = set(rng.choice(band, size=min(args.cheaters, len(band)), replace=False)
                       .tolist())

        def scores(table, name: str) -> dict[int, tuple[float | None, str | None]]:
            out = evaluate(_write(table, work / name), as_of=AS_OF, window_days=28,
                           config=DEFAULT_CONFIG)
            return {r.miniapp_id: (r.overall, getattr(out.tiers.get(r.miniapp_id), "tier", None))
                    for r in out.results}

        print(f"command: .venv/bin/python benchmarks/scoring_trust_eval.py --miniapps "
              f"{args.miniapps} --events-per-app-day {args.events_per_app_day} "
              f"--seed {args.seed} --cheaters {args.cheaters}")
        print(f"cheaters: {len(cheaters)} established merchants at the 40th-60th percentile "
              f"of true quality in their category")
        for world, table, drop in (("platform", events, False),
                                   ("trades", _relabel_trades_world(events), True)):
            honest = scores(table, f"{world}-honest")
            cheat = scores(_cheat(table, cheaters, drop_bad=drop, rng=rng), f"{world}-cheat")
            gains = [cheat[a][0] - honest[a][0] for a in cheaters
                     if honest.get(a, (None,))[0] is not None
                     and cheat.get(a, (None,))[0] is not None]
            top_before = sum(1 for a in cheaters if honest.get(a, (0, None))[1] in ("S", "A"))
            top_after = sum(1 for a in cheaters if cheat.get(a, (0, None))[1] in ("S", "A"))
            print(f"{world:>8}: median gain {np.median(gains):+.2f} points (mean "
                  f"{np.mean(gains):+.2f}, max {np.max(gains):+.2f}); tier A/S honest "
                  f"{top_before}/{len(cheaters)}, cheating {top_after}/{len(cheaters)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
