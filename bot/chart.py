"""The cadence chart: a PNG timeline of an incident's customer updates, for leads.

One picture of the update clock (README "Cadence adherence"): the five steps as coloured
bands, each customer update as a mark (on time, late, or not judged because no cadence was in
force), each due time on its own lane (met, missed, next), the gaps between updates that ran
over the interval shaded red, and the resolution and close as vertical lines. It is attached to
the summary in Slack and written by ``crisisbot report --chart FILE``.

matplotlib is an optional extra (``crisis-playbook-bot[chart]``), so it is only ever imported
inside the functions that draw, never at module import: without it `chart_available` is false,
`render_cadence_chart` returns ``None`` and callers show `ENABLE_HINT` instead.

The canvas is sized for a phone: 1080 x 1350 px (4:5 portrait, what Slack and phone screens show
whole) with fonts of 13 pt and up at 150 dpi. Times are UTC.

What is drawn of the update clock (due times, judged updates, gaps) is
`playbook.domain.cadence_walk.cadence_timeline`, the very walk the adherence figures are counted
from; this module only draws it.
"""

from __future__ import annotations

import functools
import io
import threading
import unicodedata
import warnings
from datetime import datetime, timedelta
from typing import Any

from playbook.domain.cadence_walk import DueState, cadence_timeline
from playbook.domain.model import Incident, Status
from playbook.domain.steps import STEP_TITLES
from playbook.domain.summary import summarize
from playbook.domain.text import fmt_duration

__all__ = [
    "DPI",
    "ENABLE_HINT",
    "HEIGHT_PX",
    "WIDTH_PX",
    "chart_available",
    "chart_filename",
    "render_cadence_chart",
]

ENABLE_HINT = (
    "The cadence chart needs the chart extra: pip install 'crisis-playbook-bot[chart]'"
)

WIDTH_PX, HEIGHT_PX, DPI = 1080, 1350, 150

_LOCK = threading.Lock()  # rcParams are process-global: one render at a time


# --- availability -------------------------------------------------------------------------------


