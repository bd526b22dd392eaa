"""The portal's guests-and-codes page: guests with mobile keys (A5), single-day codes (A4),
courier codes (A8) and service providers, over the sharing service the API's routes call.

Each form posts to a route with the same Action as its API twin; a code is shown once, on the
page that answers its creation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.listing import sharing_shown
from keyturn.cloud.access.sharing.schemas import (
    CourierCodesCreate,
    GuestInvite,
    SingleDayCreate,
    VisitorCreate,
)
from keyturn.cloud.auth.deps import Config, Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.models import Door
from keyturn.cloud.portal.navigation import property_path
from keyturn.cloud.portal.templating import render
from keyturn.cloud.web.forms import (
    Fields,
    guest_invite_form,
    local_instant,
    parsed,
    weekly_windows,
)
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)

DONE = {
    "invited": "The guest is invited; they get an email to enrol their phone.",
    "guest-revoked": "The guest's access is revoked; each lock drops it at its next sync.",
    "code-revoked": "The code is revoked; its lock drops it at its next sync.",
    "booked": "The service provider is booked; they get an email.",
    "provider-revoked": "The booking is cancelled; each lock drops it at its next sync.",
}


def _page_url(property_id: str, done: str | None = None) -> str:
    return property_path(property_id, "/guests") + (f"?done={done}" if done else "")


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
        couriers=viewer.can(Action.COURIERS_MANAGE),
        service_providers=viewer.can(Action.SERVICE_PROVIDERS_MANAGE),
    )
    return render(
        request,
        "guests/page.html",
        viewer=viewer,
        title="Guests and codes",
        shown=shown,
        prop_url=property_path(property_id),
        done=DONE.get(done or ""),
        errors=errors or {},
        sent=sent or {},
        status_code=422 if errors else 200,
    )


def _refill(
    request: Request,
    viewer: Viewer,
    db: Db,
    property_id: str,
    form: str,
    fields: Fields,
    sent: dict[str, Any],
) -> HTMLResponse:
    return _show(request, viewer, db, property_id, errors={form: fields}, sent={form: sent})


@router.get("/guests", response_class=HTMLResponse)
def guests_page(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.GUESTS_INVITE)],
    db: Db,
    done: str | None = None,
) -> HTMLResponse:
    """Guests, single-day codes, courier codes and service providers, as the caller may see."""
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
    """Invite a guest with a mobile key on a key the caller may share."""
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
        return _refill(request, viewer, db, property_id, "guest", invite, sent)
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
    """Revoke a guest's access."""
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


def _door_name(db: Db) -> Callable[[str], str]:
    return lambda door_id: db.get_one(Door, door_id).name


@router.post("/guests/single-day-codes", response_class=HTMLResponse)
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
    """Codes for one local day at the chosen doors, shown once on the page this answers."""
    sent = {"door_ids": door_ids, "local_date": local_date, "guest_label": guest_label}
    asked = parsed(
        SingleDayCreate,
        {"door_ids": door_ids, "local_date": local_date, "guest_label": guest_label or None},
    )
    if not isinstance(asked, SingleDayCreate):
        return _refill(request, viewer, db, property_id, "single_day", asked, sent)
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
        "guests/codes_issued.html",
        viewer=viewer,
        title="Single-day code",
        heading="Single-day code",
        codes=issued.codes,
        door_name=_door_name(db),
        local_date=issued.local_date,
        guest_label=asked.guest_label,
        back=_page_url(property_id),
    )


@router.post("/guests/single-day-codes/{code_id}/revoke", response_class=HTMLResponse)
def revoke_single_day_code(
    request: Request,
    property_id: str,
    code_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    master_key: MasterKey,
) -> HTMLResponse:
    """Revoke a single-day code and say plainly where it may still open a door (A4)."""
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
        "guests/single_day_revoked.html",
        viewer=viewer,
        title="Single-day code revoked",
        revocation=revocation,
        back=_page_url(property_id),
    )


# Courier and one-time codes (A8)


@router.post("/guests/courier-codes", response_class=HTMLResponse)
def create_courier_codes(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.COURIERS_MANAGE)],
    db: Db,
    master_key: MasterKey,
    door_ids: Annotated[list[str], Form()] = [],  # noqa: B006
    valid_minutes: Annotated[str, Form(max_length=5)] = "30",
) -> Response:
    """Courier codes at the chosen doors; a residence door is refused by the service (A8)."""
    sent = {"door_ids": door_ids, "valid_minutes": valid_minutes}
    minutes = int(valid_minutes) if valid_minutes.strip().isdigit() else valid_minutes
    asked = parsed(CourierCodesCreate, {"door_ids": door_ids, "valid_minutes": minutes})
    if not isinstance(asked, CourierCodesCreate):
        return _refill(request, viewer, db, property_id, "courier", asked, sent)
    issued = sharing.create_courier_codes(
        session=db,
        master_key=master_key,
        property_id=property_id,
        created_by=viewer.principal.person_id,
        door_ids=asked.door_ids,
        valid_minutes=asked.valid_minutes,
        now=viewer.now,
    )
    db.commit()
    return render(
        request,
        "guests/codes_issued.html",
        viewer=viewer,
        title="Courier code",
        heading="Courier code",
        codes=issued,
        door_name=_door_name(db),
        valid_minutes=asked.valid_minutes,
        back=_page_url(property_id),
    )


@router.post("/guests/one-time-codes/{code_id}/revoke")
def revoke_one_time_code(
    property_id: str,
    code_id: str,
    viewer: Annotated[Viewer, page(Action.CODES_ONE_TIME_CREATE)],
    db: Db,
    master_key: MasterKey,
) -> RedirectResponse:
    """Revoke a courier or one-time code."""
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


# Service providers


@router.post("/guests/service-providers", response_class=HTMLResponse)
def book_service_provider(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.SERVICE_PROVIDERS_MANAGE)],
    db: Db,
    config: Config,
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    door_ids: Annotated[list[str], Form()] = [],  # noqa: B006
    weekdays: Annotated[list[int], Form()] = [],  # noqa: B006
    window_start: Annotated[str, Form(max_length=5)] = "",
    window_end: Annotated[str, Form(max_length=5)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Book a service provider on a weekly schedule at the chosen doors."""
    sent = {
        "email": email,
        "display_name": display_name,
        "door_ids": door_ids,
        "weekdays": weekdays,
        "window_start": window_start,
        "window_end": window_end,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    visitor = parsed(
        VisitorCreate,
        {
            "email": email,
            "display_name": display_name,
            "door_ids": door_ids,
            "windows": weekly_windows(weekdays, window_start, window_end),
            "starts_at": local_instant(starts_at, viewer.zone),
            "ends_at": local_instant(ends_at, viewer.zone),
        },
    )
    if not isinstance(visitor, VisitorCreate):
        return _refill(request, viewer, db, property_id, "provider", visitor, sent)
    sharing.add_service_provider(
        session=db,
        config=config,
        principal=viewer.principal,
        property_id=property_id,
        visitor=visitor,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "booked"), status_code=303)


@router.post("/guests/service-providers/{grant_id}/revoke")
def revoke_service_provider(
    property_id: str,
    grant_id: str,
    viewer: Annotated[Viewer, page(Action.SERVICE_PROVIDERS_MANAGE)],
    db: Db,
    master_key: MasterKey,
) -> RedirectResponse:
    """Cancel a service provider's booking."""
    sharing.revoke_service_provider(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        grant_id=grant_id,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "provider-revoked"), status_code=303)
