"""HTTP plumbing shared by the adapters, the local servers and the test fakes.

Torch-free and SDK-free: the face engine, the fakes and every adapter import from here.
"""
