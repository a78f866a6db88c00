"""The default agent: an intent router for support messages, for whatever task the tree serves.

Architect-editable. Everything the Tuner may act on is declared in state
(:mod:`.state`); what is trained from data lives in :mod:`.model` and is
cached as an artifact; :mod:`.router` combines the two into answers.

Imports inside this package are relative: a commit-scoped build loads it
from its own checkout.
"""
