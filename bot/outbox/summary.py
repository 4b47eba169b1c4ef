"""The incident's summary, posted where it was asked for, with its cadence chart attached."""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import blocks, chart
from bot.outbox.context import EffectContext
from bot.outbox.messages import targets
from bot.slack.errors import explain
from playbook.domain.model import Incident, Target
from playbook.domain.summary import summarize

log = logging.getLogger(__name__)


def do_summary(ctx: EffectContext, inc: Incident, payload: dict) -> None:
    now = ctx.clock()
    png = cadence_chart(inc, now)
    note = None if png is not None or chart.chart_available() else chart.ENABLE_HINT
    assert inc.id is not None
    summary = summarize(inc, now, ctx.timeline.corrected(inc.id))
    messages = blocks.summary_messages(summary, chart_note=note)
    for channel in targets(ctx, inc, Target(payload["target"]), None):
        for msg in messages:
            ctx.client.chat_postMessage(channel=channel, **msg)
        if png is not None:
            upload_chart(ctx, inc, channel, png)


def cadence_chart(inc: Incident, now: datetime) -> bytes | None:
    """The chart is an extra: a bug in it must never cost (or repeat) the summary."""
    try:
        return chart.render_cadence_chart(inc, now)
    except Exception:
        log.exception("%s: could not draw the cadence chart", inc.key)
        return None


def upload_chart(ctx: EffectContext, inc: Incident, channel: str, png: bytes) -> None:
    try:
        if channel[0] in "UW":  # leads by DM: completeUploadExternal wants a D… id
            channel = ctx.client.conversations_open(users=channel)["channel"]["id"]
        ctx.client.files_upload_v2(
            channel=channel, content=png, filename=chart.chart_filename(inc),
            title=f"{inc.key} customer-update cadence (UTC)",
            initial_comment=f"📈 *{inc.key}* cadence: updates, due times and gaps over "
                            "the agreed interval.")
    except (SlackApiError, SlackClientError) as err:
        # the summary is already out: raising would retry the row and post it twice
        log.warning("%s: cadence chart not attached in %s: %s", inc.key, channel, explain(err))
