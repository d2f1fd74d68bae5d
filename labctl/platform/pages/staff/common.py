"""What every staff page shares: who counts as staff, the refusal reasons in words, and the
notice a page shows after a form succeeded."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse

from labctl.errors import PermissionDeniedError
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.pages.render import N_
from labctl.platform.pages.session import PageUser


def staff_principal(user: PageUser) -> Principal:
    """The signed-in person, if they hold a laboratory role anywhere (or are the superuser);
    anyone else (a customer) gets the readable 403 page."""
    principal = user.principal
    if principal.is_superuser or any(role in policy.LAB_ROLES for _, role in principal.roles):
        return principal
    raise PermissionDeniedError(
        "staff pages", "these pages are for laboratory staff; your account is a customer's",
        rule="staff")


def refusal(check: Callable[[], None]) -> PermissionDeniedError | None:
    """What ``check`` (a ``policy.may_*`` call) refuses, or None if it allows: the page shows
    the button enabled or disabled by the same rule its POST will meet."""
    try:
        check()
    except PermissionDeniedError as exc:
        return exc
    return None


#: The reasons a disabled action shows (English; translated at render).
YOU_ENTERED = N_("You entered or edited this entry: a second person must review it.")
NOT_REVIEWER = N_("Only a reviewer of the organisation that holds it may review it.")
YOU_CONTRIBUTED = N_("You performed, posted or edited this revision: a second person must "
                     "check it.")
NOT_CHECKER = N_("Only a checker of the laboratory may check it.")
YOU_ARE_ON_IT = N_("You performed, edited or checked this revision: a third person must "
                   "issue it.")
NOT_APPROVER = N_("Only an approver (authorised signatory) of the laboratory may issue it.")
NOT_CHECKED = N_("It must be checked before it is issued.")


def done(path: str, **values: str) -> RedirectResponse:
    """After a form: back to ``path`` with what was done, for the page's notice (303, so a
    reload does not send the form again)."""
    return RedirectResponse(f"{path}?{urlencode(values)}" if values else path,
                            status_code=303)
