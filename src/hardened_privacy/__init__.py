"""Data protection: encrypted fields, masking, retention and an audit log."""
