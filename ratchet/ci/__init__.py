"""The tiered CI harness (static): runs a candidate's code in its own process."""
