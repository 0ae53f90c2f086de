"""The parcel service application: parcels, tracking events, public tracking and the cross-cutting HTTP plumbing."""
