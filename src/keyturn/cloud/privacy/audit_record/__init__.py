"""The audit record as its readers see it: one property's entries, newest first, in words.

Reading it is itself a disclosure, so each read is recorded (V6) and shows in later reads.
"""
