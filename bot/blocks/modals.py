"""The modals behind `/incident open` and the status card's buttons.

Contract (the view listeners rely on it): ``callback_id="modal:<name>"``; for an incident's
modal ``private_metadata=json.dumps({"incident_id": id})`` (``{"channel_id": …}`` for open);
every input block has ``block_id=<field name>`` and its element ``action_id="v"``. Checkboxes
use the single option value ``"yes"``; select options use the option number (choose), the
severity key (open) or the driver's label (listen, `DRIVERS`) as their value.

Initial values are the raw text as stored (an input shows its value verbatim, nothing is
rendered); every text Slack renders is escaped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DateTimePickerElement,
    InputBlock,
    InputInteractiveElement,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
    UrlInputElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.kit import (
    INPUT_MAX_LENGTH,
    OPTION_TEXT_MAX,
    SELECT_MAX_OPTIONS,
    VIEW_MAX_BLOCKS,
    VIEW_TITLE_MAX,
    context,
    label,
    pack,
    plain,
    quote,
    require_id,
    section,
    view_dict,
)
from playbook.domain.model import Incident, Status
from playbook.domain.playbook_file import Playbook, Severity
from playbook.domain.steps import STEP_TITLES, all_complete, missing
from playbook.domain.text import channel_link, esc, fmt_duration, mention, truncate
from playbook.domain.verbs.snooze import CHOICES as SNOOZE_CHOICES
from playbook.domain.verbs.snooze import MAX_SNOOZE

__all__ = [
    "DRIVERS",
    "MODALS",
    "choose_modal",
    "followup_modal",
    "handover_modal",
    "listen_modal",
    "open_modal",
    "option_modal",
    "own_modal",
    "promise_modal",
    "relief_modal",
    "resolve_modal",
    "restate_modal",
    "skip_modal",
    "snooze_modal",
    "update_modal",
]

DRIVERS: tuple[str, ...] = (
    "blocked from a goal",
    "looks bad to their people",
    "safety or security",
    "broken trust",
    "something else",
)
# The cadence window's day choices in the listen form: value -> label (values parse as days).
WINDOW_DAYS: dict[str, str] = {"daily": "Every day", "weekdays": "Weekdays (Mon–Fri)",
                               "weekends": "Weekends (Sat–Sun)"}
CUSTOMER_MAX_LENGTH = 80
WHAT_MAX_LENGTH = 2000
OPTIONS_INFO_SECTIONS = 10  # option descriptions shown above the choose selects
OPTION_INFO_MAX = 400


# --- building blocks --------------------------------------------------------------------------


def _meta(inc: Incident) -> str:
    return json.dumps({"incident_id": require_id(inc)})


def _modal(name: str, title: str, blocks: Sequence[Block], metadata: str, *,
           submit: str | None = "Save") -> dict[str, Any]:
    if len(title) > VIEW_TITLE_MAX:
        raise ValueError(f"modal title {title!r} is over {VIEW_TITLE_MAX} characters")
    if len(blocks) > VIEW_MAX_BLOCKS:
        raise ValueError(f"modal {name} has {len(blocks)} blocks (max {VIEW_MAX_BLOCKS})")
    view = View(
        type="modal",
        callback_id=f"modal:{name}",
        title=plain(title, VIEW_TITLE_MAX),
        submit=plain(submit, VIEW_TITLE_MAX) if submit else None,
        close=plain("Cancel", VIEW_TITLE_MAX),
        private_metadata=metadata,
        blocks=list(blocks),
    )
    return view_dict(view)


def _about(inc: Incident) -> Block:
    return context(f"*{inc.key}* · {truncate(label(inc.customer), 200)}")


def input_block(field: str, title: str, element: InputInteractiveElement, *, optional: bool = False,
                hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=field,
        label=plain(title, 2000),
        element=element,
        optional=optional,
        hint=plain(hint, 2000) if hint else None,
    )


def _initial(raw: str | None, limit: int = INPUT_MAX_LENGTH) -> str | None:
    """A stored value as an input's initial value (Slack refuses one over max_length)."""
    if not raw:
        return None
    return raw if len(raw) <= limit else raw[:limit]


