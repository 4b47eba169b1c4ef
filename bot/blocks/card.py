"""The live status card pinned in the incident channel.

`card` shows where the incident stands at `now`: the step and its aim, the five steps as
progress, what the current step still needs (with the command for each), who owns it and
speaks for it, when the customer hears from us next, the open promises, and the buttons that
make sense in this state. Buttons use ``action_id="card:<what>"`` and ``value=str(incident.id)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
)

from bot.blocks.kit import (
    ACTIONS_MAX_ELEMENTS,
    BUTTON_TEXT_MAX,
    context,
    header,
    label,
    message,
    plain,
    quote,
    require_id,
    section,
    sections,
)
from bot.slack.errors import invite_refusal
from playbook.domain import cadence, windows
from playbook.domain.capture import source_line
from playbook.domain.links import link_markup
from playbook.domain.model import (
    STEPS,
    CaptureKind,
    EmailStatus,
    Incident,
    PromiseStatus,
    Status,
    Step,
)
from playbook.domain.playbook_file import Playbook
from playbook.domain.steps import STEP_TITLES, all_complete
from playbook.domain.text import channel_link, date_token, esc, fmt_duration, mention, truncate

__all__ = ["BUTTON_LABELS", "PRIMARY_BLOCK_MAX", "PROMISES_SHOWN", "buttons_for", "card"]

PROMISES_SHOWN = 10
PRIMARY_BLOCK_MAX = 5  # buttons in the first actions block; the rest go in a second one
DESCRIPTION_MAX = 500
PROMISE_TEXT_MAX = 200
CHECK_VALUE_MAX = 200
SNOOZE_REASON_MAX = 200
LINKS_MAX = 1500  # of the people section's 3000 characters

BUTTON_LABELS: dict[str, str] = {
    "listen": "Record what they said",
    "restate": "Restate the problem",
    "confirm": "Customer confirmed it",
    "own": "Take ownership",
    "option": "Add option",
    "choose": "Recommend / choose",
    "relief": "Customer has relief",
    "resolve": "Mark resolved",
    "followup": "Follow-up notes",
    "promise": "Make a promise",
    "update": "Log customer update",
    "close": "Close incident",
    "skip": "Skip this step",
    "handover": "Hand over",
    "status": "Status",
}
_ORDER = tuple(BUTTON_LABELS)

_ICON_DONE, _ICON_SKIPPED, _ICON_CURRENT, _ICON_LATER = "✅", "⏭️", "▶️", "▫️"


def _main_action(inc: Incident) -> str | None:
    """The current step's main action: the one button styled primary."""
    if inc.status is Status.CLOSED:
        return None
    if all_complete(inc):
        return "close"
    if inc.step is Step.LISTEN:
        return "listen"
    if inc.step is Step.RESTATE:
        return "restate" if inc.restatement is None else "confirm"
    if inc.step is Step.OWN:
        return "own"
    if inc.step is Step.SOLVE:
        if not inc.options:
            return "option"
        if inc.chosen is None:
            return "choose"
        return "resolve" if inc.resolution is None else None
    if inc.resolution is None:
        return "resolve"
    return "update" if inc.customer_informed_at is None else "followup"


def buttons_for(inc: Incident) -> list[str]:
    """Which ``card:<what>`` buttons the card shows, main action first."""
    if inc.status is Status.CLOSED:
        return ["status"]
    complete = all_complete(inc)
    show = {
        "listen": inc.step is Step.LISTEN,
        "restate": inc.step is Step.RESTATE,
        "confirm": inc.restatement is not None and inc.restatement_confirmed_at is None,
        "own": inc.owner is None or inc.communicator is None,
        "option": inc.step is Step.SOLVE and inc.resolution is None,
        "choose": inc.step is Step.SOLVE and bool(inc.options),
        "relief": inc.relief_at is None and inc.resolved_at is None,
        "resolve": inc.resolution is None and inc.step in (Step.SOLVE, Step.FOLLOW_UP),
        "followup": inc.step is Step.FOLLOW_UP,
        "promise": True,
        "update": True,
        "close": complete,
        "skip": not complete,
        "handover": inc.owner is not None,
        "status": True,
    }
    chosen = [what for what in _ORDER if show[what]]
    main = _main_action(inc)
    if main in chosen:
        chosen.remove(main)
        chosen.insert(0, main)
    return chosen


