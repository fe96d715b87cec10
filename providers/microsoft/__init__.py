"""Microsoft MAI image models on Azure AI Foundry (``…/mai/v1/images/generations``, ``/edits``).

Adapter name ``azure_mai``. Roles: ``translate`` (pure), ``errors`` (pure error mapping),
``wire`` (lenient upstream models), ``adapter`` (httpx I/O)."""

from providers.microsoft.adapter import AzureMaiAdapter

__all__ = ["AzureMaiAdapter"]