def text_input(*, multiline: bool = False, initial: str | None = None,
               placeholder: str | None = None,
               max_length: int = INPUT_MAX_LENGTH) -> PlainTextInputElement:
    return PlainTextInputElement(
        action_id="v",
        multiline=multiline or None,
        initial_value=_initial(initial, max_length),
        placeholder=plain(placeholder, 150) if placeholder else None,
        max_length=max_length,
    )


def _users(initial: str | None = None, placeholder: str = "Pick a person") -> UserSelectElement:
    return UserSelectElement(action_id="v", initial_user=initial,
                             placeholder=plain(placeholder, 150))


def _yes(text: str, initial: bool = False) -> CheckboxesElement:
    yes = Option(value="yes", text=plain(text, OPTION_TEXT_MAX))
    return CheckboxesElement(action_id="v", options=[yes], initial_options=[yes] if initial
                             else None)


def _select(options: Sequence[Option], initial: Option | None = None,
            placeholder: str = "Choose") -> StaticSelectElement:
    return StaticSelectElement(action_id="v", options=list(options)[:SELECT_MAX_OPTIONS],
                               initial_option=initial, placeholder=plain(placeholder, 150))


# --- opening ----------------------------------------------------------------------------------


EMAILS_MAX_LENGTH = 1000


def _severity_option(level: Severity) -> Option:
    return Option(value=level.name,
                  text=plain(f"{level.name} — {level.description}", OPTION_TEXT_MAX))


def open_modal(channel_id: str | None, playbook: Playbook,
               outages: Sequence[tuple[int, str]] = ()) -> dict[str, Any]:
    """`/incident open` without text: customer, what happened, severity (the playbook's), and
    the open outage (number, title) the new incident is part of, if any (value: the OUT
    number)."""
    options = [_severity_option(level) for level in playbook.severities]
    initial = next(o for o in options if o.value == playbook.default_severity)
    blocks: list[Block] = [
        section("Open an incident for an upset customer. The bot creates its channel, posts the "
                "status card there and walks the team through the playbook."),
        input_block("customer", "Customer", text_input(max_length=CUSTOMER_MAX_LENGTH,
                                                       placeholder="Acme Corp")),
        input_block("what", "What happened", text_input(multiline=True, max_length=WHAT_MAX_LENGTH,
                                                        placeholder="In a sentence or two")),
        input_block("severity", "Severity", _select(options, initial, "Severity")),
        input_block("ticket", "Support ticket link", UrlInputElement(
            action_id="v", placeholder=plain("https://support.example.com/tickets/42", 150)),
            optional=True, hint="Shown on the card and bookmarked in the incident channel."),
        input_block("emails", "Customer email", text_input(
            max_length=EMAILS_MAX_LENGTH, placeholder="it@customer.example, ops@customer.example"),
            optional=True, hint="`/incident send` emails these addresses too: only what is "
                                "sent, never notes or reminders."),
    ]
    if outages:
        choices = [Option(value=str(number), text=plain(f"OUT-{number} {label(title)}",
                                                        OPTION_TEXT_MAX))
                   for number, title in outages]
        blocks.append(input_block("outage", "Part of an outage?", _select(choices, None, "None"),
                                  optional=True, hint="Outage updates then reach this customer's "
                                                      "incident as drafts."))
    return _modal("open", "Open an incident", blocks, json.dumps({"channel_id": channel_id}),
                  submit="Open")


# --- listen / restate / own -------------------------------------------------------------------


