"""Consent to collect a person's reference data (R5, R7): recording and withdrawal, the check
run on every flush, and their routes."""
