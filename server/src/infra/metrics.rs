//! Prometheus metrics: the recorder, its registry of names, the exposition.