def listen_modal(inc: Incident) -> dict[str, Any]:
    drivers = [Option(value=d, text=plain(d, OPTION_TEXT_MAX)) for d in DRIVERS]
    cadence = fmt_duration(inc.cadence) if inc.cadence is not None and inc.cadence_agreed \
        else None
    heard = len(inc.customer_words)
    note = (f"{heard} quote{'s' if heard != 1 else ''} recorded so far; this adds another."
            if heard else "Write down what they said, in their words.")
    window = inc.window if inc.cadence_agreed else None
    days = [Option(value=v, text=plain(t, OPTION_TEXT_MAX)) for v, t in WINDOW_DAYS.items()]
    day_now = next((o for o in days if window and o.value == window.days_text()), None)
    blocks: list[Block] = [
        _about(inc),
        section(f"Let them say all of it. {note}"),
        input_block("words", "The customer's own words", text_input(multiline=True)),
        input_block("impact", "What it costs their business", text_input(multiline=True),
                    optional=True),
        input_block("driver", "What is really upsetting them", _select(drivers, None, "Pick one"),
                    optional=True),
        input_block("cadence", "How often they want updates",
                    text_input(initial=cadence, placeholder="30m, 1h, every 2 hours",
                               max_length=50),
                    optional=True, hint="The bot reminds the channel when an update is due."),
        input_block("window_hours", "Only during their hours",
                    text_input(initial=window.hours_text() if window else None,
                               placeholder="9-18 or 09:00-17:30", max_length=30),
                    optional=True, hint="Leave empty for around the clock. Outside these hours "
                                        "reminders pause and nothing counts as late."),
        input_block("window_days", "On these days", _select(days, day_now, "Every day"),
                    optional=True),
        input_block("window_zone", "In their time zone",
                    text_input(initial=window.tz if window else None, placeholder="Europe/Paris",
                               max_length=60),
                    optional=True, hint="An IANA zone name; empty means your own Slack time zone."),
    ]
    return _modal("listen", "Listen to the customer", blocks, _meta(inc))


def restate_modal(inc: Incident) -> dict[str, Any]:
    confirmed = inc.restatement_confirmed_at is not None
    blocks: list[Block] = [
        _about(inc),
        section("Say the problem back in the customer's exact terms, then ask them if it is "
                "right."),
        input_block("restatement", "The problem, in their terms",
                    text_input(multiline=True, initial=inc.restatement)),
        input_block("confirmed", "Confirmed", _yes("The customer confirmed this is right",
                                                   initial=confirmed), optional=True),
    ]
    return _modal("restate", "Restate the problem", blocks, _meta(inc))


def own_modal(inc: Incident) -> dict[str, Any]:
    blocks: list[Block] = [
        _about(inc),
        section("One owner answers for the fix; one communicator is the single voice to the "
                "customer."),
        input_block("owner", "Owner", _users(inc.owner)),
        input_block("communicator", "Communicator", _users(inc.communicator), optional=True),
        input_block("apology", "Apology given (what we said)", text_input(multiline=True),
                    optional=True),
    ]
    return _modal("own", "Owner and communicator", blocks, _meta(inc))


# --- solve ------------------------------------------------------------------------------------


def option_modal(inc: Incident) -> dict[str, Any]:
    count = len(inc.options)
    blocks: list[Block] = [
        _about(inc),
        section(f"Option {count + 1}. Give the customer real alternatives, each with its risk. "
                "Something that stops the pain tonight can come before the lasting fix."),
        input_block("text", "What we could do", text_input(multiline=True)),
        input_block("risk", "What could go wrong", text_input(multiline=True), optional=True,
                    hint="An option with no stated risk can't be recommended without a reason."),
        input_block("relief", "Relief or fix",
                    _yes("Relief: it stops the pain now, the cause stays to fix"),
                    optional=True),
    ]
    return _modal("option", "Add an option", blocks, _meta(inc))


def _option_label(number: int, text: str) -> str:
    return f"{number}. {label(text)}"


