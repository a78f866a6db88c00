"""What a job runs against: the workspace, its stores and the CI options, built once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ratchet.bootstrap import release_store
from ratchet.builds import BuildStore
from ratchet.ci.tiers import CiOptions
from ratchet.objects import ObjectStore, open_object_store
from ratchet.rollouts.delivery import Deliverer
from ratchet.state import StateManager, open_state_manager
from ratchet.vcs import ReleaseStore

from .jobs import JobStore
from .ledger import ProposalLedger
from .settings import ArchitectSettings


@dataclass
class ArchitectContext:
    settings: ArchitectSettings
    jobs: JobStore
    manager: StateManager
    releases: ReleaseStore
    builds: BuildStore
    objects: ObjectStore
    ci: CiOptions
    ledger: ProposalLedger
    deliverer: Deliverer  # how a release reaches traffic (RATCHET_ROLLOUT)

    @property
    def worktrees(self) -> Path:
        """Where job worktrees live (swept on start: a killed job leaves one behind)."""
        return self.settings.home_path / "worktrees"

    @classmethod
    def from_settings(cls, settings: ArchitectSettings) -> ArchitectContext:
        manager = open_state_manager(settings)
        return cls(
            settings=settings,
            jobs=JobStore.open(settings),
            ledger=ProposalLedger.open(settings),
            manager=manager,
            releases=release_store(settings),
            builds=BuildStore.open(settings),
            objects=open_object_store(settings),
            ci=CiOptions(
                unit_tests=tuple(settings.fast_tests),
                shards=settings.full_shards,
                heldout_sample=settings.heldout_sample or None,
                heldout=settings.heldout_path,
            ),
            deliverer=Deliverer.of(settings, manager),
        )

    def close(self) -> None:
        self.jobs.close()
        self.ledger.close()
