"""End-to-end tests: the real server over HTTP, and the chat page in a real browser."""
