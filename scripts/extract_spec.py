"""Extract the parts of Metabase's OpenAPI spec that the emulator implements into the package."""

import json
import re
import sys
from pathlib import Path

# API areas the emulator serves; every path under these prefixes is kept, with the components it uses.
AREAS = (
    "session", "setup", "user", "permissions", "collection", "card", "cards", "dashboard", "database",
    "table", "field", "native-query-snippet", "timeline", "timeline-event", "pulse", "alert", "notification",
    "channel", "segment", "measure", "metric", "action", "setting", "api-key", "dataset", "eid-translation",
    "search", "mt", "revision", "ee/advanced-permissions/impersonation", "document", "glossary", "ee/library",
    "ee/data-studio", "data-studio", "ee/tenant", "transform", "transform-tag", "transform-job", "ee/transforms-python",
    "cache", "moderation-review", "metabot/metabot",
)


# Routes Metabase serves outside its /api route table, so not in its generated spec: the health check
# (server/routes.clj `routes`), which clients and CI poll before anything else.
EXTRA_PATHS = {
    "/api/health": {"get": {
        "description": "Health check: 200 {\"status\": \"ok\"} once the server is up (503 while it initializes); no session.",
        "operationId": "get-api-health", "parameters": [], "summary": "GET /api/health", "tags": ["/api/health"],
        "responses": {"2XX": {"description": "Successful response"}, "5XX": {"description": "Server error response"}},
    }},
}


def patch_schemas(schemas):
    """Where the generated spec is stricter than the server's decoding: a transform's source query is
    `::lib-be.schema/maybe-legacy-query` (MBQL 4 is normalized to MBQL 5 before validation) and a Python source's
    `source-tables` may be the frontend's map alias -> table id (transforms/schema.clj decode/normalize)."""
    name = "metabase.transforms.schema.transform-source"
    if name not in schemas:
        return
    query_source, python_source = schemas[name]["oneOf"]
    query_source["properties"]["query"] = {
        "description": "an MBQL 5 or legacy MBQL query (maybe-legacy-query)", "type": "object"}
    entries = python_source["properties"]["source-tables"]
    python_source["properties"]["source-tables"] = {"anyOf": [
        entries, {"additionalProperties": {"type": "integer"}, "type": "object"}]}


def referenced(node, found):
    """Collect every components/schemas name reachable from node."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            referenced(value, found)


def main(src: str, dst: str) -> None:
    spec = json.loads(Path(src).read_text())
    pattern = re.compile(r"^/api/({})(/|$)".format("|".join(re.escape(a) for a in AREAS)))
    paths = {p: ops for p, ops in spec["paths"].items() if pattern.match(p)}
    paths.update(EXTRA_PATHS)
    schemas = spec["components"]["schemas"]
    patch_schemas(schemas)
    keep: set[str] = set()
    todo = set()
    referenced(paths, todo)
    while todo:
        ref = todo.pop()
        name = ref.rsplit("/", 1)[-1]
        if name in keep:
            continue
        keep.add(name)
        referenced(schemas[name], todo)
    out = {
        "openapi": spec["openapi"],
        "info": {**spec["info"], "x-mbport": "subset of shared/metabase/openapi.json; regenerate with scripts/extract_spec.py"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {k: schemas[k] for k in sorted(keep)}},
    }
    Path(dst).write_text(json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(paths)} paths, {len(keep)} schemas -> {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
