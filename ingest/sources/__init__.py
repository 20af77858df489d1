"""Sources: where candidate URLs (and, for archives, whole pages) come from."""
