"""E-mail: the outbox and who can be mailed."""
