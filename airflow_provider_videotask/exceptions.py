"""Public error family (defined in ``api.errors``); catch :class:`VideoTaskError` for all of them."""

from airflow_provider_videotask.api.errors import *  # noqa: F403 - the family, as api/errors.py lists it
from airflow_provider_videotask.api.errors import __all__ as __all__
