"""Sharing my home in the app: guests with a mobile key (A5), single-day codes (A4) and short
one-time codes for couriers, over the sharing service the API's routes call.

Each route has its API twin's Action; a code is shown once, on the page that answers its
creation, where it can be copied or emailed to the guest.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.listing import sharing_shown
from keyturn.cloud.access.sharing.schemas import GuestInvite, OneTimeCreate, SingleDayCreate
from keyturn.cloud.app_web.templating import render
from keyturn.cloud.auth.deps import Config, Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.models import Door
from keyturn.cloud.web.forms import (
    Fields,
    guest_invite_form,
    parsed,
)
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/app/properties/{property_id}/sharing", include_in_schema=False)

DONE = {
    "invited": "Your guest is invited: they get an email to set up their phone.",
    "guest-revoked": "Your guest's access is revoked; each lock drops it at its next sync.",
    "emailed": "The code is on its way to your guest's email.",
    "code-revoked": "The code is revoked; its lock drops it at its next sync.",
}


def _page_url(property_id: str, done: str | None = None) -> str:
    return f"/app/properties/{property_id}/sharing" + (f"?done={done}" if done else "")


def _show(
    request: Request,
    viewer: Viewer,
    db: Db,
    property_id: str,
    *,
    done: str | None = None,
    errors: dict[str, Fields] | None = None,
    sent: dict[str, dict[str, Any]] | None = None,
) -> HTMLResponse:
    shown = sharing_shown(
        session=db,
        principal=viewer.principal,
        property_id=property_id,
        now=viewer.now,
        guests=viewer.can(Action.GUESTS_INVITE),
        single_day=viewer.can(Action.CODES_SINGLE_DAY_CREATE),
        couriers=viewer.can(Action.CODES_ONE_TIME_CREATE),
        service_providers=False,
    )
    return render(
        request,
        "sharing/page.html",
        viewer=viewer,
        title="Share my home",
        shown=shown,
        done=DONE.get(done or ""),
        errors=errors or {},
        sent=sent or {},
        status_code=422 if errors else 200,
    )


@router.get("", response_class=HTMLResponse)
def sharing_page(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.GUESTS_INVITE)],
    db: Db,
    done: str | None = None,
) -> HTMLResponse:
    """My guests, my single-day codes and my one-time codes, with the forms to make more."""
    return _show(request, viewer, db, property_id, done=done)


# Guests (A5)


@router.post("/guests", response_class=HTMLResponse)
def invite_guest(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.GUESTS_INVITE)],
    db: Db,
    config: Config,
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    key_id: Annotated[str, Form(max_length=36)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
    weekdays: Annotated[list[int], Form()] = [],  # noqa: B006
    window_start: Annotated[str, Form(max_length=5)] = "",
    window_end: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Invite a guest with a mobile key on one of my keys that may be shared."""
    sent, invite = guest_invite_form(
        zone=viewer.zone,
        email=email,
        display_name=display_name,
        key_id=key_id,
        starts_at=starts_at,
        ends_at=ends_at,
        weekdays=weekdays,
        window_start=window_start,
        window_end=window_end,
    )
    if not isinstance(invite, GuestInvite):
        return _show(
            request, viewer, db, property_id, errors={"guest": invite}, sent={"guest": sent}
        )
    sharing.invite_guest(
        session=db,
        config=config,
        principal=viewer.principal,
        property_id=property_id,
        invite=invite,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "invited"), status_code=303)


@router.post("/guests/{grant_id}/revoke")
def revoke_guest(
    property_id: str,
    grant_id: str,
    viewer: Annotated[Viewer, page(Action.GUESTS_INVITE)],
    db: Db,
    master_key: MasterKey,
) -> RedirectResponse:
    """Take back a guest's access."""
    sharing.revoke_guest(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        grant_id=grant_id,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "guest-revoked"), status_code=303)


# Single-day codes (A4)


