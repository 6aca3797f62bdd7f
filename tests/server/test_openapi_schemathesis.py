"""schemathesis against a real gateway, from the document the gateway serves.

`st run` (a subprocess: schemathesis' own runner, with its coverage, fuzzing and stateful
phases) reads `/v1/api/openapi.json` from a gateway on 127.0.0.1 and calls every operation it
lists. It must find no 5xx answer, no answer outside the document (status, content type,
schema), every request that breaks the document refused with a 4xx (or, on IBKR's order
routes, a 200 refusal) and every error a JSON `{"error": ...}` (see schemathesis_checks.py).
The gateway must log no error meanwhile. Deterministic, with a fixed example count, so CI
makes the same requests each run (three to four minutes on a loaded 2-core machine).

Values schemathesis draws for accounts, conids, symbols and currencies come from the gateway's
own catalogue and accounts now and then (dictionaries), so calls reach past "unknown conid".
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tickgate.model.instruments import SecType
from tickgate.model.orders import OrderType, Side, TimeInForce
from tickgate.protocol import fields as F
from tickgate.pytest_plugin import StartGateway, TickgateServer
from tickgate.trading.fyi import TYPECODES

CHECKS_FILE = Path(__file__).with_name("schemathesis_checks.py")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "error_answers_are_json_errors",
    "malformed_requests_are_refused",
    "undeclared_methods_are_405",
)
#: Left out of the run, and why:
#: - `/v1/portal/...`: the same handlers as `/v1/api/...` (the route-coverage test checks both
#:   prefixes are served and documented); running both would double the time for nothing;
#: - `POST /v1/api/logout`, `/tickgate/faults/logout`: a logged-out session answers 401 to
#:   every `/iserver` call, so the rest of the run would test nothing else;
#: - `/tickgate/faults/rest` and `/tickgate/faults/latency`: they make other routes answer
#:   errors or late on purpose (tests/server/test_faults.py covers them).
EXCLUDED = r"^/v1/portal/|^/v1/api/logout$|^/tickgate/faults/(logout|rest|latency)$"
#: Examples per operation and phase; `--generation-deterministic` derives them from the
#: document alone (no random seed), so every run sends the same requests.
EXAMPLES = 20
#: Stateful scenarios and the calls each may chain.
STATEFUL_EXAMPLES = 100
STATEFUL_STEPS = 8
#: Stay far below a CI job's limit even on a loaded machine.
RUN_TIMEOUT = 600
#: One worker: with two, schemathesis' own case generation broke on Python 3.11 (hypothesis
#: parsing lambda sources from two threads: "AST constructor recursion depth mismatch").
WORKERS = 1


def dictionaries(server: TickgateServer) -> dict[str, list[str | int | float]]:
    """Realistic values, from the gateway itself where it has them: its accounts, a few
    instruments of each kind the catalogue holds (conids, symbols, exchanges, option months,
    prices), its FX currencies, field ids, order vocabulary and scanner parameters."""
    catalogue = server.running.gateway.catalogue
    picked = []
    for kind in (SecType.STK, SecType.FUT, SecType.OPT, SecType.CASH, SecType.IND):
        picked += [i for i in catalogue if i.sec_type is kind][:2]
    conids = [i.conid for i in picked]
    scanner = server.request("GET", "/v1/api/iserver/scanner/params")
    locations = [node["type"] for tree in scanner["location_tree"] for node in tree["locations"]]
    return {
        "accounts": [a.account_id for a in server.config.accounts],
        "conids": conids,
        "conid_lists": [str(conids[0]), ",".join(map(str, conids[:3]))],
        "symbols": list(dict.fromkeys(i.symbol for i in picked)),
        "exchanges": sorted({i.listing_exchange or i.exchange for i in picked}),
        "months": [m for i in picked for m in catalogue.option_months(i.conid)][:4],
        "sec_types": [kind.value for kind in SecType],
        "currencies": sorted(
            {c for i in picked if i.sec_type is SecType.CASH for c in i.symbol.split(".")}
        ),
        "fields": [",".join(map(str, F.DEFAULT_FIELDS)), "31,84,86", "7295,7296"],
        "periods": ["1d", "2h", "1w", "1m"],
        "bars": ["5min", "1h", "1d"],
        "order_types": [kind.value for kind in OrderType],
        "sides": [side.value for side in Side],
        "tifs": [tif.value for tif in TimeInForce],
        "quantities": [1, 5, 100],
        "prices": [float(i.reference_price) for i in picked if i.reference_price],
        "scan_types": [t["code"] for t in scanner["scan_type_list"]],
        "scan_instruments": [t["type"] for t in scanner["instrument_list"]],
        "scan_locations": locations,
        "typecodes": list(TYPECODES),
        "condition_types": [1, 3, 5, 6],
    }


#: Which parameters draw from which dictionary, and how often (else schemathesis' own value).
BINDINGS = {
    "path.account": ("accounts", 0.9),
    "query.accountId": ("accounts", 0.5),
    "body.acctId": ("accounts", 0.8),
    "path.conid": ("conids", 0.8),
    "query.conid": ("conids", 0.8),
    "body.conid": ("conids", 0.8),
    "body.orders[*].conid": ("conids", 0.8),
    "query.conids": ("conid_lists", 0.8),
    "query.symbols": ("symbols", 0.8),
    "query.symbol": ("symbols", 0.8),
    "query.exchange": ("exchanges", 0.7),
    "query.month": ("months", 0.8),
    "query.secType": ("sec_types", 0.5),
    "query.sectype": ("sec_types", 0.5),
    "query.assetClass": ("sec_types", 0.7),
    "query.currency": ("currencies", 0.8),
    "query.source": ("currencies", 0.5),
    "query.target": ("currencies", 0.8),
    "query.fields": ("fields", 0.8),
    "query.period": ("periods", 0.8),
    "query.bar": ("bars", 0.8),
    "body.orders[*].orderType": ("order_types", 0.9),
    "body.orders[*].side": ("sides", 0.9),
    "body.orders[*].tif": ("tifs", 0.8),
    "body.orders[*].quantity": ("quantities", 0.8),
    "body.orders[*].price": ("prices", 0.6),
    "body.orderType": ("order_types", 0.8),
    "body.side": ("sides", 0.8),
    "body.tif": ("tifs", 0.8),
    "body.quantity": ("quantities", 0.8),
    "body.price": ("prices", 0.6),
    "body.type": ("scan_types", 0.8),
    "body.scanCode": ("scan_types", 0.8),
    "body.instrument": ("scan_instruments", 0.8),
    "body.location": ("scan_locations", 0.8),
    "body.locations": ("scan_locations", 0.8),
    "path.typecode": ("typecodes", 0.8),
    "query.include": ("typecodes", 0.5),
    "body.conditions[*].conidex": ("conids", 0.8),
    "body.conditions[*].type": ("condition_types", 0.8),
}


def write_config(path: Path, server: TickgateServer) -> Path:
    """The run's schemathesis.toml: the dictionaries and their bindings."""
    lines = []
    for name, values in dictionaries(server).items():
        assert values, f"no {name} to draw from"
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    # Longer call chains, and more of them, so links (place -> reply -> status, watchlist
    # create -> read -> delete) are followed to their end.
    lines += ["[phases.stateful]", f"max-steps = {STATEFUL_STEPS}",
              "[phases.stateful.generation]", f"max-examples = {STATEFUL_EXAMPLES}"]  # fmt: skip
    lines.append("[parameters]")
    for key, (name, probability) in BINDINGS.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {probability} }}')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_schemathesis_finds_nothing(
    tickgate_server_factory: StartGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = tickgate_server_factory(ticks_per_second=200.0)
    # Market data answers 500 until the session is primed, as the real gateway does.
    server.request("GET", "/v1/api/iserver/accounts")
    config = write_config(tmp_path / "schemathesis.toml", server)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file", str(config), "--no-color",
        "run", f"{server.base_url}/v1/api/openapi.json", "--url", server.base_url,
        "--checks", ",".join(CHECKS),
        "--exclude-path-regex", EXCLUDED,
        "--max-examples", str(EXAMPLES), "--generation-deterministic",
        "--workers", str(WORKERS),
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(CHECKS_FILE)}
    with caplog.at_level(logging.WARNING, logger="tickgate"):
        run = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,  # where schemathesis keeps its cache
            timeout=RUN_TIMEOUT,
            check=False,
        )
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    report = run.stdout[run.stdout.find("= FAILURES =") :] if run.returncode else ""
    assert run.returncode == 0, (report or run.stdout)[-20_000:] + run.stderr[-3_000:]
    assert "Tested: " in run.stdout
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