def choose_modal(inc: Incident) -> dict[str, Any]:
    """Recommend one option (and why) and record the customer's choice.

    Only offered when options exist; without any it says so and has nothing to submit.
    """
    if not inc.options:
        blocks: list[Block] = [
            _about(inc),
            section("There are no options yet. Add one first with *Add option* or "
                    f"`/incident option {esc('<what we could do>')} risk: "
                    f"{esc('<what could go wrong>')}`."),
        ]
        return _modal("choose", "Recommend and choose", blocks, _meta(inc), submit=None)
    listed = inc.options[-SELECT_MAX_OPTIONS:]
    options = {o.number: Option(value=str(o.number),
                                text=plain(_option_label(o.number, o.text), OPTION_TEXT_MAX))
               for o in listed}
    lines = []
    for o in listed:
        risk = f" · _risk:_ {quote(o.risk, OPTION_INFO_MAX)}" if o.risk else ""
        lines.append(f"*{o.number}.* {quote(o.text, OPTION_INFO_MAX)}{risk}")
    info = pack(lines)
    shown = info[:OPTIONS_INFO_SECTIONS]
    blocks = [_about(inc), *(section(chunk) for chunk in shown)]
    notes = []
    if len(info) > len(shown):
        notes.append("More options than fit here: the selects list them all.")
    if len(inc.options) > len(listed):
        notes.append(f"Only the latest {SELECT_MAX_OPTIONS} options are listed; "
                     "`/incident choose <n>` works for any of them.")
    if notes:
        blocks.append(context(esc(" ".join(notes))))
    blocks += [
        input_block("recommended", "We recommend",
                    _select(list(options.values()), options.get(inc.recommended or 0), "Option"),
                    optional=True),
        input_block("why", "Why we recommend it",
                    text_input(multiline=True, initial=inc.recommend_why), optional=True),
        input_block("chosen", "The customer chose",
                    _select(list(options.values()), options.get(inc.chosen or 0), "Option"),
                    optional=True),
    ]
    return _modal("choose", "Recommend and choose", blocks, _meta(inc))


def promise_modal(inc: Incident, initial_ts: int | None = None) -> dict[str, Any]:
    """A commitment to the customer with its due time (`initial_ts`: unix seconds to preset)."""
    blocks: list[Block] = [
        _about(inc),
        section("Every commitment to the customer gets a due time: the owner is reminded "
                "before it, and it is marked missed if it passes unkept."),
        input_block("what", "What we promised", text_input(
            multiline=True, placeholder="More information on the fix")),
        input_block("due", "By when", DateTimePickerElement(action_id="v",
                                                            initial_date_time=initial_ts)),
    ]
    return _modal("promise", "Make a promise", blocks, _meta(inc))


def update_modal(inc: Incident) -> dict[str, Any]:
    lines = ["Log what the customer was told, by any medium. It restarts the update clock."]
    if inc.resolved_at is not None and inc.customer_informed_at is None:
        lines.append("It is resolved: this update tells the customer so.")
    blocks: list[Block] = [_about(inc), section(" ".join(lines)),
                           input_block("text", "What we told the customer",
                                       text_input(multiline=True))]
    if inc.customer_channel_id:
        blocks.append(input_block("send", "Customer channel",
                                  _yes("Also post it to the customer channel"), optional=True,
                                  hint="Posted as written, so keep it customer-ready."))
        blocks.append(context(f"Customer channel: {channel_link(inc.customer_channel_id)}. "
                              "Only the owner or the communicator can post there."))
    return _modal("update", "Log customer update", blocks, _meta(inc))


def resolve_modal(inc: Incident, initial: str | None = None) -> dict[str, Any]:
    chosen = next((o for o in inc.options if o.number == inc.chosen), None)
    note = (f"The customer chose option {chosen.number}: {quote(chosen.text, 500)}"
            if chosen else "No option has been chosen yet.")
    blocks: list[Block] = [
        _about(inc),
        section(note),
        input_block("resolution", "What fixed it", text_input(multiline=True, initial=initial)),
        context("Then tell the customer and log it with *Log customer update*."),
    ]
    return _modal("resolve", "Resolve", blocks, _meta(inc))


def relief_modal(inc: Incident) -> dict[str, Any]:
    """Record that immediate relief reached the customer (the lasting fix still to come)."""
    blocks: list[Block] = [
        _about(inc),
        section("The customer's pain has stopped for now, before the lasting fix: say what "
                "did it. Time to relief is counted from when the incident was opened."),
        input_block("relief", "What stopped the pain", text_input(multiline=True)),
        context("The lasting fix is still recorded with *Mark resolved*."),
    ]
    return _modal("relief", "Customer has relief", blocks, _meta(inc))


# --- follow-up and skip -----------------------------------------------------------------------


def followup_modal(inc: Incident) -> dict[str, Any]:
    actions = len(inc.actions)
    lessons = len(inc.lessons)
    blocks: list[Block] = [
        _about(inc),
        section(f"Find the cause and make sure it cannot happen again. So far: {lessons} "
                f"lesson{'s' if lessons != 1 else ''}, {actions} prevention "
                f"action{'s' if actions != 1 else ''}."),
        input_block("rootcause", "Root cause", text_input(multiline=True, initial=inc.root_cause),
                    optional=True),
        input_block("lesson", "A lesson learned", text_input(multiline=True), optional=True),
        input_block("action", "A prevention action", text_input(multiline=True), optional=True),
        input_block("action_owner", "Owner of that action", _users(), optional=True),
    ]
    return _modal("followup", "Follow up", blocks, _meta(inc))


