"""The local face engine: a real face model (dlib) offline, collections in SQLite, served
over Amazon Rekognition's JSON 1.1 protocol so that boto3 and the Rekognition adapter
drive it. Extra ``faces`` (``dlib-bin``, ``face-recognition-models``); dlib is imported
only when an engine is built.
"""
