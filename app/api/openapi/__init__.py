"""The OpenAPI 3.1 document of the JSON API, served at ``/v1/openapi.json`` and rendered at ``/docs``.

One module per concept: ``builders`` (schema helpers, errors, Operation), ``parameters``,
``request_bodies`` (from the pydantic models), ``responses_sms`` / ``responses_contacts`` (response
schemas), ``sms_operations`` / ``contact_operations`` / ``meta_operations``, and ``document``, which
assembles them. Callers need only ``openapi_document``; the prefixes and request models are
re-exported for the contract tests.
"""
from app.api.openapi.document import MIRROR_PREFIX, SMS_PREFIX, openapi_document
from app.api.openapi.request_bodies import REQUEST_MODELS

__all__ = ["MIRROR_PREFIX", "REQUEST_MODELS", "SMS_PREFIX", "openapi_document"]
