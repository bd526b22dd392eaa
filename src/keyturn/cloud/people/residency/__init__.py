"""Residencies: a resident's move-in, lease dates and move-out at one unit."""
