"""Service scoring: metrics (Ibis), the score model, suggestions, tiers and scoring cycles.

The door other domains read: `standings` (the newest finished cycle's score and tier of each
mini-app, with the cycle's length), `capped` (whose complaint cap is tripped: their tier
promises pause) and `TIERS`, best first.
"""

from townsquare.scoring.current_standings import Standing, Standings, capped, standings
from townsquare.scoring.model.catalogue import TIERS

__all__ = ["TIERS", "Standing", "Standings", "capped", "standings"]
