"""Where a signed-in person starts when no page asked for them: the portal for whoever manages
a property, the app for everyone else (residents, guests, staff, visitors).

The one place that decides it: the shared sign-in form sends a person here, and that form is
where every emailed link's "Sign in" leads (an accepted invitation, a new password).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from keyturn.cloud.people.service import manages_a_property

PORTAL_HOME = "/portal/"
APP_HOME = "/app/"


def home_of(*, session: Session, person_id: str) -> str:
    """The path of the person's own front end."""
    if manages_a_property(session=session, person_id=person_id):
        return PORTAL_HOME
    return APP_HOME
