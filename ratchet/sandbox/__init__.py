"""The sandbox every candidate process runs in: deny by default, no network, no way out.

A candidate's code (its unit tests, the agent the harness scores, its Runner
and Tuner in the full tier, a template's ``prepare``) is judged by the static
harness; it must not be able to read what it is judged on, reach a server, or
change anything outside its tree. :mod:`ratchet.ci.children` starts every
such process through a :class:`Confinement` under bubblewrap
(:mod:`ratchet.sandbox.confinement`), with a process-count cgroup
(:mod:`ratchet.sandbox.cgroups`) and a disk quota on its volume
(:mod:`ratchet.sandbox.volume`); :func:`sandbox_support` says what this
machine gives (:mod:`ratchet.sandbox.support`).
"""

from ratchet.sandbox.confinement import Confinement, confine
from ratchet.sandbox.support import (
    SandboxSupport,
    SandboxUnavailable,
    configured_mode,
    sandbox_support,
)

__all__ = [
    "Confinement",
    "SandboxSupport",
    "SandboxUnavailable",
    "configured_mode",
    "confine",
    "sandbox_support",
]
