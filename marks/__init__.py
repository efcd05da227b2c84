"""The mark engine: secret marks, blending, marking folders, manifests, upload preparation.

This package never imports ``providers`` or ``audit``.
"""
