"""The red-team suite: candidate diffs that must be rejected or contained, with the reason.

Each case is a real change to a candidate's tree (a unit test, a conftest, the
agent's code) run through the harness's own functions. Where it is cheap, the
same attack first runs with the sandbox off (``RATCHET_SANDBOX=none``) to show
that it is real, then under the machine's sandbox to show that it is stopped:
a regression of the sandbox fails these tests.
"""
