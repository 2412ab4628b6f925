"""Configuration: `Settings`, the only reader of the environment, and the settings in effect."""
