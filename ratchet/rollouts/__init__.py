"""Progressive delivery: a release is served to a share of conversations first, and live
feedback promotes or aborts it (model, store, delivery, analysis, controller)."""
