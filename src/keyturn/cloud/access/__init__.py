"""Keys, grants and the credentials people hold: mobile keys, doorcodes, keycards, temporary codes.

Doorcodes are stored only as keyed MACs; single-day codes are derived, so only their
ledger (door, local date, slot) is stored.

How a route and its service share the work (every domain of the cloud follows it):
- A view parses the request, calls one service function of its resource and answers. It
  never changes a row, publishes to locks or decides who may do what beyond its
  `requires(...)` marker.
- A service function takes keyword-only, typed arguments (ids from the path, values or a
  request model from the body, the caller's `Principal` where the answer depends on who
  asks). It checks the ids against the property, does the whole change in the caller's
  session (flushing, publishing, queueing mail, writing audit records) and never commits.
- The view then ends the transaction with one `db.commit()`, and answers from what the
  service returned. The one exception is a failed try that must count although the request
  fails (a login attempt, a data request's code): the service commits it before it raises.
"""
