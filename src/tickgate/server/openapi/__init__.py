"""The OpenAPI 3.1 document of every REST route tickgate serves, at `/v1/api/openapi.json`.

Each route area has one module here listing its entries (`OPERATIONS`): `session`,
`contracts`, `marketdata`, `orders`, `portfolio`, `scanner`, `watchlists`, `control`
(`/tickgate/...`), `service` (probes, metrics, the page). `document` puts them together.

Adding a route? `tests/server/test_openapi_routes.py` fails until the document has it. Add an
entry to the area's module (or a new module, listed in `document.AREAS`):

    *op("GET", "/iserver/thing/{conid}", "What it answers",
        ok=obj({"conid": INTEGER, "name": STRING}),        # the 200 body's JSON Schema
        params=(path("conid", CONID), query("period", STRING)),
        errors={400: "when it answers 400", 404: "when 404"}, tag="area"),

`path` as in the route table, without the prefix; Client Portal entries are listed under both
`/v1/api` and `/v1/portal`, tickgate's own routes pass `prefixes=OWN`. A body is `body=...`
(with `body_required=True` when it must be there). The schemathesis test then checks every
answer of the route against the entry; keep `ok` true to what the handler returns.
"""
