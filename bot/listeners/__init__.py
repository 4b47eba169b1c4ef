"""Every Slack surface the bot answers, one module each, wired to an app by `register_all`.

Surface modules never import each other: what two of them share lives in `deps` (what they
need), `errors` (the one error handler) or `forms` (reading a submitted modal), and a surface
that answers part of another's (the timeline's `/incident timeline`) is handed to it here.
"""

from __future__ import annotations

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.listeners import (
    actions,
    commands,
    events,
    home,
    lifecycle,
    middleware,
    outage,
    settings,
    shortcuts,
    timeline,
    views,
)
from bot.listeners.deps import Deps
from bot.listeners.errors import handle_error
from playbook.domain.errors import PermissionDenied

__all__ = ["register_all"]


def register_all(app: App, deps: Deps) -> None:
    """The error handler, the app-wide middlewares, then every surface's listeners."""

    @app.error
    def on_error(error: Exception, body: dict, response: BoltResponse,
                 client: WebClient) -> BoltResponse:
        if isinstance(error, PermissionDenied) and isinstance(body, dict):
            error = _unchecked_lead(deps, error, body)
        return handle_error(error, body, response, client)

    middleware.register(app, deps)
    commands.register(app, deps, {"timeline": timeline.command, "settings": settings.command})
    # outage before views: its "modal:draft" must not fall to the generic "modal:" listener
    for surface in (actions, outage, views, events, lifecycle, home, timeline, shortcuts,
                    settings):
        surface.register(app, deps)


def _unchecked_lead(deps: Deps, error: PermissionDenied, body: dict) -> PermissionDenied:
    """A refusal that a lead would not get, for someone whose lead group Slack did not let us
    read: say so, rather than let a lead believe they are not one."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    if not isinstance(user, str) or not deps.people.lead_unknown(user):
        return error
    return PermissionDenied(f"{error.message} (If you are a lead through a user group: I "
                            "couldn't check the lead groups in Slack just now; please try again "
                            "in a minute.)")
