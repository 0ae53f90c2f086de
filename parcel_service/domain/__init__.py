"""The parcel domain: the workflow, the status machine, S10 tracking numbers and plain errors; no DRF, no HTTP."""
