"""Sharing access: guests (A5), single-day and one-time codes (A4), couriers and service
providers (A8)."""
