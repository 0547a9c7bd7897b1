//! Feature schema and anomaly models (grows with the models issue).
