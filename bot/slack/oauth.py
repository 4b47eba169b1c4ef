"""The OAuth v2 install of multi-workspace mode, as Bolt runs it.

Bolt's `OAuthFlow` serves `GET /slack/install` (the "Add to Slack" page, which sets a state
cookie and stores the state in `slack_oauth_states`) and `GET /slack/oauth_redirect` (checks
the state against the cookie, exchanges the code by oauth.v2.access on our `SLACK_API_URL`
client, saves the installation). Bolt's `InstallationStoreAuthorize` then finds each request's
token in the same store (bot-only: the bot token is all we use), rotating it when it carries a
refresh token and is about to expire.

A successful install (or reinstall) calls `on_installed` before the "installed" page is
answered: that is what resumes a paused workspace at once (bot/runtime.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation

from bot.config import Settings
from bot.settings_parse import DEFAULT_API_URL
from bot.slack.installations import ROTATE_BEFORE, Installations
from playbook.domain.model import Incident
from playbook.services.incidents import Service

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
OAUTH_PATHS = (INSTALL_PATH, REDIRECT_PATH)


def authorization_url(api_url: str) -> str | None:
    """Slack's consent page: on the same host as a non-default `SLACK_API_URL` (a local
    Slack), else Bolt's default (https://slack.com/oauth/v2/authorize)."""
    if api_url == DEFAULT_API_URL:
        return None
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/v2/authorize"


def bolt_oauth_options(settings: Settings, installs: Installations, client: WebClient,
                       on_installed: Callable[[Installation], None]) -> dict[str, Any]:
    """The keyword arguments that make a Bolt `App` multi-workspace."""
    assert settings.slack_client_id and settings.slack_client_secret
    rotate_minutes = int(ROTATE_BEFORE.total_seconds() // 60)

    def success(args: SuccessArgs) -> BoltResponse:
        try:
            on_installed(args.installation)
        except Exception:  # the install is saved; a paused team resumes at its next request
            log.exception("could not resume workspace %s after its install",
                          args.installation.team_id)
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        log.warning("an install failed: %s", args.reason)
        return args.default.failure(args)

    oauth = OAuthSettings(
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
        scopes=list(settings.slack_scopes), installation_store=installs.installation_store,
        installation_store_bot_only=True, state_store=installs.states,
        install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorization_url(settings.slack_api_url),
        callback_options=CallbackOptions(success=success, failure=failure),
        token_rotation_expiration_minutes=rotate_minutes,
    )
    authorize = InstallationStoreAuthorize(
        logger=log, installation_store=installs.installation_store,
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
        bot_only=True, client=client,
        token_rotation_expiration_minutes=rotate_minutes,
        # auth.test once per token, not once per request before the ack (a new token, after
        # a reinstall or a rotation, is a new key; a revoked one is found out by the outbox)
        cache_enabled=True)
    return {"oauth_settings": oauth, "installation_store": installs.installation_store,
            "authorize": authorize, "installation_store_bot_only": True}


def resume_on_install(installs: Installations, service: Service, wake: Callable[[], None],
                      schedule: Callable[[Incident], None]) -> Callable[[Installation], None]:
    """What a successful install does: the workspaces it serves that were paused (uninstalled,
    tokens revoked) resume at once. Their held outbox rows are due now and the outbox is woken
    (rows go out in their order, each incident's chain as always); their incidents' reminders
    are planned again, so those that came due during the pause fire now, without waiting for a
    command or the scheduler's periodic look."""

    def resume(installation: Installation) -> None:
        resumed = installs.workspaces.installed(installs.served_by(installation))
        if not resumed:
            return
        log.warning("installed again in %s: sends resume (%d held rows released)",
                    ", ".join(sorted(resumed)), sum(resumed.values()))
        wake()
        for inc in service.reminders.active_incidents():
            if inc.team_id in resumed:
                schedule(inc)

    return resume
