"""The App Home tab: the viewer's open incidents and every overdue customer update."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.blocks.kit import VIEW_MAX_BLOCKS, context, header, section, sections, view_dict
from playbook.domain import cadence
from playbook.domain.model import Incident, Status
from playbook.domain.steps import STEP_TITLES, all_complete
from playbook.domain.text import channel_link, date_token, esc, fmt_duration, mention, truncate

__all__ = ["HOME_ITEMS_MAX", "home"]

# One section per incident; two lists of at most 40 plus the fixed blocks stay under 100.
HOME_ITEMS_MAX = 40
CUSTOMER_MAX = 80
OUTAGES_MAX = 20  # lines packed into a few sections: the view stays under 100 blocks
OPEN_HOWTO = ("Open one with `/incident open` (a short form), or in one line: "
              f"`/incident open {esc('[sev1-4] <customer>: <what happened>')}`.")


def _where(inc: Incident) -> str:
    if all_complete(inc):
        return "every step done, ready to close"
    if inc.status is Status.RESOLVED:
        return f"resolved, step: {STEP_TITLES[inc.step]}"
    return f"step: {STEP_TITLES[inc.step]}"


def _next_update(inc: Incident, now: datetime) -> str:
    late = cadence.overdue_by(inc, now)
    if late is not None:
        return f"⚠️ *update overdue by {fmt_duration(late)}*"
    due = cadence.next_update_due(inc)
    if due is not None:
        return f"next update due {date_token(due)}"
    return "no update due"


def _roles(inc: Incident, user_id: str) -> str:
    roles = []
    if inc.owner == user_id:
        roles.append("you own it")
    if inc.communicator == user_id:
        roles.append("you speak to the customer")
    if inc.opened_by == user_id:
        roles.append("you opened it")
    return ", ".join(roles)


def _item(inc: Incident, now: datetime, user_id: str, *, show_owner: bool) -> str:
    customer = truncate(esc(" ".join(inc.customer.split())), CUSTOMER_MAX)
    channel = channel_link(inc.channel_id) if inc.channel_id else "_channel not created yet_"
    first = f"*{inc.key}* · {customer} · {inc.severity} · {_where(inc)} · {channel}"
    second = [_next_update(inc, now)]
    if show_owner:
        second.append(f"owner {mention(inc.owner)}" if inc.owner else "no owner yet")
    else:
        roles = _roles(inc, user_id)
        if roles:
            second.append(roles)
    return f"{first}\n{' · '.join(second)}"


def _group(title: str, incidents: list[Incident], now: datetime, user_id: str, *,
           empty: str, show_owner: bool) -> list[Block]:
    blocks: list[Block] = [section(f"*{title}* ({len(incidents)})")]
    if not incidents:
        blocks.append(context(empty))
        return blocks
    for inc in incidents[:HOME_ITEMS_MAX]:
        blocks.append(section(_item(inc, now, user_id, show_owner=show_owner)))
    more = len(incidents) - HOME_ITEMS_MAX
    if more > 0:
        blocks.append(context(f"…and {more} more: `/incident list` shows them all."))
    return blocks


def home(user_id: str, mine: list[Incident], overdue: list[Incident],
         now: datetime, outages: Sequence[str] = (),
         settings: Sequence[Block] = ()) -> dict[str, Any]:
    """The Home tab view (``type: home``) for `user_id`.

    `mine` are the open incidents the user owns, speaks for or opened; `overdue` every
    incident whose customer update is overdue. Both are shown in the order given. `outages`
    are ready lines for the open outages (`bot.blocks.outage.outage_lines`), shown first;
    `settings` the workspace's settings (`bot.blocks.settings.settings_home_blocks`), last.
    """
    shown = list(outages)[:OUTAGES_MAX]
    outage_blocks: list[Block] = []
    if shown:
        more = len(outages) - len(shown)
        outage_blocks = [*sections([f"*Open outages* ({len(outages)})", *shown]
                                   + ([f"…and {more} more: `/incident list`."] if more else [])),
                         DividerBlock()]
    blocks: list[Block] = [
        header("Customer crisis playbook"),
        context(f"Hi {mention(user_id)} · as of {date_token(now)} · "
                "`/incident help` shows what you can do"),
        *outage_blocks,
        *_group("Your open incidents", mine, now, user_id, show_owner=False,
                empty=f"Nothing open for you. {OPEN_HOWTO}"),
        DividerBlock(),
        *_group("Overdue customer updates", overdue, now, user_id, show_owner=True,
                empty="No customer update is overdue."),
    ]
    if not mine and not overdue:
        blocks.append(DividerBlock())
        blocks.append(section(
            "*How it works*\nEach incident gets its own channel and a status card that walks "
            "the team through five steps: listen, restate, own, solve, follow up. The bot "
            "reminds the channel when the customer is due an update."))
    if settings:
        blocks.extend([DividerBlock(), *settings])
    if len(blocks) > VIEW_MAX_BLOCKS:  # pragma: no cover - HOME_ITEMS_MAX keeps us below
        raise ValueError(f"home view has {len(blocks)} blocks")
    return view_dict(View(type="home", blocks=blocks))
