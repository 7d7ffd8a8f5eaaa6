"""The `sigap` command line: one click group, one module per command group.

Settings come from environment variables (docs/configuration.md); every command reads them
the same way through :func:`sigap.cli.common.load_settings`.

Adding commands: write a module ``sigap/cli/NAME.py`` with a ``register(group)`` function
that adds its commands to the group, and add ``"NAME"`` to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Final

from sigap.cli.group import main

__all__ = ["COMMAND_MODULES", "main"]

#: The modules of sigap/cli/ whose ``register(main)`` adds their commands, in help order.
COMMAND_MODULES: Final = (
    "service",  # worker, score-writer
    "traffic",  # publish, simulate
    "replay",  # replay, verify
    "scores",  # scores, report
    "dlq",  # dlq list, dlq export
    "topics",  # topics create
    "monitoring",  # rules, alertmanager-config, dashboards
    "schema",  # schema
    "demo",  # demo
    "close",  # close (the official close of periods)
    "actions",  # actions add, actions list, actions close
    "overdue",  # overdue (a unit's worklist)
    "officers",  # evaluate, evidence (officers' grades and the quarterly evidence pack)
    "openslo",  # openslo (OpenSLO v1 export of the objectives)
)

for _name in COMMAND_MODULES:
    import_module(f"sigap.cli.{_name}").register(main)