def _button_label(inc: Incident, what: str) -> str:
    if what == "restate" and inc.restatement is not None:
        return "Edit restatement"
    if what == "own" and inc.owner is not None:
        return "Name communicator" if inc.communicator is None else "Owner & communicator"
    return BUTTON_LABELS[what]


def _button(inc: Incident, what: str, *, primary: bool) -> ButtonElement:
    confirm = None
    if what == "close":
        confirm = ConfirmObject(
            title=f"Close {inc.key}?",
            text="The summary goes to this channel and the leads. Check-ins still happen.",
            confirm="Close it",
            deny="Not yet",
        )
    return ButtonElement(
        text=plain(_button_label(inc, what), BUTTON_TEXT_MAX),
        action_id=f"card:{what}",
        value=str(require_id(inc)),
        style="primary" if primary else None,
        confirm=confirm,
    )


def _action_blocks(inc: Incident) -> list[ActionsBlock]:
    whats = buttons_for(inc)
    main = _main_action(inc)
    elements = [_button(inc, what, primary=what == main) for what in whats]
    first, rest = elements[:PRIMARY_BLOCK_MAX], elements[PRIMARY_BLOCK_MAX:]
    blocks = [ActionsBlock(block_id="card:actions", elements=first)]
    if rest:
        blocks.append(ActionsBlock(block_id="card:actions:more",
                                   elements=rest[:ACTIONS_MAX_ELEMENTS]))
    return blocks


def _progress(inc: Incident) -> str:
    parts = []
    for step in STEPS:
        record = inc.step_record(step)
        title = STEP_TITLES[step]
        if record is not None:
            icon = _ICON_SKIPPED if record.skipped_reason is not None else _ICON_DONE
            parts.append(f"{icon} {title}")
        elif step is inc.step and inc.status is not Status.CLOSED:
            parts.append(f"{_ICON_CURRENT} *{title}*")
        else:
            parts.append(f"{_ICON_LATER} {title}")
    return "   ".join(parts)


def _step_text(inc: Incident, playbook: Playbook) -> str:
    if inc.status is Status.CLOSED:
        when = f" {date_token(inc.closed_at)}" if inc.closed_at else ""
        return (f"*Closed*{when}. `/incident summary` shows how it went; if it comes back, "
                "the owner or a lead can `/incident reopen &lt;why&gt;`.")
    if all_complete(inc):
        return ("*Every step is done.* The owner or a lead can close the incident: the summary "
                "goes to this channel and to the leads.")
    number = STEPS.index(inc.step) + 1
    definition = playbook.steps[inc.step]
    text = f"*Step {number} of {len(STEPS)}: {definition.title}*\n_{definition.aim}_"
    if inc.reopenings:
        last = inc.reopenings[-1]
        text += (f"\n🔁 Reopened {date_token(last.at)} by {mention(last.by)}: "
                 f"{quote(last.reason, 300)}")
    return text


def _checklist(inc: Incident, playbook: Playbook) -> list[str]:
    """The current step's checklist, one line per item (only while the step is open).

    A team's playbook may make it long (up to ten items with long labels), so the lines are
    packed into as many sections as Slack's 3000 characters need.
    """
    if inc.status is Status.CLOSED or inc.step_record(inc.step) is not None:
        return []
    lines = []
    for item in playbook.steps[inc.step].items:
        required = " _(required)_" if item.required else ""
        if item.done(inc):
            value = inc.checks.get(item.key) if not item.builtin else None
            shown = f": {quote(value, CHECK_VALUE_MAX)}" if value else ""
            lines.append(f"✅ {esc(item.label)}{required}{shown}")
        else:
            lines.append(f"⬜ {esc(item.label)}{required}: {item.how}")  # how is mrkdwn-ready
    return lines


