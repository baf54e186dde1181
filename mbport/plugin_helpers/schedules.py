"""Pulse-channel schedules (schedule_type/hour/day/frame) and the Quartz cron strings notifications keep (0.54 on)."""

from __future__ import annotations

from typing import Any

# Quartz day-of-week numbers, as Metabase's schedule → cron conversion writes them.
DAY_NUMBERS = {"sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7}
DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
DAYS_BY_NUMBER = {n: day for day, n in DAY_NUMBERS.items()}


def cron_to_schedule(cron: str | None) -> dict[str, Any] | None:
    """The schedule_type/hour/day/frame a pulse channel keeps for a Quartz cron string, when it has one (the forms
    `schedule_to_cron` writes, days by number or name); None for any other schedule."""
    parts = (cron or "").split()
    if len(parts) not in (6, 7) or parts[0] != "0" or parts[1] != "0" or (len(parts) == 7 and parts[6] != "*"):
        return None
    hour, dom, month, dow = parts[2], parts[3], parts[4], parts[5]
    if month != "*" or not (hour == "*" or (hour.isdigit() and 0 <= int(hour) <= 23)):
        return None
    h = None if hour == "*" else int(hour)

    def day(text: str) -> str | None:
        n = DAY_NAMES.get(text.upper()) or (int(text) if text.isdigit() else None)
        return DAYS_BY_NUMBER.get(n) if n else None

    out = {"schedule_hour": h, "schedule_day": None, "schedule_frame": None}
    if hour == "*":
        return {**out, "schedule_type": "hourly"} if dom in ("*", "?") and dow in ("*", "?") else None
    if dow == "?" and dom == "*":
        return {**out, "schedule_type": "daily"}
    if dom == "?" and day(dow):
        return {**out, "schedule_type": "weekly", "schedule_day": day(dow)}
    if dow == "?" and dom in ("1", "15", "L"):
        return {**out, "schedule_type": "monthly", "schedule_frame": {"1": "first", "15": "mid", "L": "last"}[dom]}
    if dom == "?" and (dow.endswith("#1") or dow.endswith("L")) and day(dow.rstrip("L").split("#")[0]):
        return {**out, "schedule_type": "monthly", "schedule_day": day(dow.rstrip("L").split("#")[0]),
                "schedule_frame": "first" if dow.endswith("#1") else "last"}
    return None



def schedule_to_cron(channel: dict[str, Any]) -> str:
    """A pulse channel's schedule_type/hour/day/frame as the Quartz cron string Metabase stores for it."""
    stype, hour = channel.get("schedule_type"), channel.get("schedule_hour")
    day, frame = channel.get("schedule_day"), channel.get("schedule_frame")
    h = "*" if stype == "hourly" or hour is None else str(hour)
    if stype == "weekly" and day in DAY_NUMBERS:
        return f"0 0 {h} ? * {DAY_NUMBERS[day]} *"
    if stype == "monthly":
        if frame == "mid":
            return f"0 0 {h} 15 * ? *"
        if day in DAY_NUMBERS:
            return f"0 0 {h} ? * {DAY_NUMBERS[day]}{'#1' if frame == 'first' else 'L'} *"
        return f"0 0 {h} {'1' if frame == 'first' else 'L'} * ? *"
    return f"0 0 {h} * * ? *"


def canonical_cron(cron: Any) -> Any:
    """One spelling per pulse-form schedule: `0 0 9 ? * MON *` and `0 0 9 ? * 2 *` are the same weekly one (a
    release before 0.54 gives an alert's schedule back in its own spelling); any other value unchanged."""
    schedule = cron_to_schedule(cron) if isinstance(cron, str) else None
    return schedule_to_cron(schedule) if schedule else cron
