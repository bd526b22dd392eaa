"""Retention (R1-R4): per-property policies, the job that applies them, and the read-only
status of a property's deadlines and log-loss intervals."""
