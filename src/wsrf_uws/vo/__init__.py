"""Virtual Observatory helpers that several contracts share: column descriptions
(:mod:`.columns`), the streaming VOTable writer (:mod:`.votable`), the hardened fetch and
delivery of remote data under an allow-list (:mod:`.transfer`, :mod:`.transfer_policy`,
:mod:`.uri_paths`) and cached public documents (:mod:`.cached_documents`).

Imports only core and wire, so every contract may use it without importing another.
"""
