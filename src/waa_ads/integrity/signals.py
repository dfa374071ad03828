"""An attempt's integrity signals, computed from its browser events and its save history
(pure: plain records in, values with their evidence out).

Every signal is a number with the evidence it was computed from (event ids and times,
save ids, items), so a flag raised on it can be checked by a person.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Each signal a rule may name, and what it counts.
SIGNALS: dict[str, str] = {
    "focus_loss_count": "times the test window lost focus or was hidden",
    "focus_loss_s": "seconds spent away from the test window in all",
    "copy_count": "copy events",
    "paste_count": "paste events",
    "cut_count": "cut events",
    "fullscreen_exit_count": "times full screen was left",
    "network_loss_count": "times the network was lost",
    "network_loss_s": "seconds without network in all",
    "context_menu_count": "context menus opened",
    "print_attempt_count": "attempts to print",
    "devtools_suspected_count": "times developer tools seemed open",
    "fast_response_count": "items answered faster than the cohort allows for reading them",
    "fast_response_share": "share of the answered items that were answered too fast",
    "gap_burst_count": "long gaps without activity followed by a burst of answers",
    "changes_after_focus_loss": "answers changed while away or just after coming back",
    "similarity_partner_count": "candidates of the administration with unusual agreement",
    "frame_count": "webcam stills analysed",
    "frame_no_face_count": "stills with no face",
    "frame_no_face_share": "share of the analysed stills with no face",
    "frame_several_faces_count": "stills with more than one face",
    "frame_looking_away_count": "stills with a face turned away (seen only in profile)",
    "frame_at_edge_count": "stills with the face leaving the frame",
    "frame_too_dark_count": "stills too dark to judge",
    "frame_too_bright_count": "stills too bright to judge",
    "frame_covered_count": "stills of a single tone (a covered lens)",
    "frame_frozen_count": "stills near identical to the one before (frozen or virtual camera)",
    "camera_refused": "1 when the candidate did not consent to the camera",
    "camera_unavailable": "1 when the candidate's browser had no usable camera",
}

#: Frame findings counted as signals: (findings key, value that counts, signal).
_FRAME_COUNTS = (
    ("presence", "none", "frame_no_face_count"),
    ("presence", "several", "frame_several_faces_count"),
    ("looking_away", True, "frame_looking_away_count"),
    ("at_edge", True, "frame_at_edge_count"),
    ("too_dark", True, "frame_too_dark_count"),
    ("too_bright", True, "frame_too_bright_count"),
    ("uniform", True, "frame_covered_count"),
    ("frozen", True, "frame_frozen_count"),
)
_CAMERA_EVENTS = {
    "camera_consent_refused": "camera_refused",
    "camera_unavailable": "camera_unavailable",
}

_AWAY = frozenset({"focus_lost", "visibility_hidden"})
_BACK = frozenset({"focus_regained", "visibility_visible"})
_COUNTED = {
    "copy": "copy_count",
    "paste": "paste_count",
    "cut": "cut_count",
    "fullscreen_exit": "fullscreen_exit_count",
    "context_menu": "context_menu_count",
    "print_attempt": "print_attempt_count",
    "devtools_suspected": "devtools_suspected_count",
}


@dataclass(frozen=True)
class SignalSettings:
    """The parameters of the signals (a policy's ``settings``)."""

    fast_fraction: float = 0.25  # faster than this share of the cohort's median time
    fast_robust_z: float = -3.5  # or a robust z-score of log time below this
    min_cohort: int = 5  # fewer timed responses in the cohort: no speed judgement
    gap_s: float = 300.0  # a gap is this long without any save or event
    burst_saves: int = 5  # a burst answers at least this many items...
    burst_window_s: float = 60.0  # ...within this many seconds after the gap
    change_window_s: float = 60.0  # an answer change this soon after coming back counts
    similarity_alpha: float = 0.01
    similarity_correction: str = "bh"


@dataclass(frozen=True)
class EventRecord:
    id: str
    kind: str
    at: datetime  # the server's time of receipt
    #: The browser's own time, used only to order events received together (a batch
    #: shares one receipt time); durations always come from the server's times.
    client_time: str | None = None


@dataclass(frozen=True)
class SaveRecord:
    id: int
    item_ref: str
    seq: int
    value: Any
    status: str  # "accepted", "stale", "late", ...
    at: datetime
    time_spent_ms: int | None = None


@dataclass(frozen=True)
class CohortTime:
    """An item's response times over the administration's cohort."""

    n: int
    median_ms: float
    median_log: float
    mad_log: float  # median absolute deviation of the log times


@dataclass(frozen=True)
class FrameRecord:
    """An analysed webcam still: its id, sequence number, receipt time and findings."""

    id: str
    seq: int
    at: datetime
    findings: Mapping[str, Any]


@dataclass
class SignalValue:
    value: float
    evidence: list[dict[str, Any]] = field(default_factory=list)


def cohort_times(times_by_item: Mapping[str, Iterable[float]]) -> dict[str, CohortTime]:
    """Per item, the median and the robust spread (MAD of log time) of positive times."""
    out = {}
    for ref, times in times_by_item.items():
        positive = [float(t) for t in times if t and t > 0]
        if not positive:
            continue
        logs = [math.log(t) for t in positive]
        median_log = statistics.median(logs)
        out[ref] = CohortTime(
            n=len(positive),
            median_ms=statistics.median(positive),
            median_log=median_log,
            mad_log=statistics.median(abs(v - median_log) for v in logs),
        )
    return out


def _iso(at: datetime) -> str:
    return at.isoformat()


def _episodes(
    events: Sequence[EventRecord], start: frozenset[str], end: frozenset[str], until: datetime
) -> list[dict[str, Any]]:
    """Periods between a starting event and the next ending one (open ones close at
    ``until``); repeated starts while already away belong to the same period."""
    episodes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for event in events:
        if event.kind in start and current is None:
            current = {"from_event": event.id, "from": event.at}
        elif event.kind in end and current is not None:
            current |= {"to_event": event.id, "to": event.at}
            episodes.append(current)
            current = None
    if current is not None:
        episodes.append(current | {"to_event": None, "to": max(until, current["from"])})
    return episodes


def _episode_evidence(episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "from_event": e["from_event"],
            "to_event": e["to_event"],
            "from": _iso(e["from"]),
            "to": _iso(e["to"]),
            "seconds": round((e["to"] - e["from"]).total_seconds(), 3),
        }
        for e in episodes
    ]


