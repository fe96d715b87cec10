"""Black Forest Labs (FLUX) adapter: submit ``POST /v1/<model>``, poll the returned
``polling_url``, download ``result.sample``. Roles: ``translate`` (pure), ``errors`` (pure error
mapping), ``wire`` (lenient upstream models), ``adapter`` (httpx I/O)."""

from providers.bfl.adapter import BflAdapter

__all__ = ["BflAdapter"]
