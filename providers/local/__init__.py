"""The local torch provider: trainer, model file, Vertex-compatible server and client."""
