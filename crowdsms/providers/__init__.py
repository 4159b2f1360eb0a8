"""One package per provider: signing, models, converters, code tables and clients."""
