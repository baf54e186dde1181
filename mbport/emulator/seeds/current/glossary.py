"""The glossary: two terms with their definitions."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok

TERMS = {"ARR": "Annual recurring revenue: the yearly value of active subscriptions.",
         "Churn": "Customers who cancelled in a period, over the customers at its start."}


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """`glossary:ARR` and `glossary:Churn`."""
    for term, definition in TERMS.items():
        ids[f"glossary:{term}"] = ok(api.post("/api/glossary", json={"term": term, "definition": definition}))["id"]
