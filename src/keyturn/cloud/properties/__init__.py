"""Portfolios, properties (buildings), units and doors.

A property carries its time zone, jurisdiction, doorcode and lockout policy and its
authority key pair; a door's kind decides log privacy and the photo policy.
"""
