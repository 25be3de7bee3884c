"""The score model, pure (NumPy and Arrow, no database, no Ibis): the metric catalogue, the
model's configuration, its inputs, peer groups, scores, tiers and suggestions."""
