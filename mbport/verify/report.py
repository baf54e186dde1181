"""A verify result in an admin's words (text lines)."""

from __future__ import annotations

from .result import VerifyResult


def lines(result: VerifyResult) -> list[str]:
    """Per kind "N paired, N equal, ...", then every difference, then the notes."""
    out = [count.line(kind) for kind, count in result.counts.items()]
    if result.differences:
        out.append(f"{len(result.differences)} difference(s):")
        out += [f"  {d.line()}" for d in result.differences]
    for note in result.notes:
        out.append(f"note: {note}")
    out.append(f"{'No differences' if result.equal else 'Differences found'} between {result.source} and "
               f"{result.target} ({result.requests} requests, {result.seconds:.1f} s).")
    return out

