"""Several workspaces installing one distributed app by OAuth v2, as Slack plays it.

`enable_oauth(slack, client_id, client_secret)` turns the local Slack into the home of a
distributed app. Then:

* `approve(state, team_id=...)` is a person clicking "Allow" on Slack's consent page for their
  workspace (or, ``org_wide=True``, an org admin installing for a whole Enterprise Grid org): it
  returns the one-time ``code`` Slack would append to the redirect URL.
* ``oauth.v2.access`` exchanges that code (once, within 10 minutes, with the app's client id
  and secret: HTTP Basic or form fields, as Slack accepts both) for a bot token of that
  workspace; with ``rotation=True`` the token expires and comes with a refresh token
  (``grant_type=refresh_token``), as with Slack's token rotation.
  Source: https://api.slack.com/methods/oauth.v2.access and /authentication/rotation.
* Each workspace's token works for that workspace only: a channel of another workspace is
  ``channel_not_found`` (Slack's answer for a channel the token cannot see), and ``auth.test``
  names the token's own workspace. Every call's token is recorded (`token_calls`), so a test
  can prove no call carried another workspace's token.
* `uninstall(slack, app_url, team_id)` sends ``app_uninstalled`` for that workspace (or org)
  and from then on its tokens are ``invalid_auth``; a new install mints new tokens.
* `as_team(slack, team_id, enterprise_id=..., org_wide=...)` makes the requests sent inside
  (commands, clicks, events) come from that workspace, Grid fields included.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .state import Workspace

CODE_TTL = 600.0  # Slack: a code must be exchanged within 10 minutes, once
CHANNEL_PARAMS = ("channel", "channel_id")


@dataclass
class Tenant:
    """One installation: a workspace (or a whole org, org-wide) and its current token."""

    team_id: str | None
    enterprise_id: str | None
    org_wide: bool
    token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    error: str | None = None  # set: the install is gone (uninstalled, revoked)

    def serves(self, team_id: str | None, enterprise_id: str | None) -> bool:
        if self.org_wide:
            return enterprise_id is not None and enterprise_id == self.enterprise_id
        return team_id == self.team_id


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    home_team: str  # the team that owns channels nobody assigned (the stand-in's own)
    rotation: bool = False
    expires_in: int = 43200  # Slack: rotating tokens live 12 hours
    scope: str = "commands,chat:write"
    codes: dict[str, tuple[float, Tenant, str]] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)  # token -> install
    refresh: dict[str, Tenant] = field(default_factory=dict)  # refresh token -> install
    minted: dict[str, Tenant] = field(default_factory=dict)  # every token ever issued
    channel_team: dict[str, str] = field(default_factory=dict)
    orgs: dict[str, str] = field(default_factory=dict)  # team -> its Grid org
    # every call: (method, token, channel named), in order
    token_calls: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def team_of_channel(self, channel_id: str) -> str:
        return self.channel_team.get(channel_id, self.home_team)

    def tokens_of(self, team_id: str) -> set[str]:
        """Every token ever minted that serves `team_id` (revoked ones included)."""
        with self.lock:
            return {t for t, ten in self.minted.items()
                    if ten.serves(team_id, self.orgs.get(team_id))}


def enable_oauth(ws: Workspace, client_id: str = "1111.2222", client_secret: str = "oauth-secret",
                 *, rotation: bool = False) -> OAuthApp:
    app = OAuthApp(client_id, client_secret, home_team=ws.team_id, rotation=rotation)
    ws.oauth = app  # type: ignore[attr-defined]
    return app


def oauth_of(ws: Workspace) -> OAuthApp | None:
    return getattr(ws, "oauth", None)


def approve(ws: Workspace, state: str, *, team_id: str | None, enterprise_id: str | None = None,
            org_wide: bool = False, user_id: str = "U0ADMIN") -> str:
    """Someone allows the install on Slack's consent page; returns the redirect's ``code``."""
    app = oauth_of(ws)
    assert app is not None, "enable_oauth first"
    if org_wide and not enterprise_id:
        raise ValueError("an org-wide install needs the org (enterprise_id)")
    code = f"{int(time.time())}.{secrets.token_hex(8)}"
    tenant = Tenant(None if org_wide else team_id, enterprise_id, org_wide, token="")
    with app.lock:
        app.codes[code] = (time.monotonic(), tenant, user_id)
        if team_id and enterprise_id:
            app.orgs[team_id] = enterprise_id
    return code


def add_team_channel(ws: Workspace, team_id: str, name: str, **kwargs: Any) -> Any:
    """Seed a channel of workspace `team_id` (see `Workspace.add_channel`)."""
    app = oauth_of(ws)
    assert app is not None
    chan = ws.add_channel(name, **kwargs)
    with app.lock:
        app.channel_team[chan.id] = team_id
    return chan


def join_org(ws: Workspace, team_id: str, enterprise_id: str) -> None:
    """Workspace `team_id` belongs to the Grid org `enterprise_id`."""
    app = oauth_of(ws)
    assert app is not None
    with app.lock:
        app.orgs[team_id] = enterprise_id


@contextlib.contextmanager
def as_team(ws: Workspace, team_id: str, *, enterprise_id: str | None = None,
            org_wide: bool = False) -> Iterator[None]:
    """Requests sent inside come from workspace `team_id` (of org `enterprise_id`)."""
    saved = (ws.team_id, getattr(ws, "enterprise_id", None),
             getattr(ws, "is_enterprise_install", False))
    app = oauth_of(ws)
    org = enterprise_id or (app.orgs.get(team_id) if app else None)
    ws.team_id, ws.enterprise_id, ws.is_enterprise_install = team_id, org, org_wide  # type: ignore[attr-defined]
    try:
        yield
    finally:
        ws.team_id, ws.enterprise_id, ws.is_enterprise_install = saved  # type: ignore[attr-defined]


def uninstall(ws: Workspace, app_url: str | None, team_id: str, *,
              org_wide: bool = False) -> Any:
    """The app is uninstalled from `team_id` (from its whole org when ``org_wide``):
    ``app_uninstalled`` goes to the app, then the install's tokens are refused."""
    app = oauth_of(ws)
    assert app is not None
    with as_team(ws, team_id, org_wide=org_wide):
        reply = ws.event(app_url, {"type": "app_uninstalled"})  # type: ignore[attr-defined]
    org = app.orgs.get(team_id)
    with app.lock:
        for tenant in app.tenants.values():
            if (org_wide and tenant.org_wide and tenant.enterprise_id == org) or \
                    (not org_wide and not tenant.org_wide and tenant.team_id == team_id):
                tenant.error = "invalid_auth"
    return reply


