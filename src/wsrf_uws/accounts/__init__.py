"""Who may log in to a service: the users file and the password hashes it holds.

:mod:`.users_file` reads the file (for :mod:`wsrf_uws.soap.identity`, which checks a
request's credentials against it) and edits it (for ``wsrf-uws users``);
:mod:`.passwords` makes and checks the salted hashes.
"""

from .passwords import PasswordHash, PasswordHashError
from .users_file import User, UsersFile, UsersFileError

__all__ = ["PasswordHash", "PasswordHashError", "User", "UsersFile", "UsersFileError"]
