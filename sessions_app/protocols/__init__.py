"""One package per wire protocol botportal speaks."""
