"""Alert delivery: the outbox queries, one sender per channel destination, and the channels."""
