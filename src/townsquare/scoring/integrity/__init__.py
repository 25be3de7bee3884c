"""Anti-fraud signals: per mini-app anomaly scores with their evidence (`detectors`, pure), the
facts they read from the platform's own records (`facts`), the operator's review queue
(`reviews`) and the penalty a confirmed review applies to the next cycles (`penalties`)."""