def chart_available() -> bool:
    """Whether the chart extra (matplotlib) is installed; imports it lazily."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError:
        return False
    return True


def chart_filename(incident: Incident) -> str:
    return f"{incident.key.lower()}-cadence.png"


# --- drawing ------------------------------------------------------------------------------------

# Okabe-Ito: tells apart for colour-blind readers too.
_STEP_COLOURS = ("#0072B2", "#56B4E9", "#009E73", "#E69F00", "#CC79A7")
_ON_TIME, _LATE, _MISSED, _GAP = "#009E73", "#D55E00", "#C0392B", "#E74C3C"
_GAP_FILL = "#F8D0CC"  # _GAP at about a fifth, opaque so neighbouring gaps stay apart
_INK, _MUTED = "#222222", "#8A8A8A"
_NOTE_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"}
_TITLE_MAX = 38  # characters of the customer's name that fit the title line at 19 pt
_MIN_SPAN = timedelta(minutes=20)  # the narrowest time range shown


def render_cadence_chart(incident: Incident, now: datetime) -> bytes | None:
    """The incident's cadence chart as PNG bytes, or ``None`` without the chart extra.

    `now` ends the picture of an incident still open (as in `playbook.domain.summary.summarize`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware (UTC) datetime")
    if not chart_available():
        return None
    with _LOCK, warnings.catch_warnings():
        # Glyphs no installed font has (emoji, CJK on a bare server) are drawn as boxes;
        # matplotlib warns once per glyph, which is noise in a bot's log.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        return _render(incident, now)


@functools.cache
def _fonts() -> tuple[list[str], frozenset[int]]:
    """The sans-serif families to use (DejaVu first, fallbacks only if installed), and the
    code points they cover."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    wanted = ["DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC",
              "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Symbols 2"]
    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    families = [w for w in wanted if w in installed] or ["sans-serif"]
    covered: set[int] = set()
    for fam in families:
        path = installed.get(fam)
        if path:
            try:
                covered |= set(FT2Font(path).get_charmap())
            except (OSError, RuntimeError):  # pragma: no cover - unreadable font file
                continue
    return families, frozenset(covered)


def _title_name(raw: str, covered: frozenset[int]) -> str:
    """The customer's name on one line for the title.

    Symbols no installed font has (emoji, mostly, with their joiners and variation selectors)
    are dropped: decoration only, they would show as boxes. Letters stay, as boxes if need be,
    so a name in a script the server has no font for still shows something.
    """
    kept = []
    for ch in raw:
        cat = unicodedata.category(ch)
        if covered and ord(ch) not in covered and (cat[0] == "S" or cat in ("Cf", "Mn", "Cs")):
            continue
        kept.append(ch)
    name = " ".join("".join(kept).split())
    if len(name) > _TITLE_MAX:
        name = name[: _TITLE_MAX - 1].rstrip() + "…"
    return name or "(unnamed customer)"


def _render(incident: Incident, now: datetime) -> bytes:
    import matplotlib
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    families, covered = _fonts()
    rc = {
        "font.family": families,
        "font.size": 14,
        "axes.titlesize": 14,
        "axes.labelsize": 14,
        "xtick.labelsize": 13,
        "ytick.labelsize": 14,
        "legend.fontsize": 13,
        "text.parse_math": False,  # a "$" in a customer's name is text, not TeX
    }
    with matplotlib.rc_context(rc):
        summary = summarize(incident, now)
        end = incident.closed_at if incident.closed_at is not None else now
        tl = cadence_timeline(incident, end)

        fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.205, 0.30, 0.755, 0.505))

        def x(t: datetime) -> float:
            return float(mdates.date2num(t))

        # --- time range ------------------------------------------------------------------
        times = [incident.opened_at, end]
        times += [u.at for u in incident.updates]
        times += [c.at for c in incident.cadence_changes]
        times += [s.completed_at for s in summary.steps if s.completed_at is not None]
        times += [t for t in (incident.resolved_at, incident.closed_at) if t is not None]
        times += [d.at for d in tl.dues if d.state is not DueState.NEXT]
        times += [r.last for r in tl.missed_runs]
        lo, hi = min(times), max(times)
        upcoming = next((d for d in tl.dues if d.state is DueState.NEXT), None)
        span = hi - lo
        if upcoming is not None and upcoming.at > hi and (
            span == timedelta(0) or upcoming.at - hi <= span / 3
        ):
            hi = upcoming.at  # close enough to show without squashing the rest
        span = hi - lo
        pad = max(span * 0.04, (_MIN_SPAN - span) / 2)  # a single instant gets room too
        ax.set_xlim(x(lo - pad), x(hi + pad))

        # --- lanes -----------------------------------------------------------------------
        steps = summary.steps
        lanes = [STEP_TITLES[s.step] for s in steps] + ["Updates", "Due times"]
        upd_y, due_y = len(steps) + 0.3, len(steps) + 1.25
        change_y = due_y + 0.5  # cadence changes: a row of their own under the due times
        ax.set_yticks([*range(len(steps)), upd_y, due_y], lanes)
        ax.set_ylim(change_y + 0.35, -0.65)
        ax.axhline(len(steps) - 0.3, color="#CCCCCC", lw=1)
        for y in (upd_y, due_y):
            ax.axhline(y, color="#E3E3E3", lw=1, zorder=0)

        handles: list[Any] = []

        # gaps over the interval: shaded across the updates and due lanes
        over = [g for g in tl.gaps if g.over]
        band = (upd_y - 0.45, due_y - upd_y + 0.75)
        if over:
            ax.broken_barh([(x(g.start), x(g.end) - x(g.start)) for g in over], band,
                           facecolors=_GAP_FILL, edgecolors="white",
                           lw=1.5 if len(over) <= 30 else 0, zorder=1)
        if tl.open_gap is not None:
            g = tl.open_gap
            ax.broken_barh([(x(g.start), x(g.end) - x(g.start))], band, facecolors="none",
                           edgecolors=_GAP, hatch="//", lw=0, alpha=0.5, zorder=1)
        if over:
            handles.append(Patch(facecolor=_GAP_FILL, label="Gap over the interval"))
        if tl.open_gap is not None:
            handles.append(Patch(facecolor="white", edgecolor=_GAP, hatch="//", lw=0,
                                 label="Overdue, no update since"))

        # steps: a band from the step's start to its completion (or to the end, in progress)
        any_skip = False
        span_num = x(hi + pad) - x(lo - pad)
        for i, st in enumerate(steps):
            if st.started_at is None:
                ax.text(x(lo - pad) + span_num * 0.01, i, "not reached", va="center",
                        color=_MUTED, fontsize=13)
                continue
            colour = _STEP_COLOURS[i % len(_STEP_COLOURS)]
            stop = st.completed_at
            running = stop is None
            if stop is None:
                if incident.status is Status.CLOSED:  # closed with this step still open
                    ax.text(x(st.started_at), i, " not completed", va="center", ha="left",
                            color=_MUTED, fontsize=13)
                    continue
                stop = end
            width = max(x(stop) - x(st.started_at), span_num * 0.004)
            skipped = st.skipped_reason is not None
            any_skip = any_skip or skipped
            ax.broken_barh([(x(st.started_at), width)], (i - 0.34, 0.68),
                           facecolors="white" if skipped else colour,
                           edgecolors=colour, hatch="///" if skipped else None,
                           alpha=0.5 if running else 1.0, lw=1.5, zorder=2)
            words = "skipped" if skipped else (
                fmt_duration(stop - st.started_at) + (" so far" if running else ""))
            # inside a wide band, else after it, else (near the right edge) before it
            room = len(words) * 0.022 * span_num
            left, right = x(st.started_at), x(st.started_at) + width
            if width > room * 1.15:
                where, ha = left + width / 2, "center"
            elif x(hi + pad) - right > room + span_num * 0.01:
                where, ha = right + span_num * 0.01, "left"
            else:
                where, ha = left - span_num * 0.01, "right"
            inside = ha == "center"
            ax.text(where, i, words, va="center", ha=ha, fontsize=13,
                    color="white" if inside and not skipped and not running else _INK,
                    fontweight="bold" if inside and not skipped else "normal", zorder=3)
        if any_skip:
            handles.append(Patch(facecolor="white", edgecolor=_MUTED, hatch="///",
                                 label="Step skipped"))

        # customer updates
        many = len(incident.updates) > 60  # then smaller marks without outlines
        size, edge = (36, 0.0) if many else (120, 0.8)
        on = [u.at for u, ok in tl.judged if ok]
        late = [u.at for u, ok in tl.judged if not ok]
        if on:
            ax.scatter([x(t) for t in on], [upd_y] * len(on), s=size, marker="o",
                       color=_ON_TIME, edgecolors="white", linewidths=edge, zorder=4)
            handles.append(Line2D([], [], ls="", marker="o", ms=10, color=_ON_TIME,
                                  label="Update on time"))
        if late:
            ax.scatter([x(t) for t in late], [upd_y] * len(late), s=size * 1.2, marker="^",
                       color=_LATE, edgecolors="white", linewidths=edge, zorder=4)
            handles.append(Line2D([], [], ls="", marker="^", ms=11, color=_LATE,
                                  label="Update late"))
        if tl.unjudged:
            ax.scatter([x(u.at) for u in tl.unjudged], [upd_y] * len(tl.unjudged), s=size,
                       marker="o", facecolors="white", edgecolors=_MUTED, linewidths=1.5,
                       zorder=4)
            handles.append(Line2D([], [], ls="", marker="o", ms=10, mfc="white", mec=_MUTED,
                                  label="Update, no cadence"))
        if not incident.updates:
            ax.text(x(lo - pad) + span_num * 0.01, upd_y, "no update logged", va="center",
                    color=_MUTED, fontsize=13, zorder=4, bbox=_NOTE_BOX)

        # due times
        met = [d.at for d in tl.dues if d.state in (DueState.ON_TIME, DueState.LATE)]
        miss = [d.at for d in tl.dues if d.state is DueState.MISSED]
        if met:
            ax.scatter([x(t) for t in met], [due_y] * len(met), s=260 if not many else 160,
                       marker="|", color=_INK if not many else "#555555",
                       linewidths=2 if not many else 0.8, zorder=4)
            handles.append(Line2D([], [], ls="", marker="|", ms=14, mew=2, color=_INK,
                                  label="Due time"))
        if miss or tl.missed_runs:
            if miss:
                ax.scatter([x(t) for t in miss], [due_y] * len(miss), s=110 if not many else 50,
                           marker="x", color=_MISSED, linewidths=2.2, zorder=4)
            if tl.missed_runs:
                ax.broken_barh([(x(r.first), x(r.last) - x(r.first)) for r in tl.missed_runs],
                               (due_y - 0.12, 0.24), facecolors=_MISSED, zorder=4)
            handles.append(Line2D([], [], ls="", marker="x", ms=10, mew=2.2, color=_MISSED,
                                  label="Due, missed"))
        if upcoming is not None:
            if upcoming.at <= hi:
                ax.scatter([x(upcoming.at)], [due_y], s=200, marker="D", facecolors="white",
                           edgecolors=_INK, linewidths=1.8, zorder=5)
                handles.append(Line2D([], [], ls="", marker="D", ms=9, mfc="white", mec=_INK,
                                      mew=1.8, label="Next due"))
            else:
                ax.annotate(f"next due {upcoming.at:%d %b %H:%M} →", (1.0, due_y),
                            xycoords=("axes fraction", "data"), ha="right", va="center",
                            fontsize=13, color=_INK,
                            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"},
                            zorder=5)
        if tl.window_end is None:
            ax.text(x(lo - pad) + span_num * 0.01, due_y, "no cadence was set", va="center",
                    color=_MUTED, fontsize=13, zorder=4, bbox=_NOTE_BOX)

        # cadence changes: a small mark above the due lane, with the interval when few
        if tl.changes:
            ax.scatter([x(c.at) for c in tl.changes], [change_y] * len(tl.changes), s=70,
                       marker="^", color=_MUTED, zorder=4, clip_on=False)
            if len(tl.changes) <= 4:
                for c in tl.changes:
                    ax.text(x(c.at) + span_num * 0.02, change_y,
                            f"every {fmt_duration(c.interval)}", fontsize=13, color=_MUTED,
                            ha="left", va="center", zorder=4, clip_on=True)
            handles.append(Line2D([], [], ls="", marker="^", ms=8, color=_MUTED,
                                  label="Cadence set"))

        # milestones
        if incident.resolved_at is not None:
            ax.axvline(x(incident.resolved_at), color="#1B7F3B", lw=2.5, zorder=3)
            handles.append(Line2D([], [], color="#1B7F3B", lw=2.5, label="Resolved"))
        if incident.closed_at is not None:
            ax.axvline(x(incident.closed_at), color=_INK, lw=2.5, ls="--", zorder=3)
            handles.append(Line2D([], [], color=_INK, lw=2.5, ls="--", label="Closed"))
        else:
            ax.axvline(x(now), color=_MUTED, lw=1.8, ls=":", zorder=3)
            handles.append(Line2D([], [], color=_MUTED, lw=1.8, ls=":", label="Now"))

        # --- axes, title, figures, legend --------------------------------------------------
        locator = mdates.AutoDateLocator(tz=mdates.UTC, minticks=3, maxticks=7)
        # the default minute steps stop at 30, which leaves 2.5 h spans without a fit
        locator.intervald[mdates.MINUTELY] = [1, 2, 5, 10, 15, 20, 30, 45, 60]
        formatter = mdates.ConciseDateFormatter(locator, tz=mdates.UTC, show_offset=True)
        formatter.formats = ["%Y", "%b", "%d %b", "%H:%M", "%H:%M", "%S.%f"]
        formatter.zero_formats = ["", "%Y", "%d %b", "%d %b", "%H:%M", "%H:%M"]
        formatter.offset_formats = ["", "%Y", "%b %Y", "%d %b %Y", "%d %b %Y", "%d %b %Y %H:%M"]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(formatter)
        ax.set_xlabel("Time (UTC)", labelpad=6)
        ax.grid(axis="x", color="#EEEEEE", lw=1, zorder=0)
        ax.tick_params(axis="y", length=0, pad=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

        name = _title_name(incident.customer, covered)
        state = "final" if summary.is_final else f"so far, {now:%d %b %H:%M} UTC"
        title = fig.text(0.04, 0.965, f"{incident.key} · {name}", fontsize=19,
                         fontweight="bold", va="top", color=_INK)
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        room = WIDTH_PX * 0.93
        while len(name) > 1 and title.get_window_extent(renderer).x1 > room:
            name = name[:-2].rstrip() + "…"  # wide letters: cut until it fits the width
            title.set_text(f"{incident.key} · {name}")
        fig.text(0.04, 0.918, f"Customer updates · {incident.severity} · "
                 f"{summary.status.value} ({state})", fontsize=13, va="top", color=_MUTED)
        a = summary.adherence
        if a.interval is None:
            lines = ["No update cadence was in force.",
                     f"{len(incident.updates)} update{'s' if len(incident.updates) != 1 else ''}"
                     " logged."]
        else:
            ratio = "n/a" if a.ratio is None else f"{round(a.ratio * 100)}%"
            gap = "none yet" if a.longest_gap is None else fmt_duration(a.longest_gap)
            lines = [f"Every {fmt_duration(a.interval)}: {a.on_time} on time, {a.late} late, "
                     f"{a.missed} missed",
                     f"Adherence {ratio} · longest gap {gap}"]
        fig.text(0.04, 0.878, lines[0], fontsize=14, va="top", color=_INK)
        fig.text(0.04, 0.843, lines[1], fontsize=14, va="top", color=_INK,
                 fontweight="bold" if a.interval is not None else "normal")

        if handles:
            fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.04, 0.205),
                       ncols=2, frameon=False, handlelength=1.6, columnspacing=1.6,
                       borderaxespad=0, labelspacing=0.55)

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white",
                    metadata={"Software": None})
        return buf.getvalue()