def compute_signals(
    events: Sequence[EventRecord],
    saves: Sequence[SaveRecord],
    cohort: Mapping[str, CohortTime],
    settings: SignalSettings,
    *,
    ended_at: datetime,
    similarity_partners: Sequence[dict[str, Any]] = (),
    frames: Sequence[FrameRecord] = (),
) -> dict[str, SignalValue]:
    """Every signal of :data:`SIGNALS` for one attempt.

    ``events`` and ``saves`` are the attempt's own, in any order; ``cohort`` gives the
    administration's response times per item; ``ended_at`` closes a period still open
    (away, offline) when the attempt ended; ``similarity_partners`` are the pairs the
    similarity analysis flagged with this attempt (each becomes evidence as it is);
    ``frames`` are its analysed webcam stills.
    """
    events = sorted(events, key=lambda e: (e.at, e.client_time or "", e.id))
    saves = sorted(saves, key=lambda s: (s.at, s.id))
    out: dict[str, SignalValue] = {name: SignalValue(0.0) for name in SIGNALS}

    away = _episodes(events, _AWAY, _BACK, ended_at)
    out["focus_loss_count"] = SignalValue(float(len(away)), _episode_evidence(away))
    out["focus_loss_s"] = SignalValue(
        round(sum((e["to"] - e["from"]).total_seconds() for e in away), 3),
        _episode_evidence(away),
    )
    offline = _episodes(
        events, frozenset({"network_lost"}), frozenset({"network_restored"}), ended_at
    )
    out["network_loss_count"] = SignalValue(float(len(offline)), _episode_evidence(offline))
    out["network_loss_s"] = SignalValue(
        round(sum((e["to"] - e["from"]).total_seconds() for e in offline), 3),
        _episode_evidence(offline),
    )
    for event in events:
        name = _COUNTED.get(event.kind)
        if name is not None:
            out[name].value += 1
            out[name].evidence.append({"event": event.id, "kind": event.kind, "at": _iso(event.at)})

    accepted = [s for s in saves if s.status == "accepted"]
    _fast(out, accepted, cohort, settings)
    _gaps(out, events, saves, settings)
    _changes(out, accepted, away, settings)
    out["similarity_partner_count"] = SignalValue(
        float(len(similarity_partners)), [dict(p) for p in similarity_partners]
    )
    _frames(out, events, frames)
    return out


