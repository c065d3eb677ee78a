// Storage: see ../shared/design/ARCHITECTURE.md for what this module owns.
