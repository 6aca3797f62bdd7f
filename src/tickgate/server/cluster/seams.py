"""Where trading joins the cluster: the seam between the cluster's composition (this package)
and whoever carries trading across members.

On one gateway the trading, portfolio and account REST routes are served by the gateway's own
trading engine. In a cluster the core owns the engine and its store; an edge must forward
those calls to the core. `ClusterTrading` is that choice, made once per member by the
composition root (`server.app.build_app`):

- on the core, `install_core` may add what edges call (responders on the cluster's bus);
- on an edge, `edge_routes` gets the local trading routes and returns the routes the edge
  serves in their place (`trading_roles.NatsTrading` forwards before routing and returns
  them unchanged).

`default_trading()` is the implementation `build_app` uses when given none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from tickgate.server.cluster.membership import ClusterMembership
from tickgate.server.gateway import Gateway
from tickgate.server.http import Handler

Routes = Sequence[tuple[str, str, Handler]]


class ClusterTrading(Protocol):
    def install_core(
        self, app: web.Application, gateway: Gateway, membership: ClusterMembership
    ) -> None:
        """Add to the core's app what edges need to trade through it."""
        ...

    def edge_routes(
        self,
        app: web.Application,
        gateway: Gateway,
        membership: ClusterMembership,
        local: Routes,
    ) -> Routes:
        """The routes an edge serves in place of `local` (the single gateway's trading,
        portfolio and account routes)."""
        ...


def default_trading() -> ClusterTrading:
    """The trading of a cluster member when `build_app` is given none: over NATS, the core
    serving what edges forward (`trading_roles.NatsTrading`)."""
    # Imported here: trading_roles builds on server.app, which imports this module.
    from tickgate.server.cluster.trading_roles import NatsTrading

    return NatsTrading()
