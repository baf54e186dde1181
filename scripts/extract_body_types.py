"""Write mbport/body_types.json (the JSON types of every write request's body, mbport.body_types) from the emulator's
OpenAPI spec: Metabase's own, the subset the emulator serves, with the operations of older releases added."""

import sys
from pathlib import Path

import orjson

from mbport.body_types import FILE, derive

ROOT = Path(__file__).resolve().parents[1] / "mbport"


def spec() -> dict:
    """mbport/emulator/openapi.json with openapi_old.json's operations (as the emulator reads them)."""
    raw = orjson.loads((ROOT / "emulator" / "openapi.json").read_bytes())
    old = orjson.loads((ROOT / "emulator" / "openapi_old.json").read_bytes())
    for path, ops in old["paths"].items():
        raw["paths"].setdefault(path, {}).update(ops)
    return raw


def render() -> bytes:
    return orjson.dumps(derive(spec()), option=orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / FILE
    out.write_bytes(render())
    print(f"{out}: {out.stat().st_size} bytes")
