"""The HTTP boundary: one commit per request, hostile input refused, cookies."""
