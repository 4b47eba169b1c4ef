"""What shows an incident's state: its pinned card in the channel, and each person's App Home.

The card is posted once (and pinned) when the channel is made, then edited in place. While the
channel is unusable its copy in the fallback place is kept current instead
(bot/outbox/lifecycle.py); an incident attached to an outage also has a line on the outage's
card, refreshed with it (bot/outbox/outages.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import Block

from bot import blocks
from bot.blocks.outage import outage_lines
from bot.blocks.settings import settings_home_blocks
from bot.outbox import outages
from bot.outbox.context import EffectContext
from bot.outbox.conversations import pin
from bot.outbox.lifecycle import fallback_card, usable
from bot.slack.errors import MESSAGE_GONE
from playbook.domain import cadence
from playbook.domain.model import Incident

log = logging.getLogger(__name__)

ZERO = timedelta(0)


def post_card(ctx: EffectContext, inc: Incident) -> None:
    assert inc.id is not None and inc.channel_id is not None
    card = blocks.card(inc, ctx.clock(), ctx.service.playbooks.playbook_for(inc))
    resp = ctx.client.chat_postMessage(channel=inc.channel_id, **card)
    ctx.service.set_card(inc.id, resp["ts"])
    pin(ctx, inc.channel_id, resp["ts"], inc.key)


def do_refresh_card(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    if inc.channel_id is None:
        return
    if not usable(ctx, inc):
        fallback_card(ctx, inc)
    elif inc.card_ts is None:
        post_card(ctx, inc)
    else:
        try:
            playbook = ctx.service.playbooks.playbook_for(inc)
            ctx.client.chat_update(channel=inc.channel_id, ts=inc.card_ts,
                                   **blocks.card(inc, ctx.clock(), playbook))
        except SlackApiError as err:
            if err.response.get("error") not in MESSAGE_GONE:
                raise
            post_card(ctx, inc)
    outages.after_incident_card(ctx, inc)


def settings_home(ctx: EffectContext, team_id: str, user: str) -> list[Block]:
    """The workspace's settings for the Home tab, with the Settings button only for its
    admins and owners (users.info; if Slack can't say, the button waits for the next look)."""
    try:
        info = ctx.client.users_info(user=user).get("user") or {}
        admin = bool(info.get("is_admin") or info.get("is_owner"))
    except (SlackClientError, OSError) as err:
        log.info("users.info %s failed (%s): Home without the Settings button", user, err)
        admin = False
    found = ctx.service.workspaces.get(team_id)
    return settings_home_blocks(found.settings, found.stored, can_edit=admin,
                                playbook_name=found.playbook.name)


def do_home(ctx: EffectContext, team_id: str, user: str) -> None:
    """Publish the person's App Home: their incidents, the overdue ones, open outages."""
    incidents = ctx.service.open_incidents_by_urgency(team_id)
    now = ctx.clock()
    mine = [i for i in incidents if user in (i.owner, i.communicator, i.opened_by)]
    overdue = [i for i in incidents if (late := cadence.overdue_by(i, now)) and late > ZERO]
    lines = outage_lines(ctx.outages.list_open(team_id), now)
    ctx.client.views_publish(user_id=user, view=blocks.home(
        user, mine, overdue, now, lines, settings_home(ctx, team_id, user)))