@router.post("/single-day-codes", response_class=HTMLResponse)
def create_single_day_code(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    master_key: MasterKey,
    door_ids: Annotated[list[str], Form()] = [],  # noqa: B006
    local_date: Annotated[str, Form(max_length=10)] = "",
    guest_label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A code for one day at the doors I chose, shown once on the page this answers."""
    sent = {"door_ids": door_ids, "local_date": local_date, "guest_label": guest_label}
    asked = parsed(
        SingleDayCreate,
        {"door_ids": door_ids, "local_date": local_date, "guest_label": guest_label or None},
    )
    if not isinstance(asked, SingleDayCreate):
        return _show(
            request,
            viewer,
            db,
            property_id,
            errors={"single_day": asked},
            sent={"single_day": sent},
        )
    issued = sharing.create_single_day_codes(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        request=asked,
        now=viewer.now,
    )
    db.commit()
    return render(
        request,
        "sharing/codes_issued.html",
        viewer=viewer,
        title="Your single-day code",
        heading="Your single-day code",
        codes=[(code, db.get_one(Door, code.door_id).name) for code in issued.codes],
        local_date=issued.local_date,
        guest_label=asked.guest_label,
        email_to=lambda code: f"{_page_url(property_id)}/single-day-codes/{code.record_id}/email",
        back=_page_url(property_id),
        headers={"Cache-Control": "no-store"},
    )


@router.post("/single-day-codes/{code_id}/email")
def email_single_day_code(
    property_id: str,
    code_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    master_key: MasterKey,
    code: Annotated[str, Form(max_length=20)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
) -> RedirectResponse:
    """Email the code I was just shown to my guest."""
    sharing.email_single_day_code(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        code_id=code_id,
        code=code,
        to_address=email,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "emailed"), status_code=303)


@router.post("/single-day-codes/{code_id}/revoke", response_class=HTMLResponse)
def revoke_single_day_code(
    request: Request,
    property_id: str,
    code_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    master_key: MasterKey,
) -> HTMLResponse:
    """Revoke a single-day code and say plainly where it may still open the door (A4)."""
    revocation = sharing.revoke_single_day_code(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        code_id=code_id,
        now=viewer.now,
    )
    db.commit()
    return render(
        request,
        "sharing/single_day_revoked.html",
        viewer=viewer,
        title="Code revoked",
        revocation=revocation,
        back=_page_url(property_id),
    )


# One-time codes (couriers)


@router.post("/one-time-codes", response_class=HTMLResponse)
def create_one_time_code(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_ONE_TIME_CREATE)],
    db: Db,
    master_key: MasterKey,
    door_id: Annotated[str, Form(max_length=36)] = "",
    valid_minutes: Annotated[str, Form(max_length=5)] = "30",
) -> Response:
    """A short code for one of my doors, for a delivery; shown once."""
    sent = {"door_id": door_id, "valid_minutes": valid_minutes}
    minutes = int(valid_minutes) if valid_minutes.strip().isdigit() else valid_minutes
    asked = parsed(OneTimeCreate, {"door_id": door_id, "valid_minutes": minutes})
    if not isinstance(asked, OneTimeCreate):
        return _show(
            request, viewer, db, property_id, errors={"one_time": asked}, sent={"one_time": sent}
        )
    issued = sharing.create_one_time_code(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        door_id=asked.door_id,
        valid_minutes=asked.valid_minutes,
        now=viewer.now,
    )
    db.commit()
    return render(
        request,
        "sharing/codes_issued.html",
        viewer=viewer,
        title="Your one-time code",
        heading="Your one-time code",
        codes=[(issued, db.get_one(Door, issued.door_id).name)],
        valid_minutes=asked.valid_minutes,
        back=_page_url(property_id),
        headers={"Cache-Control": "no-store"},
    )


@router.post("/one-time-codes/{code_id}/revoke")
def revoke_one_time_code(
    property_id: str,
    code_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_ONE_TIME_CREATE)],
    db: Db,
    master_key: MasterKey,
) -> RedirectResponse:
    """Revoke one of my one-time codes."""
    sharing.revoke_one_time_code(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        code_id=code_id,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "code-revoked"), status_code=303)
