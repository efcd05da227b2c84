"""Google Vertex AI: upload isotopes, train AutoML, deploy, and classify through an endpoint.

Modules import the google-cloud SDKs lazily, so ``import providers.vertex`` works without
the ``vertex`` extra; using an adapter without it raises ``MissingExtraError``.
"""
