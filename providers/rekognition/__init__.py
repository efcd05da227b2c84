"""Amazon Rekognition face collections through boto3 (extra ``aws``), behind ``FaceCollection``.

The same adapter reaches the local face engine (``providers.faces_local``), which
speaks Rekognition's wire protocol.
"""
