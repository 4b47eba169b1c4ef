"""The incident summary rendered for Slack (one or more messages) and as Markdown.

Both renderers only format the fields of `playbook.domain.summary.Summary`; they never derive
figures. Nothing is cut: a long summary is split over several sections (3000 characters
each) and several messages (50 blocks each), so every quote, promise and action is shown whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block

from bot.blocks.kit import MESSAGE_MAX_BLOCKS, context, header, label, message, sections
from playbook.domain.model import CapturedMessage, CaptureKind, PromiseStatus, Status
from playbook.domain.steps import STEP_TITLES
from playbook.domain.summary import StepSummary, Summary
from playbook.domain.text import date_token, esc, fmt_duration, mention, plain
from playbook.domain.timeline import spans_days

__all__ = ["summary_markdown", "summary_messages"]

# A group is a title and its lines; each group starts a new section.
Group = tuple[str, list[str]]

_PROMISE_ICON = {PromiseStatus.KEPT: "✅", PromiseStatus.MISSED: "❌", PromiseStatus.OPEN: "⏳"}


class _Fmt:
    """How one output flavour writes user text, people, times and emphasis."""

    def __init__(self, text: Callable[[str], str], when: Callable[[datetime], str],
                 bold: Callable[[str], str], italic: Callable[[str], str],
                 clock: Callable[[datetime], str], mrkdwn: Callable[[str], str],
                 link: Callable[[str, str], str]) -> None:
        self.text = text
        self.when = when
        self.bold = bold
        self.italic = italic
        self.clock = clock  # the time of day only, for a timeline within one day
        self.mrkdwn = mrkdwn  # a line the bot wrote in Slack mrkdwn (user text escaped)
        self.link = link  # (checked address, raw label) -> a link

    def quote(self, raw: str) -> str:
        return f"“{self.text(raw.strip())}”"

    @staticmethod
    def who(user: str | None, none: str = "nobody") -> str:
        return mention(user) if user else none


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _md_text(raw: str) -> str:
    """User text for GitHub-flavoured Markdown: no HTML, no accidental formatting."""
    out = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]#|~":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", "  \n  ")  # keep line breaks inside a list item


def _md_link(url: str, text: str) -> str:
    """A Markdown link; addresses were checked (http/https, no spaces or ``<>|``)."""
    return f"[{_md_text(text)}]({url.replace('(', '%28').replace(')', '%29')})"


SLACK = _Fmt(esc, date_token, lambda s: f"*{s}*", lambda s: f"_{s}_",
             lambda dt: date_token(dt, "{time}"), lambda s: s,
             lambda url, text: f"<{url}|{esc(text)}>")
MARKDOWN = _Fmt(_md_text, _iso, lambda s: f"**{s}**", lambda s: f"_{s}_",
                lambda dt: dt.astimezone(UTC).strftime("%H:%M UTC"),
                lambda s: _md_text(plain(s)), _md_link)


def _dur(td: timedelta | None, none: str = "not yet") -> str:
    return none if td is None else fmt_duration(td)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- the content, once for both flavours ------------------------------------------------------


def _overview(s: Summary, f: _Fmt) -> list[str]:
    state = "final" if s.is_final else f"so far, as of {f.when(s.as_of)}"
    lines = [f"{f.bold('Severity:')} {s.severity} · {f.bold('Status:')} {s.status.value} "
             f"({state})",
             f"{f.bold('Opened:')} {f.when(s.opened_at)}"]
    if s.resolved_at is not None:
        lines.append(f"{f.bold('Resolved:')} {f.when(s.resolved_at)}")
    if s.closed_at is not None:
        lines.append(f"{f.bold('Closed:')} {f.when(s.closed_at)}")
    return lines


def _step_line(st: StepSummary, s: Summary, f: _Fmt) -> str:
    title = f.bold(STEP_TITLES[st.step])
    if st.skipped_reason is not None:
        at = f" {f.when(st.completed_at)}" if st.completed_at else ""
        return (f"⏭️ {title} skipped{at} by {f.who(st.by, 'someone')}: "
                f"{f.quote(st.skipped_reason)}")
    if st.completed_at is not None:
        took = f" after {_dur(st.duration)}" if st.duration is not None else ""
        by = f" by {mention(st.by)}" if st.by else ""
        return f"✅ {title} completed {f.when(st.completed_at)}{took}{by}"
    if st.started_at is None:
        return f"▫️ {title} not reached"
    if s.status is not Status.CLOSED:
        return f"▶️ {title} in progress since {f.when(st.started_at)}"
    return f"▫️ {title} not completed"


def _cadence(s: Summary, f: _Fmt) -> list[str]:
    a = s.adherence
    lines: list[str] = []
    if a.interval is None:
        lines.append("No update cadence was in force.")
    else:
        ratio = "n/a" if a.ratio is None else f"{round(a.ratio * 100)}%"
        during = f" ({f.text(s.cadence_window)}, counted only in those hours)" \
            if s.cadence_window else ""
        lines.append(f"Every {fmt_duration(a.interval)}{during}: {a.on_time} on time, "
                     f"{a.late} late, {a.missed} missed · adherence {f.bold(ratio)}")
        gap = ("no update yet" if a.longest_gap is None
               else f"{fmt_duration(a.longest_gap)} (interval {fmt_duration(a.interval)})")
        lines.append(f"Longest gap between updates: {gap}")
    lines.append(f"{_plural(s.updates, 'update')} logged · "
                 f"{_plural(s.reminders_fired, 'reminder')} and "
                 f"{_plural(s.escalations_fired, 'escalation')} fired")
    for z in s.snoozes:
        lines.append(f"💤 {f.who(z.by)} snoozed the reminders {f.when(z.at)} for "
                     f"{fmt_duration(z.until - z.at)}: {f.quote(z.reason)}")
    return lines


def _promises(s: Summary, f: _Fmt) -> list[str]:
    lines = [f"{len(s.promises_kept)} kept · {len(s.promises_missed)} missed · "
             f"{len(s.promises_open)} open"]
    every = sorted((*s.promises_kept, *s.promises_missed, *s.promises_open),
                   key=lambda p: p.number)
    for p in every:
        settled = f" ({p.status.value} {f.when(p.settled_at)})" if p.settled_at else \
            f" ({p.status.value})"
        lines.append(f"{_PROMISE_ICON[p.status]} {f.bold(f'P{p.number}')} {f.quote(p.text)} "
                     f"due {f.when(p.due_at)}{settled}")
    return lines


def _options(s: Summary, f: _Fmt) -> list[str]:
    if not s.options:
        return ["No options were recorded."]
    lines = []
    rec = s.recommended.number if s.recommended else None
    chosen = s.chosen.number if s.chosen else None
    for o in s.options:
        risk = f" · {f.italic('risk:')} {f.quote(o.risk)}" if o.risk else ""
        marks = "".join((" ⭐ recommended" if o.number == rec else "",
                         " 👉 chosen" if o.number == chosen else ""))
        lines.append(f"{f.bold(f'{o.number}.')} {f.quote(o.text)}{risk}{marks}")
    if s.recommended is not None:
        why = f", because {f.quote(s.recommend_why)}" if s.recommend_why else ""
        lines.append(f"{f.bold('Recommended:')} option {s.recommended.number}{why}")
    else:
        lines.append(f"{f.bold('Recommended:')} none recorded")
    lines.append(f"{f.bold('Chosen by the customer:')} "
                 f"{f'option {s.chosen.number}' if s.chosen else 'none recorded'}")
    return lines


SLACK_TIMELINE_MAX = 150  # lines; a longer timeline is in the report (Markdown or JSON)


def _timeline(s: Summary, f: _Fmt, limit: int | None = None) -> Group:
    """The corrected timeline: full dates when it runs over several days, else times."""
    if not s.timeline:
        return ("Timeline", [f.italic("nothing on the timeline")])
    several = spans_days(line.at for line in s.timeline)
    stamp = f.when if several else f.clock
    title = "Timeline" if several else f"Timeline ({s.timeline[0].at.strftime('%Y-%m-%d')} UTC)"
    lines = []
    for line in s.timeline[:limit]:
        mark = f" {f.italic('(corrected)')}" if line.edited else ""
        lines.append(f"{f.bold(line.ref)} {stamp(line.at)} · {f.mrkdwn(line.text)}{mark}")
    if limit is not None and len(s.timeline) > limit:
        lines.append(f.italic(f"…and {len(s.timeline) - limit} more lines: "
                              f"`crisisbot report {s.key}` has the whole timeline."))
    return (title, lines)


def _source(m: CapturedMessage, f: _Fmt) -> str:
    """Where a captured message came from: its author's name (never a mention: that would
    notify a customer) and a link to it when its address is a web link."""
    who = f"{m.author_name}'s message" if m.author_name else "the message"
    if m.permalink.startswith(("https://", "http://")) and not any(
            c in m.permalink for c in " <>|"):
        return f.link(m.permalink, who)
    return f.text(who)


def _words(s: Summary, f: _Fmt) -> list[str]:
    sources = {m.text: m for m in s.messages if m.kind is CaptureKind.LISTEN}
    out = []
    for w in s.customer_words:
        m = sources.get(w)
        where = f" ({_source(m, f)}, {f.when(m.written_at)})" if m is not None else ""
        out.append(f"• {f.quote(w)}{where}")
    return out


def _periods(s: Summary, f: _Fmt) -> list[str]:
    lines = []
    for p in s.periods:
        end = f.when(p.closed_at) if p.closed_at is not None else "still open"
        why = (f" · reopened by {f.who(p.reopened_by, 'someone')}: {f.quote(p.reason)}"
               if p.reason is not None else "")
        lines.append(f"{f.bold(f'Period {p.number}:')} {f.when(p.opened_at)} → {end}{why}")
    for r in s.reopenings:
        if r.resolution:
            lines.append(f"Resolution before reopening {r.number}: {f.quote(r.resolution)}")
    return lines


def _extras(s: Summary, f: _Fmt) -> list[Group]:
    """Handovers, links and captured messages: only shown when there are any."""
    groups: list[Group] = []
    if s.handovers:
        groups.append(("Handovers", [
            f"• {f.when(h.at)}: {f.who(h.from_user)} → {f.who(h.to_user)}"
            + (f" (by {mention(h.by)})" if h.by != h.from_user else "")
            + (f": {f.quote(h.notes)}" if h.notes else "") for h in s.handovers]))
    if s.links:
        groups.append(("Links", [
            f"• {f.bold(f'L{lk.number}')} {f.link(lk.url, lk.label)} ({lk.kind}, added by "
            f"{mention(lk.added_by)})" for lk in s.links]))
    if s.messages:
        groups.append(("Messages added to the incident", [
            f"• {m.kind.value}: {f.quote(m.text)} ({_source(m, f)}, {f.when(m.written_at)})"
            for m in s.messages]))
    return groups


def _leader_call(s: Summary, f: _Fmt) -> list[str]:
    """The leader call, when one was asked for or made."""
    head = f.bold("Leader call:")
    if s.leader_call_at is not None:
        note = f": {f.quote(s.leader_call_note)}" if s.leader_call_note else ""
        return [f"{head} {f.who(s.leader_call_by)} contacted the customer "
                f"{f.when(s.leader_call_at)}{note}"]
    if s.leader_call_due_at is not None:
        return [f"{head} asked for by {f.when(s.leader_call_due_at)}, not recorded"]
    return []


def _groups(s: Summary, f: _Fmt, timeline_limit: int | None = None) -> list[Group]:
    none = f.italic("none recorded")
    words = _words(s, f) or [none]
    listen = [*words,
              f"{f.bold('Impact:')} {f.quote(s.impact) if s.impact else none}",
              f"{f.bold('What is behind it:')} "
              f"{', '.join(f.quote(d) for d in s.drivers) if s.drivers else none}",
              f"{f.bold('How they noticed:')} {f.quote(s.noticed) if s.noticed else none}",
              f"{f.bold('Context we gave them:')} "
              f"{f.quote(s.context_given) if s.context_given else none}"]
    restate = [f.quote(s.restatement) if s.restatement else none]
    if s.restatement:
        restate.append("Confirmed by the customer." if s.restatement_confirmed
                       else "Not confirmed by the customer.")
    timings = [
        f"Owner named after {_dur(s.time_to_owner)}",
        f"Restatement confirmed after {_dur(s.time_to_restatement_confirmed)}",
        f"Relief after {_dur(s.time_to_relief)}"
        + (" (the fix itself)" if s.relief_at is None and s.time_to_relief is not None else ""),
        f"Resolved after {_dur(s.time_to_resolution)}"
        + (" (first resolution)" if s.reopenings else ""),
        f"Total {'duration' if s.is_final else 'so far'}: {_dur(s.total_duration)}"
        + (" open (closed stretches left out)" if s.reopenings else ""),
    ]
    actions = []
    for a in s.actions:
        state = f"done {f.when(a.done_at)}" if a.done_at else "open"
        icon = "✅" if a.done_at else "⬜"
        actions.append(f"{icon} {f.bold(f'A{a.number}')} {f.quote(a.text)} · owner "
                       f"{f.who(a.owner, 'none')} · {state}")
    checkins = []
    for c in s.checkins:
        done = (f"done {f.when(c.done_at)}" + (f" by {mention(c.done_by)}" if c.done_by else "")
                if c.done_at else "pending")
        checkins.append(f"{'✅' if c.done_at else '⏳'} {f.bold(f'C{c.number}')} due "
                        f"{f.when(c.due_at)} · {done}")
    periods = [("Open periods", _periods(s, f))] if s.reopenings else []
    return [
        ("Overview", _overview(s, f)),
        *periods,
        ("What happened", [f.quote(s.description)]),
        ("Listen: the customer's words", listen),
        ("Restate", restate),
        ("Own", [f"{f.bold('Owner:')} {f.who(s.owner)} · "
                 f"{f.bold('Communicator:')} {f.who(s.communicator)}", *_leader_call(s, f)]),
        ("Timings", timings),
        ("Steps", [_step_line(st, s, f) for st in s.steps]),
        ("Customer updates", _cadence(s, f)),
        ("Promises", _promises(s, f)),
        ("Options", _options(s, f)),
        ("Relief", [f"{f.quote(s.relief)} ({f.when(s.relief_at)}, {f.who(s.relief_by)})"
                    if s.relief and s.relief_at else none]),
        ("Resolution", [f.quote(s.resolution) if s.resolution else none]),
        ("Root cause", [f.quote(s.root_cause) if s.root_cause else none]),
        ("Lessons", [f"• {f.quote(x)}" for x in s.lessons] or [none]),
        (f"Prevention actions ({len(s.actions_open)} open)", actions or [none]),
        ("Parked topics", [f"• {f.quote(p.text)} ({mention(p.added_by)})" for p in s.parked]
         or [none]),
        ("Check-ins", checkins or [none]),
        *_extras(s, f),
        _timeline(s, f, timeline_limit),
    ]


def _title(s: Summary, customer: str) -> str:
    return f"{'Summary' if s.is_final else 'Summary so far'}: {s.key} · {customer}"


# --- Slack ------------------------------------------------------------------------------------


def _pages(body: list[Block], first_room: int, room: int) -> list[list[Block]]:
    pages = [body[:first_room]]
    rest = body[first_room:]
    while rest:
        pages.append(rest[:room])
        rest = rest[room:]
    return pages


def summary_messages(s: Summary, *, chart_note: str | None = None) -> list[dict[str, Any]]:
    """The summary as one or more message bodies (``{"text", "blocks"}``), in order.

    `chart_note` (how to enable the cadence chart, when it can't be drawn) goes with the
    customer-update figures it would have illustrated.
    """
    body: list[Block] = []
    for title, lines in _groups(s, SLACK, SLACK_TIMELINE_MAX):
        if title == "Overview":
            continue  # the first message's context line carries it
        if title == "Customer updates" and chart_note:
            lines = [*lines, f"📈 {esc(chart_note)}"]
        body += sections([f"*{title}*", *lines])
    title = _title(s, label(s.customer))
    overview = " · ".join(_overview(s, SLACK))
    pages = _pages(body, MESSAGE_MAX_BLOCKS - 2, MESSAGE_MAX_BLOCKS - 1)
    total = len(pages)
    out = []
    for i, page in enumerate(pages, start=1):
        part = f"{title} (part {i} of {total})" if total > 1 else title
        if i == 1:
            blocks: list[Block] = [header(title), context(overview), *page]
        else:
            blocks = [context(f"*{s.key}* summary, continued (part {i} of {total})"), *page]
        out.append(message(part, blocks))
    return out


# --- Markdown ---------------------------------------------------------------------------------


def _md_lines(lines: Iterable[str]) -> list[str]:
    return [line if line.startswith("- ") else f"- {line.removeprefix('• ')}" for line in lines]


def summary_markdown(s: Summary) -> str:
    """The summary as GitHub-flavoured Markdown: ISO UTC times, mentions as ``<@U…>`` ids."""
    out = [f"# {_title(s, _md_text(' '.join(s.customer.split())))}", ""]
    for title, lines in _groups(s, MARKDOWN):
        out += [f"## {title}", "", *_md_lines(lines), ""]
    return "\n".join(out).rstrip() + "\n"

