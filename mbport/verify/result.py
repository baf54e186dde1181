"""What verify found: per kind how many objects paired, equal, differ or exist on one side only, and each difference."""

from __future__ import annotations

from dataclasses import dataclass, field

from .canon import Difference


@dataclass
class KindCount:
    paired: int = 0
    equal: int = 0
    differ: int = 0
    only_source: int = 0
    only_target: int = 0

    def line(self, kind: str) -> str:
        return (f"{kind}: {self.paired} paired, {self.equal} equal, {self.differ} differ, "
                f"{self.only_source} only in source, {self.only_target} only in target")


@dataclass
class VerifyResult:
    source: str
    target: str
    counts: dict[str, KindCount] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a kind one side does not have, queries failing on both
    unknown_fields: set[tuple[str, str]] = field(default_factory=set)
    requests: int = 0
    seconds: float = 0.0

    @property
    def equal(self) -> bool:
        return not self.differences

    def summary(self) -> dict:
        return {"source": self.source, "target": self.target, "equal": self.equal,
                "differences": len(self.differences), "requests": self.requests, "seconds": round(self.seconds, 2),
                "kinds": {k: vars(c) for k, c in self.counts.items()}, "notes": self.notes}