def _frames(
    out: dict[str, SignalValue], events: Sequence[EventRecord], frames: Sequence[FrameRecord]
) -> None:
    analysed = sorted(frames, key=lambda f: f.seq)
    out["frame_count"] = SignalValue(float(len(analysed)))
    for key, wanted, name in _FRAME_COUNTS:
        hits = [f for f in analysed if f.findings.get(key) == wanted]
        out[name] = SignalValue(
            float(len(hits)),
            [
                {
                    "frame": f.id,
                    "seq": f.seq,
                    "at": _iso(f.at),
                    "faces": f.findings.get("faces"),
                    "brightness": f.findings.get("brightness"),
                }
                for f in hits
            ],
        )
    none = out["frame_no_face_count"]
    out["frame_no_face_share"] = SignalValue(
        round(none.value / len(analysed), 4) if analysed else 0.0, list(none.evidence)
    )
    for event in events:
        camera = _CAMERA_EVENTS.get(event.kind)
        if camera is not None and out[camera].value == 0:
            out[camera] = SignalValue(
                1.0, [{"event": event.id, "kind": event.kind, "at": _iso(event.at)}]
            )


def _fast(
    out: dict[str, SignalValue],
    accepted: Sequence[SaveRecord],
    cohort: Mapping[str, CohortTime],
    settings: SignalSettings,
) -> None:
    spent: dict[str, int] = {}
    for save in accepted:
        if save.time_spent_ms is not None:
            spent[save.item_ref] = max(spent.get(save.item_ref, 0), save.time_spent_ms)
    fast = []
    for ref, ms in sorted(spent.items()):
        stat = cohort.get(ref)
        if ms <= 0 or stat is None or stat.n < settings.min_cohort:
            continue
        ratio = ms / stat.median_ms
        # 1.4826 x MAD estimates the standard deviation of normal data.
        z = (math.log(ms) - stat.median_log) / (1.4826 * stat.mad_log) if stat.mad_log else 0.0
        if ratio < settings.fast_fraction or z < settings.fast_robust_z:
            fast.append(
                {
                    "item": ref,
                    "time_ms": ms,
                    "cohort_median_ms": round(stat.median_ms, 1),
                    "ratio": round(ratio, 3),
                    "robust_z": round(z, 2),
                    "cohort_n": stat.n,
                }
            )
    out["fast_response_count"] = SignalValue(float(len(fast)), fast)
    judged = sum(1 for ref, ms in spent.items() if ms > 0 and ref in cohort)
    out["fast_response_share"] = SignalValue(round(len(fast) / judged, 4) if judged else 0.0, fast)


def _gaps(
    out: dict[str, SignalValue],
    events: Sequence[EventRecord],
    saves: Sequence[SaveRecord],
    settings: SignalSettings,
) -> None:
    activity = sorted(
        [(s.at, "save", s) for s in saves] + [(e.at, "event", e) for e in events],
        key=lambda a: a[0],
    )
    found = []
    for i in range(1, len(activity)):
        gap = (activity[i][0] - activity[i - 1][0]).total_seconds()
        if gap < settings.gap_s:
            continue
        start = activity[i][0]
        burst = [
            a[2]
            for a in activity[i:]
            if a[1] == "save" and (a[0] - start).total_seconds() <= settings.burst_window_s
        ]
        items = sorted({b.item_ref for b in burst if isinstance(b, SaveRecord)})
        if len(items) >= settings.burst_saves:
            found.append(
                {
                    "gap_from": _iso(activity[i - 1][0]),
                    "gap_to": _iso(start),
                    "gap_s": round(gap, 3),
                    "items": items,
                    "saves": [b.id for b in burst if isinstance(b, SaveRecord)],
                }
            )
    out["gap_burst_count"] = SignalValue(float(len(found)), found)


def _changes(
    out: dict[str, SignalValue],
    accepted: Sequence[SaveRecord],
    away: Sequence[dict[str, Any]],
    settings: SignalSettings,
) -> None:
    last: dict[str, Any] = {}
    found = []
    for save in accepted:
        before = last.get(save.item_ref)
        last[save.item_ref] = save.value
        if before is None or before == save.value:
            continue
        for episode in away:
            after_s = (save.at - episode["to"]).total_seconds()
            if episode["from"] <= save.at and after_s <= settings.change_window_s:
                found.append(
                    {
                        "save": save.id,
                        "item": save.item_ref,
                        "at": _iso(save.at),
                        "away_event": episode["from_event"],
                        "seconds_after_return": round(max(after_s, 0.0), 3),
                    }
                )
                break
    out["changes_after_focus_loss"] = SignalValue(float(len(found)), found)
