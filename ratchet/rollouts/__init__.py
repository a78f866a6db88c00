"""Progressive delivery: a release serves a share of conversations as the canary next to
the stable version, and live signals decide whether it is promoted, aborted or held."""