# --------------------------------------------------------------------------------------------
# the Web API side (called by webapi.dispatch)


def _credentials(params: dict[str, Any], token: str | None) -> tuple[str | None, str | None]:
    if token and token.lower().startswith("basic "):
        try:
            raw = base64.b64decode(token[6:].strip()).decode()
        except ValueError:
            return None, None
        client_id, _, secret = raw.partition(":")
        return client_id, secret
    return params.get("client_id"), params.get("client_secret")


def _access(app: OAuthApp, ws: Workspace, params: dict[str, Any],
            token: str | None) -> dict[str, Any]:
    client_id, secret = _credentials(params, token)
    if client_id != app.client_id:
        return {"ok": False, "error": "invalid_client_id"}
    if secret != app.client_secret:
        return {"ok": False, "error": "bad_client_secret"}
    with app.lock:
        if params.get("grant_type") == "refresh_token":
            old = app.refresh.pop(str(params.get("refresh_token") or ""), None)
            if old is None or old.error:
                return {"ok": False, "error": "invalid_refresh_token"}
            tenant, user = old, "U0ADMIN"
            # the previous access token stays good until it expires, and the refresh token
            # is kept (a process that refreshed a moment ago may still be using either)
            app.refresh[str(params.get("refresh_token"))] = old
        else:
            found = app.codes.pop(str(params.get("code") or ""), None)
            if found is None:
                return {"ok": False, "error": "invalid_code"}
            issued, tenant, user = found
            if time.monotonic() - issued > CODE_TTL:
                return {"ok": False, "error": "invalid_code"}
        where = tenant.enterprise_id if tenant.org_wide else tenant.team_id
        tenant.token = f"xoxb-{where}-{secrets.token_hex(6)}"
        if app.rotation:
            tenant.token = "xoxe.xoxb-1-" + tenant.token[5:]
            tenant.refresh_token = tenant.refresh_token or f"xoxe-1-{secrets.token_hex(8)}"
            tenant.expires_at = time.time() + app.expires_in
            app.refresh[tenant.refresh_token] = tenant
        app.tenants[tenant.token] = tenant
        app.minted[tenant.token] = tenant
    body: dict[str, Any] = {
        "ok": True, "access_token": tenant.token, "token_type": "bot", "scope": app.scope,
        "bot_user_id": ws.bot_user_id, "app_id": ws.app_id,
        "team": None if tenant.org_wide else {"id": tenant.team_id, "name": tenant.team_id},
        "enterprise": {"id": tenant.enterprise_id, "name": tenant.enterprise_id}
        if tenant.enterprise_id else None,
        "is_enterprise_install": tenant.org_wide, "authed_user": {"id": user},
    }
    if app.rotation:
        body.update(refresh_token=tenant.refresh_token, expires_in=app.expires_in)
    return body


