"""Carries out the playbook's effects with the Slack Web API, from the outbox, after the ack.

Listeners only record; this worker does the slow part. Each outbox row is claimed in the
database (so replicas never run the same row), executed, then finished, retried with backoff
or, when Slack's answer will not change, given up and reported to the person who asked.
Effects of one incident run in order (the store never hands out a row while an earlier one of
the same incident is pending), so a channel exists before anything is posted to it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot import blocks, chart
from bot.blocks.outage import outage_lines
from bot.config import Settings
from bot.outbox.batch_facts import BatchFacts, Facts
from playbook import store
from playbook.domain import cadence, rules, timeline
from playbook.domain.model import Incident, Target
from playbook.domain.summary import summarize
from playbook.services.incidents import Service
from playbook.services.lifecycle import Change
from playbook.services.timeline import TimelineService
from playbook.store import lifecycle as lifecycle_store
from playbook.store import outbox

log = logging.getLogger(__name__)

# Slack errors that a retry will not fix: report them to the person instead.
PERMANENT = {
    "channel_not_found": "the channel no longer exists or I can't see it",
    "not_in_channel": "I'm not a member of that channel; invite me with `/invite @crisisbot`",
    "is_archived": "the channel is archived; unarchive it or link another one",
    "restricted_action": "a workspace setting doesn't allow me to do that; ask a Slack admin",
    "missing_scope": "the app lacks a permission; reinstall it from the manifest",
    "user_not_found": "that person isn't in this workspace",
    "cant_invite_self": "I can't invite myself",
    "invalid_auth": "the bot token is no longer valid; reinstall the app",
    "account_inactive": "the bot token is no longer valid; reinstall the app",
    "token_revoked": "the bot token was revoked; reinstall the app",
    "msg_too_long": "the message is too long for Slack",
    "invalid_blocks": "Slack refused the message layout (a bug: please report it)",
}
# Slack errors worth another try from the outbox (everything else is reported instead).
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
             "request_timeout"}
MAX_ATTEMPTS = 6
# Answers that mean the app lost its install: pause the team instead of failing its effects.
REVOKED = {"token_revoked", "invalid_auth", "account_inactive", "not_authed"}
# While a team is paused: how often its held effects are looked at again.
PAUSED_RECHECK = timedelta(minutes=5)
ZERO = timedelta(0)
_LOAD = object()  # EffectRunner.run: "read the incident yourself"
# Kinds whose handler may save the incident (a channel attached, a card posted, a reopened
# incident moved to a fresh channel): the rows after them in a chain need it read again.
CHANGES_INCIDENT = frozenset({"create_channel", "refresh_card", "reopen_channel"})


def explain(err: Exception) -> str:
    if isinstance(err, SlackApiError):
        code = str(err.response.get("error", "unknown_error"))
        return PERMANENT.get(code, f"Slack said `{code}`")
    return "Slack could not be reached"


def is_permanent(err: Exception) -> bool:
    return isinstance(err, SlackApiError) and err.response.get("error") in PERMANENT


class EffectRunner:
    """Executes outbox rows of one kind each; knows how the domain's targets map to Slack."""

    def __init__(self, service: Service, client: WebClient, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self.service = service
        self.client = client
        self.settings = settings
        self.clock = clock
        self.timeline = TimelineService(service.sessions, service.clock)
        self.facts = BatchFacts()  # set by the outbox worker for the batch this thread runs
        from bot.outbox.lifecycle import Lifecycle
        from bot.outbox.outages import OutageEffects

        self.lifecycle = Lifecycle(self)
        self.outages = OutageEffects(self)
        # Kinds carried out by the outage and lifecycle helpers, on an incident's row.
        self.incident_kinds: dict[str, Callable[[Incident, dict], None]] = {
            "draft": self.outages.do_draft,
            "draft_settled": self.outages.do_draft_settled,
            "resolve_prompt": self.outages.do_resolve_prompt,
            "channel_lost": self.lifecycle.do_channel_lost,
            "channel_back": self.lifecycle.do_channel_back,
            "brief": self.lifecycle.do_brief,
        }

    # --- dispatch -----------------------------------------------------------------------------

    def run(self, item: store.OutboxItem, incident: Incident | object | None = _LOAD) -> None:
        """Carry out one row; `incident` is the row's incident when the caller loaded it already
        (None: it is gone), else it is read here."""
        if item.kind == "home":
            self._do_home(item.team_id, item.payload["user"])
            return
        if item.kind.startswith("outage_"):
            self.outages.run_outage_row(item)
            return
        inc = incident if incident is not _LOAD else \
            (self.service.get_by_id(item.incident_id) if item.incident_id else None)
        if not isinstance(inc, Incident):
            log.warning("outbox %s: incident %s is gone; dropping", item.id, item.incident_id)
            return
        handler = self.incident_kinds.get(item.kind) or getattr(self, f"_do_{item.kind}", None)
        if handler is None:
            log.error("outbox %s: unknown kind %r; dropping", item.id, item.kind)
            return
        try:
            handler(inc, item.payload)
        except SlackApiError as err:
            # The channel was archived or the bot removed without us hearing of it: record
            # that (its card and reminders move to the fallback place), then do it there.
            if not self.lifecycle.lost_by_error(inc, item.kind, item.payload, err):
                raise
            assert inc.id is not None
            handler(self.service.get_by_id(inc.id) or inc, item.payload)
            self.report_failure(item, err, then=" The card and reminders continue in the "
                                "leads channel or the owner's DM until the channel is back.")

    # --- kinds --------------------------------------------------------------------------------

    def _do_create_channel(self, inc: Incident, payload: dict) -> None:
        assert inc.id is not None
        problems: list[str] = []
        if inc.channel_id is None:
            channel_id, name = self._create(inc, bool(payload.get("private")))
            inc = self.service.attach_channel(inc.id, channel_id, name)
        assert inc.channel_id is not None
        try:
            self.client.conversations_setTopic(channel=inc.channel_id,
                                               topic=rules.channel_topic(inc))
            self.client.conversations_setPurpose(channel=inc.channel_id,
                                                 purpose=rules.channel_purpose(inc))
        except SlackApiError as err:  # cosmetic: the incident works without them
            log.warning("%s: could not set topic/purpose: %s", inc.key, err.response.get("error"))
        invite = [u for u in payload.get("invite", []) if u]
        problems.extend(self._invite(inc, invite))
        if inc.card_ts is None:
            self._post_card(inc)
        notify = payload.get("notify") or {}
        text = f"*{inc.key}* is open: <#{inc.channel_id}>. The pinned card there shows what's next."
        if problems:
            text += "\n⚠️ " + "; ".join(problems) + ". The incident works without them."
        self._tell(notify, text)

    def _create(self, inc: Incident, private: bool) -> tuple[str, str]:
        last: SlackApiError | None = None
        for attempt in range(25):
            name = rules.channel_name(inc, attempt)
            try:
                resp = self.client.conversations_create(name=name, is_private=private)
                return resp["channel"]["id"], resp["channel"]["name"]
            except SlackApiError as err:
                last = err
                code = err.response.get("error", "")
                if code == "name_taken":
                    continue
                if code.startswith("invalid_name"):
                    name = f"inc-{inc.number}-{attempt}"
                    continue
                raise
        assert last is not None
        raise last

    def _invite(self, inc: Incident, users: list[str]) -> list[str]:
        problems = []
        for user in users:
            if user.startswith("S"):
                try:
                    members = self.client.usergroups_users_list(usergroup=user)["users"]
                except SlackApiError as err:
                    problems.append(f"couldn't read group `{user}`: {explain(err)}")
                    continue
                problems.extend(self._invite(inc, list(members)))
                continue
            try:
                self.client.conversations_invite(channel=inc.channel_id, users=user)
            except SlackApiError as err:
                code = err.response.get("error")
                if code in ("already_in_channel", "cant_invite_self"):
                    continue
                if not is_permanent(err) and code not in ("user_is_bot", "user_not_found"):
                    raise
                problems.append(f"couldn't invite <@{user}>: {explain(err)}")
        return problems

    def _post_card(self, inc: Incident) -> None:
        assert inc.id is not None and inc.channel_id is not None
        card = blocks.card(inc, self.clock(), self.service.playbook_for(inc))
        resp = self.client.chat_postMessage(channel=inc.channel_id, **card)
        self.service.set_card(inc.id, resp["ts"])
        try:
            self.client.pins_add(channel=inc.channel_id, timestamp=resp["ts"])
        except SlackApiError as err:
            if err.response.get("error") != "already_pinned":
                log.warning("%s: could not pin the card: %s", inc.key, err.response.get("error"))

    def _do_timeline(self, inc: Incident, payload: dict) -> None:
        if inc.channel_id is None:
            return  # channel creation failed and was reported; the line is in the database
        assert inc.id is not None
        if not self.lifecycle.usable(inc):
            self.lifecycle.redirect_timeline(inc, payload)
            return
        msg = blocks.timeline_message(payload.get("kind", ""), payload["text"], inc.id)
        self.client.chat_postMessage(channel=inc.channel_id, **msg)

    def _do_bookmark(self, inc: Incident, payload: dict) -> None:
        """Add link L<n> as a channel bookmark. The card shows the link whatever happens
        here, so a refusal (bookmarks not allowed, archived channel) is told, not retried."""
        link = next((lk for lk in inc.links if lk.number == payload.get("number")), None)
        if link is None or inc.channel_id is None:
            return
        try:  # a retried row must not add the bookmark twice
            marks = self.client.bookmarks_list(channel_id=inc.channel_id).get("bookmarks") or []
            if any(m.get("link") == link.url for m in marks):
                return
        except SlackApiError as err:
            log.info("%s: bookmarks.list failed (%s); adding anyway", inc.key,
                     err.response.get("error"))
        try:
            self.client.bookmarks_add(channel_id=inc.channel_id, title=link.label, type="link",
                                      link=link.url)
        except SlackApiError as err:
            code = str(err.response.get("error", ""))
            if code in TRANSIENT:
                raise
            why = PERMANENT.get(code, f"Slack said `{code}`")
            self._tell(payload.get("notify") or {},
                       f"L{link.number} is on the card of {inc.key}, but I couldn't add it to "
                       f"the channel's bookmarks: {why}.")

    def _do_reopen_channel(self, inc: Incident, payload: dict) -> None:
        """A reopened incident needs its channel back: unarchive it if someone archived it
        (the bot never archives on close). Where Slack won't let the app unarchive, the
        incident moves to a fresh channel so the work can go on."""
        if inc.channel_id is None:
            return
        try:
            self.client.conversations_unarchive(channel=inc.channel_id)
            log.info("%s: unarchived %s", inc.key, inc.channel_id)
            self._channel_is_back(inc)
            return
        except SlackApiError as err:
            code = str(err.response.get("error", ""))
            if code == "not_archived":
                self._channel_is_back(inc)
                return
            if code in TRANSIENT:
                raise
            why = PERMANENT.get(code, f"Slack said `{code}`")
        assert inc.id is not None
        old = inc.channel_id
        channel_id, name = self._create(inc, self.settings.private_channels)
        inc = self.service.attach_channel(inc.id, channel_id, name)
        self.service.set_card(inc.id, None)
        people = [u for u in (inc.owner, inc.communicator, inc.opened_by,
                              *self.settings.responders) if u]
        problems = self._invite(inc, list(dict.fromkeys(people)))
        text = (f"I couldn't unarchive <#{old}> to reopen {inc.key} ({why}), so it continues "
                f"in <#{channel_id}>.")
        if problems:
            text += "\n⚠️ " + "; ".join(problems) + "."
        self._tell(payload.get("notify") or {}, text)

    def _channel_is_back(self, inc: Incident) -> None:
        """Record the channel as usable (no news if the lifecycle already knew): the card
        and reminders return to it from the leads channel or the owner's DM."""
        assert inc.channel_id is not None
        self.facts.forget()
        self.lifecycle.service.channel_changed(inc.team_id, inc.channel_id, Change.UNARCHIVED)

    def _do_refresh_card(self, inc: Incident, payload: dict) -> None:
        if inc.channel_id is None:
            return
        if not self.lifecycle.usable(inc):
            self.lifecycle.fallback_card(inc)
        elif inc.card_ts is None:
            self._post_card(inc)
        else:
            try:
                self.client.chat_update(channel=inc.channel_id, ts=inc.card_ts,
                                        **blocks.card(inc, self.clock(),
                                                      self.service.playbook_for(inc)))
            except SlackApiError as err:
                if err.response.get("error") not in ("message_not_found",
                                                     "cant_update_message"):
                    raise
                self._post_card(inc)
        self.outages.after_incident_card(inc)

    def _do_invite(self, inc: Incident, payload: dict) -> None:
        if inc.channel_id is None:
            return
        if not self.lifecycle.usable(inc):
            self._tell(payload.get("notify") or {}, f"⚠️ I can't invite anyone to {inc.key}'s "
                       "channel: it is archived or I'm no longer in it.")
            return
        problems = self._invite(inc, list(payload.get("users", [])))
        if problems:
            self._tell(payload.get("notify") or {}, "⚠️ " + "; ".join(problems) + ".")

    def _do_post(self, inc: Incident, payload: dict) -> None:
        text = payload["text"]
        for channel in self._targets(inc, Target(payload["target"]), payload.get("user")):
            self.client.chat_postMessage(channel=channel, text=text)

    def _do_recurrence(self, inc: Incident, payload: dict) -> None:
        assert inc.id is not None
        self.service.flag_recurrence(inc.id, payload.get("notify") or {})

    def _do_tell(self, inc: Incident, payload: dict) -> None:
        self._tell(payload.get("notify") or {}, payload["text"])

    def _do_capture(self, inc: Incident, payload: dict) -> None:
        """A message someone pinned or reacted to goes on the timeline, made safe to re-post."""
        channel, ts, by = payload["channel"], payload["ts"], payload["by"]
        msg = payload.get("message") or self._fetch_message(channel, ts)
        notify = {"user": by, "channel": channel, "response_url": None}
        if msg is None:
            self._tell(notify, "I couldn't read that message, so it is not on the timeline; "
                               "`/incident note` adds it in your words.")
            return
        me = self._me()
        if (msg.get("user") and msg.get("user") == me.get("user_id")) or (
                msg.get("bot_id") and msg.get("bot_id") == me.get("bot_id")):
            self._tell(notify, "That's one of my own messages: what it says is already on the "
                               f"{inc.key} timeline (`/incident timeline`).")
            return
        raw = msg.get("text") or ""
        names = {uid: self._name(uid) for uid in timeline.mentioned_users(raw)[:20]}
        text = timeline.neutralise(raw, names) or "_(a message with no text)_"
        at = datetime.fromtimestamp(float(msg.get("ts") or ts), UTC)
        self.timeline.capture(inc, channel_id=channel, message_ts=ts, author=msg.get("user"),
                              at=at, text=text, by=by, via=payload.get("via", "reaction"))

    def _fetch_message(self, channel: str, ts: str) -> dict | None:
        """The message at `ts`: top-level via conversations.history, else a thread reply."""
        resp = self.client.conversations_history(channel=channel, latest=ts, oldest=ts,
                                                 inclusive=True, limit=1)
        for msg in resp.get("messages") or []:
            if msg.get("ts") == ts:
                return msg
        try:
            resp = self.client.conversations_replies(channel=channel, ts=ts)
        except SlackApiError as err:
            if err.response.get("error") in ("thread_not_found", "message_not_found"):
                return None
            raise
        return next((m for m in resp.get("messages") or [] if m.get("ts") == ts), None)

    def _me(self) -> dict:
        """The bot's own user and bot ids (auth.test), asked once: its messages aren't captured."""
        if not getattr(self, "_identity", None):
            resp = self.client.auth_test()
            self._identity = {"user_id": resp.get("user_id"), "bot_id": resp.get("bot_id")}
        return self._identity

    def _name(self, user_id: str) -> str:
        try:
            user = self.client.users_info(user=user_id)["user"]
        except (SlackClientError, OSError):
            return user_id
        profile = user.get("profile") or {}
        return profile.get("display_name") or user.get("name") or user_id

    def _do_home(self, team_id: str, user: str) -> None:
        incidents = self.service.open_incidents_by_urgency(team_id)
        now = self.clock()
        mine = [i for i in incidents if user in (i.owner, i.communicator, i.opened_by)]
        overdue = [i for i in incidents if (late := cadence.overdue_by(i, now)) and late > ZERO]
        outages = outage_lines(self.outages.service.list_open(team_id), now)
        self.client.views_publish(user_id=user,
                                  view=blocks.home(user, mine, overdue, now, outages))

    def _do_summary(self, inc: Incident, payload: dict) -> None:
        now = self.clock()
        png = self._cadence_chart(inc, now)
        note = None if png is not None or chart.chart_available() else chart.ENABLE_HINT
        assert inc.id is not None
        summary = summarize(inc, now, self.timeline.corrected(inc.id))
        messages = blocks.summary_messages(summary, chart_note=note)
        for channel in self._targets(inc, Target(payload["target"]), None):
            for msg in messages:
                self.client.chat_postMessage(channel=channel, **msg)
            if png is not None:
                self._upload_chart(inc, channel, png)

    def _cadence_chart(self, inc: Incident, now: datetime) -> bytes | None:
        """The chart is an extra: a bug in it must never cost (or repeat) the summary."""
        try:
            return chart.render_cadence_chart(inc, now)
        except Exception:
            log.exception("%s: could not draw the cadence chart", inc.key)
            return None

    def _upload_chart(self, inc: Incident, channel: str, png: bytes) -> None:
        try:
            if channel[0] in "UW":  # leads by DM: completeUploadExternal wants a D… id
                channel = self.client.conversations_open(users=channel)["channel"]["id"]
            self.client.files_upload_v2(
                channel=channel, content=png, filename=chart.chart_filename(inc),
                title=f"{inc.key} customer-update cadence (UTC)",
                initial_comment=f"📈 *{inc.key}* cadence: updates, due times and gaps over "
                                "the agreed interval.")
        except (SlackApiError, SlackClientError) as err:
            # the summary is already out: raising would retry the row and post it twice
            log.warning("%s: cadence chart not attached in %s: %s", inc.key, channel,
                        explain(err))

    # --- helpers ------------------------------------------------------------------------------

    def _targets(self, inc: Incident, target: Target, user: str | None) -> list[str]:
        if target in (Target.INCIDENT, Target.OWNER) and inc.channel_id and \
                not self.lifecycle.usable(inc):
            return [self.lifecycle.reminder_target(inc)]
        if target is Target.INCIDENT:
            return [inc.channel_id] if inc.channel_id else []
        if target is Target.CUSTOMER:
            return [inc.customer_channel_id] if inc.customer_channel_id else []
        if target is Target.OWNER:
            if inc.owner:
                return [inc.owner]
            return [inc.channel_id] if inc.channel_id else []
        if target is Target.USER:
            return [user] if user else []
        if self.settings.leads_channel:
            return [self.settings.leads_channel]
        return [u for u in self.settings.leads if not u.startswith("S")]

    def _tell(self, notify: dict, text: str) -> None:
        """Tell the person who asked, by the most direct route still open."""
        url, channel, user = notify.get("response_url"), notify.get("channel"), notify.get("user")
        if url:
            try:
                if WebhookClient(url, timeout=5).send(response_type="ephemeral",
                                                      text=text).status_code == 200:
                    return
            except (SlackClientError, OSError) as err:
                log.info("response_url failed (%s); falling back to a DM", err)
        if not user:
            return
        try:
            if channel:
                self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            else:
                self.client.chat_postMessage(channel=user, text=text)
        except SlackApiError:
            self.client.chat_postMessage(channel=user, text=text)

    def report_failure(self, item: store.OutboxItem, err: Exception, then: str = "") -> None:
        notify = item.payload.get("notify") or {}
        if not notify.get("user"):
            return
        inc = self.service.get_by_id(item.incident_id) if item.incident_id else None
        what = {"create_channel": "create the incident channel", "post": "post the message",
                "invite": "invite people", "timeline": "post to the channel",
                "capture": "add that message to the timeline"}.get(
            item.kind, "finish that")
        key = f" for {inc.key}" if inc else ""
        try:
            self._tell({**notify, "response_url": None},
                       f"⚠️ I couldn't {what}{key}: {explain(err)}. Everything you recorded is "
                       f"saved.{then}")
        except (SlackClientError, OSError):
            log.exception("could not report outbox failure %s", item.id)


class OutboxWorker:
    """Background threads that drain the outbox; `wake()` after every commit that added rows.

    Each round one transaction leases the queued rows of up to `batch` incidents (each
    incident's rows as one chain, in order, see `playbook.store.outbox`) and reads those incidents;
    the chains run one after another, every row against the incident read once, and every row
    that went out is finished in one more transaction. Threads work on different incidents, so
    one incident's rows never overlap or reorder. Of several card refreshes queued in a chain
    only the last one is carried out (it shows the newest state; the others are finished with
    it). A row that fails is retried later with backoff and the rest of its chain is released
    to wait behind it; one that cannot succeed is given up and reported.

    Posts before card refreshes: all threads but one take rows that are not card refreshes
    first and leave each chain's trailing refreshes queued (an incident's order is unchanged:
    a refresh still holds up what was queued after it); the last thread takes rows oldest
    first, so refreshes keep moving in a burst, and every thread takes them when no post waits.
    """

    def __init__(self, runner: EffectRunner, sessions, clock: Callable[[], datetime], *,
                 threads: int = 4, poll: float = 2.0,
                 lease: timedelta = timedelta(minutes=2), batch: int = 10) -> None:
        self.runner = runner
        self.sessions = sessions
        self.clock = clock
        self.threads = threads
        self.poll = poll
        self.batch = batch
        # How long a claimed row is ours: a replica that dies holding rows delays them this
        # long (then another replica takes them over), so it must outlast the slowest batch.
        self.lease = lease
        self.name = f"{os.uname().nodename}:{os.getpid()}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads (again, after `stop`)."""
        self._stop.clear()
        self._threads = []
        for n in range(self.threads):
            # all but one thread take posts before card refreshes; the last one takes rows
            # oldest first, so card refreshes keep moving while posts queue
            thread = threading.Thread(target=self._loop, args=(n < self.threads - 1,),
                                      name=f"outbox-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self, urgent: bool = False) -> None:
        while not self._stop.is_set():
            try:
                worked = self.drain_once(urgent=urgent)
            except Exception:
                log.exception("outbox worker failed; will retry")
                worked = 0
            if not worked:
                self._wake.wait(self.poll)
                self._wake.clear()

    def drain_once(self, limit: int | None = None, *, urgent: bool = False) -> int:
        """Claim and run the queued rows of a few incidents; return how many rows were handled.

        `urgent`: posts first, card refreshes only when no post is waiting.
        """
        now = self.clock()
        claim = {"now": now, "worker": self.name, "lease": self.lease,
                 "limit": limit or self.batch}
        with self.sessions.begin() as session:
            chains = outbox.claim_chains(session, **claim, urgent=True) if urgent else []
            if not chains:
                chains = outbox.claim_chains(session, **claim)
            incidents = store.load_incidents(
                session, {c[0].incident_id for c in chains if c[0].incident_id is not None})
            facts = Facts.read(session, incidents.values()) if chains else None
        if not chains:
            return 0
        self._wake.set()  # more may be queued: let an idle thread look while we work
        done: list[int] = []
        paused: dict[str, str | None] = {}  # team -> why its sends are paused (read once)
        self.runner.facts.current = facts
        try:
            for chain in chains:
                self._run_chain(chain, incidents, done, paused)
        finally:
            self.runner.facts.forget()
            if done:
                with self.sessions.begin() as session:
                    outbox.finish(session, done, self.clock())
        return sum(len(chain) for chain in chains)

    def _run_chain(self, chain: outbox.Chain, incidents: dict[int, Incident],
                   done: list[int], paused: dict[str, str | None]) -> None:
        """Run one incident's rows in order; stop at a row to retry, releasing the rest."""
        head = chain[0]
        inc: Incident | object | None = _LOAD
        if head.incident_id is not None:
            inc = incidents.get(head.incident_id)
        last_card = max((n for n, item in enumerate(chain) if item.kind == "refresh_card"),
                        default=-1)
        if getattr(chain, "card_later", False):
            last_card = len(chain)  # a later refresh is still queued: fold all of these into it
        for n, item in enumerate(chain):
            if item.kind == "refresh_card" and n < last_card:
                done.append(item.id)  # folded into the incident's last queued card refresh
                continue
            status = self._attempt(item, inc, paused)
            if status == "done":
                done.append(item.id)
            elif status == "retry":
                rest = [later.id for later in chain[n + 1:]]
                if rest:
                    with self.sessions.begin() as session:
                        outbox.release(session, rest, self.name)
                return
            if item.kind in CHANGES_INCIDENT and item.incident_id is not None:
                inc = _LOAD  # read it again for the next row

    def _hold(self, item: store.OutboxItem, why: str) -> None:
        with self.sessions.begin() as session:
            lifecycle_store.hold_outbox(session, item.id, until=self.clock() + PAUSED_RECHECK,
                                        why=why)

    def _attempt(self, item: store.OutboxItem, inc: Incident | object | None,
                 paused: dict[str, str | None]) -> str:
        """Run one row: "done", "retry" (scheduled with backoff, or held while the team is
        paused: the rest of the chain waits either way) or "failed" (given up)."""
        lifecycle = self.runner.lifecycle.service
        if item.team_id not in paused:
            paused[item.team_id] = lifecycle.paused(item.team_id)
        reason = paused[item.team_id]
        if reason is not None:  # Slack took our tokens: keep the row for when it is back
            self._hold(item, f"paused: {reason}")
            return "retry"
        try:
            self.runner.run(item, inc)
        except (SlackClientError, OSError) as err:
            now = self.clock()
            code = err.response.get("error") if isinstance(err, SlackApiError) else None
            if code in REVOKED:
                if lifecycle.pause(item.team_id, str(code)):
                    log.warning("Slack says the bot token of team %s is no longer valid (%s): "
                                "sends for that team are paused and all data is kept; "
                                "reinstall the app to resume.", item.team_id, code)
                paused[item.team_id] = str(code)
                self._hold(item, f"paused: {code}")
                return "retry"
            if is_permanent(err) or item.attempts + 1 >= MAX_ATTEMPTS:
                log.warning("outbox %s (%s) failed for good: %s", item.id, item.kind, err)
                with self.sessions.begin() as session:
                    store.fail_outbox(session, item.id, now=now, error=str(err)[:500])
                self.runner.report_failure(item, err)
                return "failed"
            delay = timedelta(seconds=min(300, 2 ** (item.attempts + 1)))
            log.info("outbox %s (%s) failed, retrying in %s: %s", item.id, item.kind,
                     delay, err)
            with self.sessions.begin() as session:
                store.retry_outbox(session, item.id, now=now, error=str(err)[:500],
                                   next_attempt_at=now + delay)
            return "retry"
        except Exception:
            log.exception("outbox %s (%s) crashed", item.id, item.kind)
            with self.sessions.begin() as session:
                store.fail_outbox(session, item.id, now=self.clock(), error="internal error")
            return "failed"
        return "done"