def skip_modal(inc: Incident, playbook: Playbook) -> dict[str, Any]:
    if inc.status is Status.CLOSED or all_complete(inc):
        blocks: list[Block] = [_about(inc), section("Every step is already complete: nothing "
                                                    "to skip.")]
        return _modal("skip", "Skip a step", blocks, _meta(inc), submit=None)
    title = STEP_TITLES[inc.step]
    gaps = "; ".join(esc(item.label.lower()) for item in missing(inc, inc.step, playbook))
    still = f" It still needs: {gaps}." if gaps else ""
    owner = f" (the owner is {mention(inc.owner)})" if inc.owner else ""
    blocks = [
        _about(inc),
        section(f"You are skipping *{title}* without its exit criteria.{still}\nOnly the "
                f"owner or a lead can skip{owner}. The reason goes on the timeline and into "
                "the summary."),
        input_block("reason", "Why skip it", text_input(multiline=True)),
    ]
    return _modal("skip", "Skip a step", blocks, _meta(inc))


def snooze_modal(inc: Incident, minutes: int = SNOOZE_CHOICES[0]) -> dict[str, Any]:
    """Snooze the chasing reminders: how long (preset from the button) and why (required)."""
    choices = [Option(value=str(m), text=plain(fmt_duration(timedelta(minutes=m)),
                                               OPTION_TEXT_MAX)) for m in SNOOZE_CHOICES]
    initial = next((o for o in choices if o.value == str(minutes)), choices[0])
    blocks: list[Block] = [
        _about(inc),
        section("Quiet the reminders about the overdue update or the missing owner for a "
                "while. They come back when the snooze ends if they're still needed. The "
                "snooze and your reason go on the timeline and into the summary; the "
                "customer's wait still counts in the update figures."),
        input_block("minutes", "For how long", _select(choices, initial, "How long")),
        input_block("reason", "Why", text_input(
            multiline=True, max_length=500, placeholder="On a call with their IT lead until 15:30"),
                    hint=f"Required. Longer snoozes (up to {fmt_duration(MAX_SNOOZE)}): "
                         "`/incident snooze 2h <why>`."),
    ]
    return _modal("snooze", "Snooze reminders", blocks, _meta(inc), submit="Snooze")


def handover_modal(inc: Incident) -> dict[str, Any]:
    """Hand the incident to someone else, with notes for them (the card's *Hand over*)."""
    owner = f"{mention(inc.owner)} owns it now. " if inc.owner else ""
    blocks: list[Block] = [
        _about(inc),
        section(f"{owner}The new owner is invited to the channel and gets a note by DM listing "
                "what is open: promises, the next customer update, what the playbook still "
                "needs. Only the owner or a lead can hand over."),
        input_block("to", "New owner", _users(placeholder="Who takes over")),
        input_block("notes", "Notes for them", text_input(
            multiline=True, max_length=2000, placeholder="What they need to know first"),
                    optional=True),
    ]
    return _modal("handover", "Hand over", blocks, _meta(inc))


MODALS: dict[str, Callable[..., dict[str, Any]]] = {
    "card:listen": listen_modal,
    "card:restate": restate_modal,
    "card:own": own_modal,
    "card:option": option_modal,
    "card:choose": choose_modal,
    "card:promise": promise_modal,
    "card:update": update_modal,
    "card:resolve": resolve_modal,
    "card:relief": relief_modal,
    "card:followup": followup_modal,
    "card:skip": skip_modal,
    **{f"card:snooze{m}": functools.partial(snooze_modal, minutes=m) for m in SNOOZE_CHOICES},
    "card:handover": handover_modal,
}
"""Card buttons that open a modal, and its builder (called with the incident; `promise_modal`
also takes ``initial_ts``). ``card:confirm``, ``card:close`` and ``card:status`` act directly."""
