"""One package per wire protocol botportal serves, each calling the same services."""
