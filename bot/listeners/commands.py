"""The `/incident` slash command: route the verb, record, ack with the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import blocks
from bot.blocks.outage import outage_lines
from bot.listeners.deps import Deps, FormRequest, type_instead
from bot.listeners.errors import ephemeral
from playbook.domain import cadence, parse, stats, verbs
from playbook.domain import outage as outage_rules
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.intake import recorded_reply
from playbook.domain.model import Incident
from playbook.domain.text import channel_link, date_token, esc, fmt_duration
from playbook.services.outcomes import Origin

MAX_TEXT = 3000  # longer than any Slack field we copy it into
# Verbs that also work outside the incident's channel with the incident named first
# (`/incident reopen INC-4 <why>`): nobody can type in a channel that was archived.
BY_NUMBER = {"reopen"}
OPEN_TYPED = "/incident open &lt;customer&gt;: &lt;what happened&gt;"

# A verb another surface answers in full (`/incident timeline` is the timeline's):
# ``handler(deps, ack, body, client, arg)``.
Subcommand = Callable[[Deps, Ack, dict, WebClient, str], None]


def _named_incident(deps: Deps, team: str, arg: str) -> tuple[Incident | None, str]:
    """``(incident, rest)`` when `arg` starts with ``INC-<n>``, else ``(None, arg)``; a key
    that names no incident of this workspace is refused, never taken for the channel's."""
    number, rest = parse.split_incident_key(arg)
    if number is None:
        return None, arg
    return deps.service.get(team, number), rest


def register(app: App, deps: Deps, subcommands: Mapping[str, Subcommand]) -> None:
    """`subcommands` are handed their verb before the playbook's verbs are looked up."""

    @app.command("/incident")
    def incident(ack: Ack, body: dict, client: WebClient) -> None:
        text = body.get("text") or ""
        if len(text) > MAX_TEXT:
            raise ParseError(f"That's {len(text)} characters; keep it under {MAX_TEXT}. "
                             "Split long notes over several commands.")
        verb, arg = verbs.split_verb(text)
        user, channel, team = body["user_id"], body["channel_id"], body["team_id"]
        origin = Origin(channel_id=channel, response_url=body.get("response_url"))
        if verb in ("", "help"):
            inc = deps.service.incident_for_channel(team, channel)
            out = deps.outages.for_channel(team, channel) if inc is None else None
            playbooks = deps.service.playbooks
            playbook = playbooks.playbook_for(inc) if inc else playbooks.current
            ack(ephemeral(outage_rules.help_text(out) if out else verbs.help_text(inc, playbook)))
        elif verb == "open":
            if not arg:
                # the modal opens after the ack, at once (a trigger_id lives 3 seconds); the
                # open outages it offers are one indexed read
                choices = [(o.number, o.title) for o, _ in deps.outages.list_open(team)]
                deps.open_form(FormRequest(
                    body["trigger_id"], blocks.open_modal(
                        channel, deps.service.playbooks.current, choices[:100]),
                    user, channel, body.get("response_url"),
                    instead=type_instead(OPEN_TYPED)))
                ack()
                return
            intake = deps.intake
            if intake is not None and intake.busy():
                # Many requests at once: record the raw command and ack; it is opened a
                # moment later and its number told by the response_url (bot/intake.py). A
                # malformed one is refused now, by the same parser the open uses.
                _, customer, _ = parse.parse_open(arg)
                intake.record(team_id=team, user_id=user, channel_id=channel, text=arg,
                              response_url=body.get("response_url"))
                ack(ephemeral(recorded_reply(customer)))
                intake.wake()
                return
            outcome = deps.service.open(team, deps.people.actor(user), arg, origin=origin)
            ack(ephemeral(outcome.reply))
            deps.after(outcome, saved=True)
        elif verb == "list":
            ack(ephemeral(list_text(deps, team)))
        elif verb == "stats":
            days = stats.parse_period(arg)
            now = deps.clock()
            since = now - timedelta(days=days)
            figures = stats.compute(deps.service.list_incidents(team, since=since), since=since,
                                    now=now)
            ack(ephemeral(stats.render(figures, days)))
        elif verb in subcommands:
            subcommands[verb](deps, ack, body, client, arg)
        elif verb in outage_rules.SHELL_VERBS:
            result = deps.outages.shell(team, deps.people.actor(user), verb, arg,
                                        channel_id=channel, origin=origin,
                                        invite=deps.service.workspaces.settings_of(team).responders)
            ack(ephemeral(result.reply))
            deps.wake_outbox()
        elif verb in verbs.COMMANDS:
            inc, arg = _named_incident(deps, team, arg) if verb in BY_NUMBER else (None, arg)
            if inc is None:
                inc = deps.service.incident_for_channel(team, channel)
            out = deps.outages.for_channel(team, channel) if inc is None else None
            if out is not None and out.id is not None:
                if verb not in outage_rules.CHANNEL_VERBS:
                    raise PlaybookError(
                        f"This is {out.key}'s channel: here you can `/incident update`, "
                        "`resolve` and `status`. Customer-specific steps happen in each "
                        "customer's incident channel.")
                result = deps.outages.channel_command(out.id, deps.people.actor(user), verb,
                                                      arg, team_id=team, origin=origin)
                ack(ephemeral(result.reply))
                deps.wake_outbox()
                return
            if inc is None or inc.id is None:
                where = " (or name it: `/incident reopen INC-4 &lt;why&gt;`)" \
                    if verb in BY_NUMBER else ""
                raise PlaybookError(f"`/incident {verb}` works in an incident's channel{where}. "
                                    "`/incident list` shows the open ones; "
                                    "`/incident open &lt;customer&gt;: &lt;what happened&gt;` "
                                    "starts one.")
            actor = deps.people.actor(user, with_tz=verb in ("promise", "cadence"))
            outcome = deps.service.command(inc.id, actor, verb, arg, team_id=team,
                                           origin=origin)
            ack(ephemeral(outcome.reply))
            deps.after(outcome, saved=True)
        else:
            raise ParseError(verbs.suggest(verb))


def list_text(deps: Deps, team: str) -> str:
    incidents = deps.service.open_incidents_by_urgency(team)
    now = deps.clock()
    outages = outage_lines(deps.outages.list_open(team), now)
    head = [f"*Open outages* ({len(outages)}):", *outages[:20], ""] if outages else []
    if not incidents:
        return "\n".join([*head, "No open incidents. Start one with "
                                  "`/incident open &lt;customer&gt;: &lt;what happened&gt;`."])
    lines = [*head, f"*Open incidents* ({len(incidents)}), overdue first:"]
    for inc in incidents[:40]:
        due = cadence.next_update_due(inc)
        late = cadence.overdue_by(inc, now)
        when = (f"*update overdue by {fmt_duration(late)}*" if late
                else f"next update {date_token(due)}" if due else "no update due")
        where = channel_link(inc.channel_id) if inc.channel_id else "(channel being created)"
        lines.append(f"• *{inc.key}* {esc(inc.customer)} · {inc.severity} · {inc.step.value} · "
                     f"{when} · {where}")
    if len(incidents) > 40:
        lines.append(f"…and {len(incidents) - 40} more.")
    return "\n".join(lines)
