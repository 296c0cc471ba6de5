//! Recurrence checked against outside references: libical's and
//! ical.net's test vectors, and python-dateutil on random rules.

mod expand_oracle;
mod recurrence_vectors;
mod rrule_oracle;
