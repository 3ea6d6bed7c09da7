"""Owner access: credentials, authentication, permissions, admin owner scoping, the throttles that know models."""
