"""The connection layer: one HTTP client, on libcurl, that applies the network policy."""

from hbmon.net.client import HttpClient
from hbmon.net.reply import ErrorKind, HttpReply, NetError

__all__ = ["ErrorKind", "HttpClient", "HttpReply", "NetError"]
