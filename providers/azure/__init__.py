"""Azure AI Vision Image Analysis: an image tagger behind the ``Classifier`` protocol.

The tagger returns, per image, the tags its model is confident about (threshold
output). Modules import ``azure-ai-vision-imageanalysis`` lazily, so ``import
providers.azure`` works without the ``azure`` extra; building an adapter without it
raises ``MissingExtraError``.
"""
