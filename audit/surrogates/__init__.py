"""The person's own local surrogate models: trained here, scored here, never billed.

``train`` makes them (``isotope surrogate train``), ``manifest`` describes them,
``models`` loads them and scores the audit's marked images on them, ``compat`` says
which methods can use them. The adjustment itself is ``audit.verifiers.surrogate``.
"""