def _cadence_line(inc: Incident, now: datetime) -> str | None:
    interval = inc.cadence
    if interval is None or inc.status is Status.CLOSED:
        return None
    agreed = ("agreed with the customer" if inc.cadence_agreed
              else f"{inc.severity} default until the customer agrees one")
    window = inc.window
    during = f", {window.describe()}" if window else ""
    head = f"*Customer updates:* every {fmt_duration(interval)}{during} ({agreed})"
    due = cadence.next_update_due(inc)
    if due is None:
        if inc.customer_informed_at is not None:
            return f"{head}. The customer knows it is resolved: no more updates due."
        return head
    lines = [head]
    late = cadence.overdue_by(inc, now)
    if late is not None:
        lines.append(f"⚠️ *Update overdue by {fmt_duration(late)}* (was due {date_token(due)})")
    else:
        lines.append(f"Next update due {date_token(due)}")
    if window is not None:
        closes = windows.open_until(window, now)
        if closes is None:
            lines.append(f"⏸️ Outside the customer's hours: reminders resume when their window "
                         f"opens {date_token(windows.next_open(window, now))}")
        elif (reopens := windows.next_open(window, closes)) > closes:
            lines.append(f"Their hours end {date_token(closes)}; reminders pause until the "
                         f"window opens {date_token(reopens)}")
    return "\n".join(lines)


def _snooze_line(inc: Incident, now: datetime) -> str | None:
    until = cadence.snoozed_until(inc, now)
    if until is None or inc.status is Status.CLOSED:
        return None
    latest = max((sn for sn in inc.snoozes if sn.at <= now), key=lambda sn: sn.at)
    return (f"💤 Reminders snoozed until {date_token(until)} by {mention(latest.by)}: "
            f"{quote(latest.reason, SNOOZE_REASON_MAX)}")


def _people(inc: Incident, now: datetime) -> str:
    owner = mention(inc.owner) if inc.owner else "nobody yet"
    voice = mention(inc.communicator) if inc.communicator else "nobody yet"
    lines = [f"*Owner:* {owner}   *Communicator:* {voice}"]
    refused = _not_invited(inc)
    if refused:
        lines.append(refused)
    for line in (_cadence_line(inc, now), _snooze_line(inc, now)):
        if line:
            lines.append(line)
    lines += _depth_lines(inc, now)
    if inc.customer_channel_id:
        lines.append(f"*Customer channel:* {channel_link(inc.customer_channel_id)}")
    if inc.customer_emails:
        lines.append(_email_line(inc))
    if inc.parked:
        lines.append(f"*Parked topics:* {len(inc.parked)} (they come back in the summary)")
    links = _links(inc)
    if links:
        lines.append(links)
    return "\n".join(lines)


def _depth_lines(inc: Incident, now: datetime) -> list[str]:
    """What the customer has (relief, the fix or nothing yet), the leader call, and the
    apology while it is still owed (shown past the Own step, until it is recorded)."""
    if inc.status is Status.CLOSED:
        return []
    if inc.resolved_at is not None:
        has = f"the lasting fix (since {date_token(inc.resolved_at)})"
    elif inc.relief_at is not None:
        has = (f"relief since {date_token(inc.relief_at)}: "
               f"{quote(inc.relief or '', DESCRIPTION_MAX)}; the lasting fix is still to come")
    else:
        has = ("no relief yet. Stopping the pain comes first "
               "(`/incident relief &lt;what did it&gt;`)")
    lines = [f"*The customer has:* {has}"]
    if inc.leader_call_at is not None:
        lines.append(f"📞 *Leader call:* {mention(inc.leader_call_by)} contacted the customer "
                     f"{date_token(inc.leader_call_at)}")
    elif inc.leader_call_due_at is not None:
        late = " ⚠️ overdue" if inc.leader_call_due_at <= now else ""
        lines.append(f"📞 *Leader call:* a lead should contact the customer personally by "
                     f"{date_token(inc.leader_call_due_at)}{late} "
                     "(`/incident leader-call &lt;what you told them&gt;`)")
    if inc.apology_at is None and inc.step is not Step.LISTEN and inc.step is not Step.RESTATE:
        lines.append("🙏 *Apology:* not recorded yet (`/incident apology &lt;what we said&gt;`)")
    return lines


_EMAIL_STATE = {EmailStatus.PENDING: "waiting for the mail server",
                EmailStatus.SENT: "delivered", EmailStatus.FAILED: "⚠️ not delivered"}


def _email_line(inc: Incident) -> str:
    """The customer's addresses (escaped: they are typed text) and how the last email went."""
    shown = ", ".join(esc(a) for a in inc.customer_emails[:5])
    more = f" and {len(inc.customer_emails) - 5} more" if len(inc.customer_emails) > 5 else ""
    last = f" (last email: {_EMAIL_STATE[inc.emails[-1].status]})" if inc.emails else ""
    return f"*Customer email:* {shown}{more}{last}"


