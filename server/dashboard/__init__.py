"""The manager and owner dashboard under /app/."""
