"""The API's routes, one module per resource (DESIGN §8); ``api.app`` includes them.

Deliberately empty: ``api.auth`` imports ``api.routes.deps``, and an eager import of the route
modules here would be circular.
"""
