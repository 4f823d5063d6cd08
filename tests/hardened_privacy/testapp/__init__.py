"""A test-only app whose models carry every kind of encrypted field."""
