"""The cadence chart: a phone-sized PNG of the cadence walk, and life without it.

What it draws is `playbook.domain.cadence_walk` (tests/unit/test_cadence_walk.py). The rendering
tests decode the PNG header to check the canvas, and run the edge cases under ``warnings ->
errors`` so a missing glyph or a mathtext surprise fails loudly. The last tests hide matplotlib to
show the bot keeps working without the extra.
"""

from __future__ import annotations

import builtins
import struct
import subprocess
import sys
import warnings
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot import chart
from bot.chart import (
    ENABLE_HINT,
    HEIGHT_PX,
    WIDTH_PX,
    chart_available,
    chart_filename,
    render_cadence_chart,
)
from playbook.domain.cadence_walk import DueState, cadence_timeline
from playbook.domain.model import (
    CadenceChange,
    CustomerUpdate,
    Incident,
    Status,
    Step,
    StepRecord,
)
from tests.cadence_incidents import at, make, mins

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG spec puts first."""
    assert png[:8] == PNG_MAGIC
    length, kind, width, height = struct.unpack(">I4sII", png[8:24])
    assert (length, kind) == (13, b"IHDR")
    (crc,) = struct.unpack(">I", png[8 + 8 + 13 : 8 + 8 + 13 + 4])
    assert crc == zlib.crc32(png[12 : 12 + 4 + 13])
    assert png[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"
    return width, height


# --- the picture --------------------------------------------------------------------------------


def _full() -> Incident:
    """A resolved sev1 with a cadence change, late and missed updates, and a skipped step."""
    inc = make(updates=("10:25", "10:55", "11:37", "12:50", "13:45", "15:10", "16:00"),
               severity="sev1")
    inc.cadence_changes.append(CadenceChange(at("12:40"), mins(60), agreed=True))
    inc.steps = [
        StepRecord(Step.LISTEN, at("10:10"), "U1"),
        StepRecord(Step.RESTATE, at("10:40"), "U1", skipped_reason="customer unreachable"),
        StepRecord(Step.OWN, at("10:50"), "U1"),
        StepRecord(Step.SOLVE, at("15:00"), "U1"),
    ]
    inc.resolved_at, inc.customer_informed_at = at("15:00"), at("16:00")
    inc.status, inc.step = Status.RESOLVED, Step.FOLLOW_UP
    return inc


def _many() -> Incident:
    inc = make(cadence=15, set_at="09:50")
    gaps = (5, 10, 14, 15, 16, 25, 40)
    t = at("09:50")
    for n in range(300):
        t += mins(gaps[n * 7 % len(gaps)])
        inc.updates.append(CustomerUpdate(n + 1, "u", "U1", t))
    return inc


def _multi_day() -> Incident:
    inc = make(cadence=240, severity="sev3")
    inc.updates = [
        CustomerUpdate(n + 1, "u", "U1", at("10:00") + timedelta(hours=h))
        for n, h in enumerate((3, 7, 16, 20, 30, 33, 50, 53))
    ]
    inc.steps = [
        StepRecord(Step.LISTEN, at("11:00")),
        StepRecord(Step.RESTATE, at("13:00")),
        StepRecord(Step.OWN, at("14:00")),
        StepRecord(Step.SOLVE, at("12:00", day=2)),
        StepRecord(Step.FOLLOW_UP, at("15:00", day=3), skipped_reason="customer gone quiet"),
    ]
    inc.resolved_at, inc.customer_informed_at = at("12:00", day=2), at("15:00", day=2)
    inc.closed_at, inc.status = at("15:00", day=3), Status.CLOSED
    return inc


EDGE_CASES = {
    "full": (_full, at("16:30")),
    "no updates": (lambda: make(), at("11:00")),
    "no cadence": (lambda: make(cadence=None, updates=("10:20",)), at("11:00")),
    "single instant": (lambda: make(cadence=None), at("09:50")),
    "cadence set at open, now": (lambda: make(set_at="09:50"), at("09:50")),
    "300 updates": (_many, at("12:00", day=3)),
    "rtl, emoji, cjk, $ and controls": (
        lambda: make(customer="שלום עולם 🔥👩‍💻 مرحبا $5 deal $x^2$ 東京\n\tCo.\u200f",
                     updates=("10:20",)),
        at("11:00"),
    ),
    "empty customer": (lambda: make(customer="   "), at("11:00")),
    "very long customer": (lambda: make(customer="A" * 500), at("11:00")),
    "multi-day, closed": (_multi_day, at("00:00", day=30)),
    "1-minute cadence for two days": (lambda: make(cadence=1), at("10:00", day=2)),
    "zero interval": (lambda: make(cadence=0, updates=("10:05",)), at("11:00")),
    "updates before the open": (lambda: make(updates=("08:00", "10:10")), at("10:20")),
    "closed in the middle of a step": (
        lambda: make(updates=("10:20",), status=Status.CLOSED, closed_at=at("11:05"),
                     steps=[StepRecord(Step.LISTEN, at("10:10"))]),
        at("12:00"),
    ),
}


@pytest.fixture(scope="module")
def mpl() -> None:
    pytest.importorskip("matplotlib")


@pytest.mark.usefixtures("mpl")
def test_chart_is_available_with_the_extra() -> None:
    assert chart_available()


@pytest.mark.usefixtures("mpl")
@pytest.mark.parametrize("case", list(EDGE_CASES), ids=list(EDGE_CASES))
def test_renders_a_phone_sized_png(case: str) -> None:
    factory, now = EDGE_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no glyph, mathtext or date warnings leak out
        png = render_cadence_chart(factory(), now)
    assert png is not None
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX) == (1080, 1350)
    assert 20_000 < len(png) < 1_500_000


SPANS = [timedelta(0), timedelta(seconds=1), mins(3), mins(150), mins(158), timedelta(hours=26),
         timedelta(days=9), timedelta(days=75), timedelta(days=400)]


@pytest.mark.usefixtures("mpl")
@pytest.mark.parametrize("span", SPANS, ids=str)
def test_any_time_span_gets_clean_axis_ticks(span: timedelta) -> None:
    inc = make(cadence=None)
    inc.updates = [CustomerUpdate(1, "u", "U1", inc.opened_at + span)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "AutoDateLocator was unable to pick an interval"
        png = render_cadence_chart(inc, inc.opened_at + span)
    assert png is not None and png_size(png) == (WIDTH_PX, HEIGHT_PX)


@pytest.mark.usefixtures("mpl")
def test_same_incident_same_bytes() -> None:
    inc = _full()
    assert render_cadence_chart(inc, at("16:30")) == render_cadence_chart(inc, at("16:30"))


@pytest.mark.usefixtures("mpl")
def test_render_leaves_global_matplotlib_state_alone() -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    render_cadence_chart(_full(), at("16:30"))
    assert dict(matplotlib.rcParams) == before


@pytest.mark.usefixtures("mpl")
def test_renders_from_several_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        pngs = list(pool.map(lambda _: render_cadence_chart(_full(), at("16:30")), range(4)))
    assert len(set(pngs)) == 1 and pngs[0] is not None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        render_cadence_chart(make(), datetime(2024, 5, 6, 12, 0))


@pytest.mark.usefixtures("mpl")
def test_title_drops_unrenderable_symbols_and_cuts_long_names() -> None:
    _, covered = chart._fonts()
    assert chart._title_name("Acme 🔥 Corp\n", covered) == "Acme Corp"
    assert chart._title_name("🔥", covered) == "(unnamed customer)"
    assert chart._title_name("東京", covered) == "東京"  # letters stay, as boxes at worst
    assert chart._title_name("x" * 100, covered) == "x" * 37 + "…"


def test_filename() -> None:
    assert chart_filename(make()) == "inc-3-cadence.png"


# --- without the extra --------------------------------------------------------------------------


def test_without_matplotlib_via_sys_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # "import matplotlib" -> ImportError
    assert chart_available() is False
    assert render_cadence_chart(_full(), at("16:30")) is None


def test_without_matplotlib_via_import_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert chart_available() is False
    assert render_cadence_chart(make(), at("11:00")) is None
    # the rest of what a summary needs still works
    assert cadence_timeline(make(), at("11:00")).count(DueState.MISSED) == 1


def test_hint_says_how_to_enable_it() -> None:
    assert "\n" not in ENABLE_HINT
    assert "pip install 'crisis-playbook-bot[chart]'" in ENABLE_HINT


IMPORT_CHECK = """
import sys
from datetime import UTC, datetime
import bot.chart
assert "matplotlib" not in sys.modules, "imported at module import"
from playbook.domain.model import Incident
inc = Incident("T1", 1, "Acme", "x", "U1", datetime(2024, 5, 6, tzinfo=UTC))
png = bot.chart.render_cadence_chart(inc, datetime(2024, 5, 6, 1, tzinfo=UTC))
assert png is None or png.startswith(b"\\x89PNG")
assert "matplotlib.pyplot" not in sys.modules, "pyplot (global figure state) was imported"
"""


def test_matplotlib_is_imported_only_to_draw_and_never_pyplot() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_extra_is_declared() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert extras["chart"] == ["matplotlib>=3.8"]
    assert "crisis-playbook-bot[chart]" in extras["dev"]
    assert not any("matplotlib" in d for d in project["dependencies"])
