"""The emulator's Sample Database: a deterministic SQLite warehouse (orders, people, products, reviews)."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import random
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

# The schema ships beside this module (fixtures/warehouses links to the same folder).
SCHEMA_SQL = (Path(__file__).resolve().parent / "warehouses" / "sample.sql").read_text()

PEOPLE, PRODUCTS, ORDERS, REVIEWS = 100, 50, 400, 150
SEED = 20240601
_EPOCH = dt.datetime(2023, 1, 1, 8, 0, 0)
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Dennis"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Ritchie"]
_CITIES = [("Portland", "OR"), ("Austin", "TX"), ("Denver", "CO"), ("Madison", "WI"), ("Boston", "MA"), ("Tucson", "AZ")]
_SOURCES = ["Affiliate", "Facebook", "Google", "Organic", "Twitter"]
_CATEGORIES = ["Doohickey", "Gadget", "Gizmo", "Widget"]
_ADJECTIVES = ["Rustic", "Sleek", "Durable", "Ergonomic", "Heavy-Duty", "Lightweight", "Mediocre", "Practical"]
_MATERIALS = ["Paper", "Wool", "Steel", "Granite", "Cotton", "Leather", "Bronze", "Plastic"]
_VENDORS = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay Industries"]
_REVIEW_BODIES = ["Works as described.", "Broke after a week.", "Great value for the price.",
                  "Would buy again.", "Not what I expected.", "Five stars, no notes."]


def _ts(rng: random.Random, max_days: int = 700) -> str:
    return (_EPOCH + dt.timedelta(days=rng.randrange(max_days), seconds=rng.randrange(86400))).isoformat(sep=" ")


def _rows(rng: random.Random) -> dict[str, list[tuple]]:
    people = []
    for i in range(1, PEOPLE + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, state = rng.choice(_CITIES)
        people.append((
            i, f"{first} {last}", f"{first.lower()}.{last.lower()}{i}@example.com", f"pw-{rng.randrange(10**8):08d}",
            f"{rng.randrange(1, 9999)} Main Street", city, state, f"{rng.randrange(10000, 99999)}",
            round(rng.uniform(25, 48), 6), round(rng.uniform(-122, -71), 6), rng.choice(_SOURCES),
            (dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))).isoformat(), _ts(rng),
        ))
    products = []
    for i in range(1, PRODUCTS + 1):
        products.append((
            i, f"{rng.randrange(10**12, 10**13)}", f"{rng.choice(_ADJECTIVES)} {rng.choice(_MATERIALS)} {rng.choice(_CATEGORIES)}",
            rng.choice(_CATEGORIES), rng.choice(_VENDORS), round(rng.uniform(15, 100), 2), round(rng.uniform(2, 5), 1), _ts(rng),
        ))
    orders = []
    for i in range(1, ORDERS + 1):
        product = rng.choice(products)
        quantity = rng.randrange(1, 6)
        subtotal = round(product[5] * quantity, 2)
        discount = round(subtotal * 0.1, 2) if rng.random() < 0.2 else None
        tax = round(subtotal * 0.07, 2)
        total = round(subtotal + tax - (discount or 0), 2)
        orders.append((i, rng.randrange(1, PEOPLE + 1), product[0], subtotal, tax, total, discount, quantity, _ts(rng)))
    reviews = [
        (i, rng.randrange(1, PRODUCTS + 1), rng.choice(_FIRST).lower() + str(rng.randrange(100)), rng.randrange(1, 6),
         rng.choice(_REVIEW_BODIES), _ts(rng))
        for i in range(1, REVIEWS + 1)
    ]
    return {"people": people, "products": products, "orders": orders, "reviews": reviews}


def build(dest: str | Path) -> Path:
    """Write the Sample Database to `dest` (replaced if present); the same rows on every call."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(SCHEMA_SQL)
        for table, rows in _rows(random.Random(SEED)).items():
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, dest)  # atomic, so a concurrent reader never sees half a file
    return dest


def build_from_script(script: str | Path, dest: str | Path) -> Path:
    """Create a SQLite file at `dest` from a .sql script (a path or the SQL text), e.g. fixtures/warehouses/*.sql."""
    text = Path(script).read_text() if isinstance(script, Path) or str(script).endswith(".sql") else str(script)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    conn = sqlite3.connect(dest)
    try:
        conn.executescript(text)
        conn.commit()
    finally:
        conn.close()
    return dest


_lock = threading.Lock()
_cached: Path | None = None


_made: set[Path] = set()
_made_lock = threading.Lock()  # not `_lock`: sample_database_path holds that one while it calls this


def cache_dir() -> Path:
    """A per-process directory for generated warehouse files, removed when the process exits (also after
    Ctrl-C, and after SIGTERM for `mbport emulator serve`, which turns it into one)."""
    path = Path(tempfile.gettempdir()) / f"mbport-emulator-{os.getpid()}"
    with _made_lock:
        if path not in _made:
            _made.add(path)
            atexit.register(shutil.rmtree, path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sample_database_path() -> Path:
    """The Sample Database file of this process, generated on first use."""
    global _cached
    with _lock:
        if _cached is None or not _cached.is_file():
            _cached = build(cache_dir() / "sample-database.sqlite")
        return _cached
