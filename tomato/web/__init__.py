"""The lab on a page: a web process serving a live page and an HTTP API (DESIGN §11)."""
