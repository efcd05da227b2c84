"""Face-collection audits: did a face-search service enroll the copies a person posted?

The oracle (``oracle``) searches a collection with probes rebuilt from the person's
originals (``probes``) through the ledger (``searcher``); the verifiers (``calibrated``,
``sequential``) rank the true mark among external marks of its family; ``run`` plans
and runs a third-party audit; ``enroll`` and ``experiment`` run the paper's
enroll-and-probe experiment on a collection the person controls.
"""
