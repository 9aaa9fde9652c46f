"""Alert emails: evidence cards for new anomalies, sent once each (SMTP, or .eml files in an outbox)."""
