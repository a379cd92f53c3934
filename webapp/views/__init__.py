"""The HTTP layer: one blueprint per area (its routes, forms and CLI commands), thin over services.

A view reads the request, checks who may see what, calls the area's service and answers with
a page, the htmx slice of it, a redirect or JSON. Nothing below this package imports it.
"""
