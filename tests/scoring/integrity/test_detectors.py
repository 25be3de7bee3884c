"""Every anomaly detector on hand-made facts: it fires on the pattern it names and stays quiet on
an honest mini-app of the same size (pure; no database)."""

from __future__ import annotations

from townsquare.scoring.integrity import detectors as d
from townsquare.scoring.integrity.detectors import AppFacts, Buyer, Shared


def honest(i: int = 1, orders: int = 200, **changes) -> AppFacts:
    base = dict(miniapp_id=i, category="food", orders=orders, cancellations=orders // 12,
                refunds=orders // 20, complaints=orders // 40, stars=(4, 6, 20, 40, 30),
                responses=60, fast_responses=1,
                weekly={"orders": [48, 52, 50, 50], "ratings": [24, 26, 25, 25],
                        "mean_rating": [3.9, 3.8, 3.9, 3.9],
                        "five_star_share": [0.3, 0.3, 0.32, 0.29]},
                reported_refunds=orders // 20)
    base.update(changes)
    return AppFacts(**base)


PEERS = d.peers_of([honest(i, 150 + 10 * i) for i in range(10)])


def quiet(signal: d.Signal) -> None:
    assert signal.score < d.FLAG_AT, signal


def test_peers_take_the_median_trouble_and_the_quartile_of_rates():
    assert 0.07 < PEERS.trouble_median["food"] < 0.08
    assert set(PEERS.best_rates["food"]) == {"cancellations", "refunds", "complaints"}
    assert d.peers_of([honest(orders=10)]).trouble_median == {}  # too few orders: no peers


def test_ratings_against_complaints_and_refunds():
    quiet(d.ratings_vs_complaints(honest(), PEERS))
    fake = honest(stars=(1, 1, 2, 6, 120), complaints=30, refunds=20)
    signal = d.ratings_vs_complaints(fake, PEERS)
    assert signal.flagged and signal.figures["five_star_share"] > 0.9
    # many 5★ and a clean record is not this pattern
    quiet(d.ratings_vs_complaints(honest(stars=(0, 0, 2, 6, 120), complaints=1, refunds=2),
                                  PEERS))
    # too few ratings to judge
    quiet(d.ratings_vs_complaints(honest(stars=(0, 0, 0, 1, 15), complaints=30), PEERS))


def test_ratings_from_residents_who_never_ordered():
    quiet(d.unbacked_ratings(honest(unbacked_ratings=["ou_1 · o1"] * 3)))
    signal = d.unbacked_ratings(honest(unbacked_ratings=[f"ou_{i} · –" for i in range(60)]))
    assert signal.flagged and len(signal.evidence) == 60
    assert len(signal.to_json()["evidence"]) == d.EVIDENCE_SHOWN


def test_an_implausibly_clean_record():
    quiet(d.implausibly_clean(honest(), PEERS))
    quiet(d.implausibly_clean(honest(cancellations=5, refunds=3, complaints=1), PEERS))
    clean = d.implausibly_clean(honest(orders=300, cancellations=0, refunds=0, complaints=0),
                                PEERS)
    assert clean.flagged and clean.figures["chance"] < d.CLEAN_P
    # a small mini-app with no trouble is not suspicious
    quiet(d.implausibly_clean(honest(orders=20, cancellations=0, refunds=0, complaints=0),
                              PEERS))


def test_replies_faster_than_a_person():
    quiet(d.fake_fast_replies(honest()))
    assert d.fake_fast_replies(honest(responses=80, fast_responses=60)).flagged
    quiet(d.fake_fast_replies(honest(responses=10, fast_responses=10)))  # too few to judge


def test_a_metric_jumping_beyond_its_own_history():
    quiet(d.sudden_jumps(honest()))
    jump = d.sudden_jumps(honest(weekly={"mean_rating": [3.1, 3.0, 3.2, 4.9],
                                         "orders": [50, 52, 49, 51]}))
    assert jump.flagged and jump.evidence[0]["metric"] == "mean_rating"
    assert d.sudden_jumps(honest(weekly={"orders": [40, 42, 41, 130]})).flagged
    # a small rise in a noisy count is not a jump; nor is a fall
    quiet(d.sudden_jumps(honest(weekly={"orders": [3, 5, 4, 7]})))
    quiet(d.sudden_jumps(honest(weekly={"mean_rating": [4.8, 4.8, 4.8, 2.0]})))
    quiet(d.sudden_jumps(honest(weekly={"orders": [40, 130]})))  # too little history


def test_staff_buying_from_their_own_merchant():
    buyers = [Buyer(f"usr_{i}", [f"t{i}"]) for i in range(50)]
    quiet(d.self_purchase(honest(buyers=buyers)))
    staff = [Buyer("usr_staff", [f"s{i}" for i in range(8)], staff_link="staff"),
             Buyer("usr_friend", ["f1", "f2", "f3"], staff_link="card")]
    signal = d.self_purchase(honest(buyers=buyers + staff))
    assert signal.flagged and signal.figures["orders"] == 11
    assert [e["link"] for e in signal.evidence] == ["staff", "card"]


def test_a_ring_of_buyers_paid_then_refunded():
    ring = [Buyer(f"usr_{i}", [f"o{i}{k}" for k in range(4)],
                  refunded=[f"o{i}{k}" for k in range(3)], other_merchants=0) for i in range(4)]
    assert d.brushing(honest(buyers=ring)).flagged
    # the same buyers shopping elsewhere too, or rarely refunded, are not a ring
    elsewhere = [Buyer(b.key, b.orders, b.refunded, other_merchants=3) for b in ring]
    quiet(d.brushing(honest(buyers=elsewhere)))
    loyal = [Buyer(b.key, b.orders, b.refunded[:1], other_merchants=0) for b in ring]
    quiet(d.brushing(honest(buyers=loyal)))
    unknown = [Buyer(b.key, b.orders, b.refunded, other_merchants=None) for b in ring]
    quiet(d.brushing(honest(buyers=unknown)))  # the platform does not know who they are


def test_one_address_or_card_behind_many_buyers():
    quiet(d.shared_identifiers(honest(shared=[Shared("address", "幸福里3号…", ["a", "b"])])))
    many = Shared("card", "6222 **** **** 1234", [f"usr_{i}" for i in range(6)])
    signal = d.shared_identifiers(honest(shared=[many]))
    assert signal.flagged and signal.evidence[0]["count"] == 6


def test_refunds_the_platform_made_that_the_mini_app_did_not_report():
    quiet(d.unreported_refunds(honest(platform_refunds=["t1", "t2"], reported_refunds=2)))
    signal = d.unreported_refunds(honest(platform_refunds=[f"t{i}" for i in range(8)],
                                         reported_refunds=1))
    assert signal.flagged and signal.figures["missing"] == 7


def test_an_honest_app_is_not_flagged_and_signals_come_strongest_first():
    signals = d.detect(honest(), PEERS)
    assert not any(s.flagged for s in signals)
    cheat = honest(responses=80, fast_responses=70, stars=(0, 0, 1, 3, 100), complaints=25)
    signals = d.detect(cheat, PEERS)
    assert [s.score for s in signals] == sorted((s.score for s in signals), reverse=True)
    assert d.anomaly_score(signals) == signals[0].score >= d.FLAG_AT
    assert {s.code for s in signals if s.flagged} >= {"fake_fast_replies",
                                                       "ratings_vs_complaints"}
