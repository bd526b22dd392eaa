"""The lost or stolen phone (A6): suspend a person's building access in one portfolio, and
restore it."""
