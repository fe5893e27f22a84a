"""The status page: a server-rendered HTML page, its JSON and SVG badges, from one snapshot."""
