"""Outage messages: the outage card, drafts offered to incidents, resolve prompts, the edit form.

Buttons: ``draft:log`` / ``draft:edit`` / ``draft:dismiss`` carry ``value=str(draft.id)``;
``outage:resolve`` carries ``"<incident id>:<outage id>"``. The edit form is
``callback_id="modal:draft"`` with ``private_metadata={"draft_id": …}`` and one input
``text`` (action_id ``v``), so the view listeners read it like every other form.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock
from slack_sdk.models.views import View

from bot.blocks.kit import (
    BUTTON_TEXT_MAX,
    HEADER_TEXT_MAX,
    VIEW_TITLE_MAX,
    context,
    header,
    label,
    message,
    plain,
    quote,
    section,
    sections,
    view_dict,
)
from bot.blocks.modals import input_block, text_input
from playbook.domain.model import Incident
from playbook.domain.outage import Draft, DraftStatus, Outage, OutageStatus, customer_rows, row_text
from playbook.domain.text import date_token, esc, mention, truncate

__all__ = ["draft_message", "draft_modal", "outage_card", "resolve_prompt"]

CUSTOMERS_SHOWN = 30  # one line each, packed into sections: well inside 50 blocks
TEXT_SHOWN = 2500


def outage_card(out: Outage, attached: list[Incident], now: datetime) -> dict[str, Any]:
    """The pinned card of an outage: status, latest update, attached customers overdue first."""
    rows = customer_rows(attached, now)
    late = [r for r in rows if r.overdue_by is not None]
    state = "Resolved" if out.status is OutageStatus.RESOLVED else "Open"
    blocks: list[Block] = [
        header(truncate(f"{out.key} · {label(out.title)}", HEADER_TEXT_MAX)),
        context(f"*{state}* · opened {date_token(out.opened_at)} by {mention(out.opened_by)}"),
    ]
    if out.resolution is not None:
        when = f" {date_token(out.resolved_at)}" if out.resolved_at else ""
        blocks.append(section(f"*Resolved*{when}: {quote(out.resolution, 1000)}"))
    if out.updates:
        last = out.updates[-1]
        blocks.append(section(f"*Latest update* ({last.number}, {date_token(last.at)}): "
                              f"{quote(last.text, 1000)}"))
    blocks.append(DividerBlock())
    summary = (f"*Attached customers* ({len(rows)})"
               + (f" · ⚠️ *{len(late)} overdue*" if late else " · none overdue"))
    lines = [summary]
    lines += [f"• {row_text(r)}" for r in rows[:CUSTOMERS_SHOWN]]
    if len(rows) > CUSTOMERS_SHOWN:
        lines.append(f"…and {len(rows) - CUSTOMERS_SHOWN} more: `/incident status` lists all.")
    if not rows:
        lines.append(f"None yet. In a customer's incident channel: `/incident attach {out.key}`.")
    blocks += sections(lines)
    blocks.append(context(
        f"As of {date_token(now)} · here: `/incident update`, `/incident resolve`, "
        "`/incident status` · an update reaches each customer's incident as a draft"))
    return message(f"{out.key} · {esc(out.title)}: {len(rows)} customers, {len(late)} overdue",
                   blocks)


def _button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=plain(text, BUTTON_TEXT_MAX), action_id=action_id, value=value,
                         style=style)


def draft_message(draft: Draft, inc: Incident, out: Outage) -> dict[str, Any]:
    """A draft offered in an incident's channel, with its buttons while it is pending."""
    assert draft.id is not None
    head = (f"📣 *{out.key} update {draft.update_number}* is a draft for {inc.key} "
            f"({esc(inc.customer)}). It counts as a customer update only once you log it.")
    blocks: list[Block] = [section(head), section(f">{quote(draft.text, TEXT_SHOWN)}")]
    if draft.status is DraftStatus.PENDING:
        value = str(draft.id)
        blocks.append(ActionsBlock(block_id="draft:actions", elements=[
            _button("Log as sent", "draft:log", value, "primary"),
            _button("Edit and log", "draft:edit", value),
            _button("Dismiss", "draft:dismiss", value),
        ]))
    else:
        verb = "Logged as a customer update" if draft.status is DraftStatus.LOGGED \
            else "Dismissed for this customer"
        who = f" by {mention(draft.settled_by)}" if draft.settled_by else ""
        when = f" {date_token(draft.settled_at)}" if draft.settled_at else ""
        blocks.append(context(f"{verb}{who}{when}."))
    return message(f"{out.key} update {draft.update_number} (draft for {inc.key})", blocks)


def resolve_prompt(inc: Incident, out: Outage) -> dict[str, Any]:
    assert inc.id is not None and out.id is not None
    text = (f"✅ *{out.key} is resolved*: {quote(out.resolution or '', TEXT_SHOWN)}\n"
            f"Resolve {inc.key} too once {esc(inc.customer)} is really fixed, then tell them "
            "and log it.")
    blocks: list[Block] = [section(text), ActionsBlock(block_id="outage:actions", elements=[
        _button(f"Resolve {inc.key}", "outage:resolve", f"{inc.id}:{out.id}", "primary")])]
    return message(f"{out.key} is resolved: resolve {inc.key} too?", blocks)


def draft_modal(draft: Draft, inc: Incident, out: Outage) -> dict[str, Any]:
    """Edit the draft's text, then log it as this incident's customer update."""
    blocks: list[Block] = [
        context(f"*{inc.key}* · {truncate(label(inc.customer), 200)} · from {out.key} "
                f"update {draft.update_number}"),
        section("Adjust it for this customer, then log what they were told. It restarts "
                f"{inc.key}'s update clock."),
        input_block("text", "What we told the customer",
                    text_input(multiline=True, initial=draft.text)),
    ]
    view = View(type="modal", callback_id="modal:draft",
                title=plain("Edit and log update", VIEW_TITLE_MAX),
                submit=plain("Log it", VIEW_TITLE_MAX), close=plain("Cancel", VIEW_TITLE_MAX),
                private_metadata=json.dumps({"draft_id": draft.id, "incident_id": inc.id}),
                blocks=blocks)
    return view_dict(view)


def outage_lines(outages: list[tuple[Outage, list[Incident]]], now: datetime) -> list[str]:
    """One line per open outage, for `/incident list` and App Home."""
    lines = []
    for out, attached in outages:
        rows = customer_rows(attached, now)
        late = sum(1 for r in rows if r.overdue_by is not None)
        where = f"<#{out.channel_id}>" if out.channel_id else "(channel being created)"
        lines.append(f"• *{out.key}* {esc(out.title)} · {len(rows)} customer"
                     f"{'s' if len(rows) != 1 else ''}"
                     + (f" · *{late} overdue*" if late else "") + f" · {where}")
    return lines
