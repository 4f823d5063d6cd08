"""Authentication controls: hashing, rate limits, second factors, sessions."""
