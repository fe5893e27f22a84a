"""Alert channels: each renders an alert at enqueue, sends it, and classifies the outcome."""
