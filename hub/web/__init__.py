"""The hub's web server: the JSON API, the live event stream, partner intake, health, metrics and the console.

``hub.web.service.WebService`` is the Twisted service that listens; ``hub.web.api.build_routes`` is the
one route table that both dispatches requests and describes them in ``/api/openapi.json``.
"""
