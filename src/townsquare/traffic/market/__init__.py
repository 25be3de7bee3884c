"""The traffic market: bids on surfaces and keywords, the auction, budget pacing, and the bids JSON
API."""
