"""The connection layer: one HTTP client that applies the network policy to every request."""

from hbmon.net.client import HttpClient
from hbmon.net.reply import ErrorKind, HttpReply, NetError

__all__ = ["ErrorKind", "HttpClient", "HttpReply", "NetError"]
