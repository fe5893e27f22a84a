"""Alert destinations besides the N8N webhook: each renders an alert and classifies a send."""
