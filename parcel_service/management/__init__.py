"""Management commands of the parcel service."""