NOT_INVITED_SHOWN = 5  # people named on the card; the rest are counted


def _not_invited(inc: Incident) -> str | None:
    """``*Couldn't invite:* @ann (why) · …``: people Slack would not let the bot add, so the
    channel knows they are not reading it and someone reaches them another way."""
    if not inc.not_invited:
        return None
    shown = [f"{mention(user)} ({invite_refusal(code) or f'Slack said {esc(code)}'})"
             for user, code in list(inc.not_invited.items())[:NOT_INVITED_SHOWN]]
    more = len(inc.not_invited) - len(shown)
    tail = f" · …and {more} more" if more > 0 else ""
    return "*Couldn't invite:* " + " · ".join(shown) + tail


def _links(inc: Incident) -> str | None:
    """``*Links:* <url|label> · …``, as many as fit (addresses may be long)."""
    if not inc.links:
        return None
    shown: list[str] = []
    used = 0
    for link in inc.links:
        markup = link_markup(link)
        if used + len(markup) > LINKS_MAX and shown:
            break
        if len(markup) > LINKS_MAX:  # one very long address: its label stays readable
            markup = f"{truncate(esc(link.label), 80)} (L{link.number})"
        shown.append(markup)
        used += len(markup) + 3
    more = len(inc.links) - len(shown)
    tail = f" · …and {more} more in the summary" if more > 0 else ""
    return "*Links:* " + " · ".join(shown) + tail


def _promises(inc: Incident, now: datetime) -> str | None:
    open_ = [p for p in inc.promises if p.status is PromiseStatus.OPEN]
    if not open_:
        return None
    lines = [f"*Open promises* ({len(open_)})"]
    for p in open_[:PROMISES_SHOWN]:
        late = " ⚠️ past due" if p.due_at <= now else ""
        lines.append(f"• *P{p.number}* {truncate(esc(p.text), PROMISE_TEXT_MAX)}"
                     f" · due {date_token(p.due_at)}{late}")
    more = len(open_) - PROMISES_SHOWN
    if more > 0:
        lines.append(f"…and {more} more: `/incident status` lists them all.")
    return "\n".join(lines)


def _about(inc: Incident) -> str:
    lines = [quote(inc.description, DESCRIPTION_MAX)]
    if inc.customer_words:
        said = inc.customer_words[-1]
        source = next((c for c in reversed(inc.captures)
                       if c.kind is CaptureKind.LISTEN and c.text == said), None)
        where = f" ({source_line(source)})" if source is not None else ""
        lines.append(f"*They said:* {quote(said, DESCRIPTION_MAX)}{where}")
    if inc.resolution is not None:
        when = f" {date_token(inc.resolved_at)}" if inc.resolved_at else ""
        lines.append(f"*Resolved*{when}: {quote(inc.resolution, DESCRIPTION_MAX)}")
    return "\n".join(lines)


def card(inc: Incident, now: datetime, playbook: Playbook) -> dict[str, Any]:
    """The status card as a message body: ``{"text": fallback, "blocks": [...]}``.

    `playbook` is the one the incident was opened under (its checklist and wording).
    """
    title = f"{inc.key} · {label(inc.customer)}"
    level = playbook.severity(inc.severity)
    meaning = level.description if level else ""
    opened = f"opened {date_token(inc.opened_at)} by {mention(inc.opened_by)}"
    blocks: list[Block] = [
        header(title),
        context(f"*{inc.severity}* {esc(meaning)}".strip(),
                f"*{inc.status.value.capitalize()}* · {opened}"),
        section(_about(inc)),
        section(_step_text(inc, playbook)),
        section(_progress(inc)),
    ]
    blocks += sections(_checklist(inc, playbook))
    blocks += [DividerBlock(), section(_people(inc, now))]
    promises = _promises(inc, now)
    if promises:
        blocks.append(section(promises))
    blocks += _action_blocks(inc)
    blocks.append(context(f"As of {date_token(now)} · `/incident help` for every command"))
    where = "closed" if inc.status is Status.CLOSED else \
        f"{STEP_TITLES[inc.step]} ({inc.status.value})"
    return message(f"{inc.key} · {esc(inc.customer)}: {where}", blocks)