def answer(ws: Workspace, method: str, params: dict[str, Any],
           token: str | None) -> dict[str, Any] | None:
    """Slack's answer when the call is about OAuth or carries an install's token and is
    refused; None: the method runs as usual (the token, if an install's, is good)."""
    app = oauth_of(ws)
    if app is None:
        return None
    with app.lock:
        named = next((params[k] for k in CHANNEL_PARAMS if isinstance(params.get(k), str)), None)
        app.token_calls.append((method, token, named))
    if method == "oauth.v2.access":
        return _access(app, ws, params, token)
    with app.lock:
        tenant = app.tenants.get(token or "")
    if tenant is None:
        return None
    if tenant.error:
        return {"ok": False, "error": tenant.error}
    if tenant.expires_at is not None and time.time() >= tenant.expires_at:
        return {"ok": False, "error": "token_expired"}
    for key in CHANNEL_PARAMS:
        channel = params.get(key)
        if isinstance(channel, str) and channel[:1] in ("C", "G") and \
                not tenant.serves(app.team_of_channel(channel),
                                  app.orgs.get(app.team_of_channel(channel))):
            return {"ok": False, "error": "channel_not_found"}
    if method == "conversations.create" and tenant.org_wide:
        # conversations.create's `team_id`: "Encoded team id to create the channel in,
        # required if org token is used" (https://docs.slack.dev/reference/methods/
        # conversations.create). An org-wide install's token names no one workspace, so a
        # create without it is refused; one for a workspace outside the org finds nothing.
        team = params.get("team_id")
        if not team:
            return {"ok": False, "error": "missing_argument"}
        if app.orgs.get(str(team)) != tenant.enterprise_id:
            return {"ok": False, "error": "team_not_found"}
    if method == "auth.test":
        team = tenant.team_id or ws.team_id
        return {"ok": True, "url": f"{ws.base_url}/", "team": team, "user": "crisisbot",
                "team_id": team, "user_id": ws.bot_user_id, "bot_id": ws.bot_id,
                "app_id": ws.app_id, "enterprise_id": tenant.enterprise_id,
                "is_enterprise_install": tenant.org_wide}
    return None


def knows(ws: Workspace, token: str | None) -> bool:
    app = oauth_of(ws)
    return app is not None and token is not None and token in app.tenants


def after(ws: Workspace, method: str, token: str | None, body: dict[str, Any],
          params: dict[str, Any] | None = None) -> None:
    """A channel an install creates belongs to the workspace the request acted in (an
    org-wide install's: the `team_id` it named)."""
    app = oauth_of(ws)
    if app is None or method != "conversations.create" or not body.get("ok"):
        return
    with app.lock:
        tenant = app.tenants.get(token or "")
        if tenant is not None:
            named = (params or {}).get("team_id") if tenant.org_wide else None
            team = tenant.team_id or (str(named) if named else ws.team_id)
            app.channel_team[str(body["channel"]["id"])] = team
