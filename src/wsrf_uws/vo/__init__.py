"""Virtual Observatory helpers that several contracts share: column descriptions
(:mod:`.columns`) and the streaming VOTable writer (:mod:`.votable`).

Imports only core and wire, so every contract may use it without importing another.
"""
