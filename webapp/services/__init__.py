"""The service layer: what Cupmark does, with the database but without a request.

Each module is one area (check-ins, marks, flags, triage, ...): views, CLI commands, the demo
data and the tests call it. It never reads the request or renders a page; it may render the
text of an email or a PDF. It imports the models and the pure analysis, never the views.
"""
