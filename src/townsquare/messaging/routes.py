"""Messaging JSON API: owners define templates, users subscribe and read their inbox, mini-app
backends send with their client credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from townsquare.accounts.deps import CurrentUser
from townsquare.messaging import notifications, service
from townsquare.messaging.models import Message, MessageTemplate
from townsquare.messaging.schemas import (
    InboxOut,
    MessageOut,
    NotificationOut,
    NotificationsOut,
    SendIn,
    SentOut,
    SubscribeIn,
    SubscriptionsOut,
    TemplateIn,
    TemplateOut,
)
from townsquare.miniapps import registry
from townsquare.miniapps.shell.service import listed_miniapp
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, error

router = APIRouter(prefix="/api", tags=["messaging"])
Id = PublicId


def template_out(t: MessageTemplate) -> TemplateOut:
    return TemplateOut(key=t.key, title=t.title, body=t.body,
                       placeholders=service.placeholders(t.title + t.body))


def message_out(m: Message) -> MessageOut:
    return MessageOut(id=m.public_id, miniapp_id=m.miniapp.public_id,
                      miniapp_name=m.miniapp.name, title=m.title, body=m.body, link=m.link,
                      sent_at=m.sent_at, read=m.read_at is not None)


@router.put("/miniapps/{miniapp_id}/message-templates", response_model=TemplateOut,
            responses={401: error("Not logged in"), 404: error("No such mini-app of yours"),
                       409: error("Too many templates"), 422: error("Invalid template")})
def put_template(miniapp_id: Id, body: TemplateIn, db: DbSession, user: CurrentUser
                 ) -> TemplateOut:
    """Create or update a message template (the mini-app's owner)."""
    return template_out(service.define_template(
        db, actor=user, miniapp_id=miniapp_id, key=body.key, title=body.title, body=body.body))


@router.get("/miniapps/{miniapp_id}/message-templates", response_model=list[TemplateOut],
            responses={401: error("Not logged in"), 404: error("No such mini-app of yours")})
def list_templates(miniapp_id: Id, db: DbSession, user: CurrentUser) -> list[TemplateOut]:
    """The mini-app's message templates (owner side)."""
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    return [template_out(t) for t in service.templates_of(db, miniapp=miniapp)]


@router.post("/miniapps/{miniapp_id}/subscriptions", response_model=SubscriptionsOut,
             responses={401: error("Not logged in"),
                        404: error("No such listed mini-app or template"),
                        422: error("Invalid keys")})
def subscribe(miniapp_id: Id, body: SubscribeIn, db: DbSession, user: CurrentUser
              ) -> SubscriptionsOut:
    """Consent once to each template: the mini-app may send each one to you once."""
    left = service.subscribe(db, actor=user, miniapp_id=miniapp_id, keys=body.keys)
    return SubscriptionsOut(miniapp_id=miniapp_id, open=left)


@router.get("/miniapps/{miniapp_id}/subscriptions", response_model=SubscriptionsOut,
            responses={401: error("Not logged in"), 404: error("No such listed mini-app")})
def my_subscriptions(miniapp_id: Id, db: DbSession, user: CurrentUser) -> SubscriptionsOut:
    """Your unused consents to this mini-app's templates."""
    miniapp = listed_miniapp(db, miniapp_id=miniapp_id)
    return SubscriptionsOut(
        miniapp_id=miniapp_id, open=service.open_subscriptions(db, actor=user, miniapp=miniapp))


@router.post("/messages", response_model=SentOut, status_code=201,
             responses={401: error("Wrong client credentials"), 404: error("No such template"),
                        409: error("The user has no unused consent"), 422: error("Invalid data"),
                        429: error("Daily limit for this user reached")})
def send(body: SendIn, db: DbSession, settings: AppSettings) -> SentOut:
    """A mini-app backend sends a template message to a user (client credentials)."""
    message = service.send_as_client(
        db, settings=settings, client_id=body.client_id, client_secret=body.client_secret,
        sub=body.sub, key=body.key, data=body.data, link=body.link)
    return SentOut(id=message.public_id, sent_at=message.sent_at)


@router.get("/me/inbox", response_model=InboxOut, responses={401: error("Not logged in")})
def inbox(db: DbSession, user: CurrentUser) -> InboxOut:
    """Your messages, newest first, and how many are unread."""
    return InboxOut(unread=service.unread_count(db, actor=user),
                    messages=[message_out(m) for m in service.inbox(db, actor=user)])


@router.post("/me/inbox/{message_id}/read", status_code=204,
             responses={401: error("Not logged in"), 404: error("No such message")})
def read(message_id: Id, db: DbSession, user: CurrentUser) -> None:
    """Mark one of your messages as read."""
    service.mark_read(db, actor=user, message_id=message_id)


@router.get("/me/notifications", response_model=NotificationsOut,
            responses={401: error("Not logged in")})
def my_notifications(db: DbSession, user: CurrentUser,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> NotificationsOut:
    """Platform notifications for the merchants and providers you work for, newest first,
    rendered in your language, and how many you have not read."""
    return NotificationsOut(
        unread=notifications.unread_count(db, actor=user),
        notifications=[NotificationOut(**vars(n)) for n in notifications.for_reader(
            db, actor=user, limit=limit, offset=offset)])


@router.post("/me/notifications/read", status_code=204, responses={401: error("Not logged in")})
def read_all_notifications(db: DbSession, user: CurrentUser) -> None:
    """Mark every notification of yours as read (for you; your colleagues keep theirs)."""
    notifications.mark_read(db, actor=user)


@router.post("/me/notifications/{notification_id}/read", status_code=204,
             responses={401: error("Not logged in"), 404: error("No such notification")})
def read_notification(notification_id: Id, db: DbSession, user: CurrentUser) -> None:
    """Mark one notification as read (for you)."""
    notifications.mark_read(db, actor=user, notification_id=notification_id)
