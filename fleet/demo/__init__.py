"""``ratchet demo``: the fleet's main loop shown end to end, and the e2e test's driver.

``plan`` holds the numbers, ``launch`` runs ``ratchet up``, ``traffic`` replays
the task's messages through MCP clients, ``scenario`` drives the phases and ``report``
writes the chart and the HTML report.
"""

from .launch import Fleet, FleetFailed, running_fleet
from .plan import DemoPlan, Progress, Silent
from .report import ReleaseRow
from .scenario import DemoFailed, DemoResult, Scenario, hardest_intents, mixed
from .traffic import Replay, Turn

__all__ = [
    "DemoFailed",
    "DemoPlan",
    "DemoResult",
    "Fleet",
    "FleetFailed",
    "Progress",
    "ReleaseRow",
    "Replay",
    "Scenario",
    "Silent",
    "Turn",
    "hardest_intents",
    "mixed",
    "running_fleet",
]
