"""The HTML report: one self-contained file (no scripts, fonts or styles from elsewhere)."""
