"""Service scoring: metrics (Ibis), the score model, suggestions, tiers and scoring cycles."""
