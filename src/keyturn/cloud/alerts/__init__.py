"""Alerts of a property derived from what its locks report (door events, health, log gaps)."""
