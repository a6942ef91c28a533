//! Sinks: where published releases go after publish (a database the other products read).

pub mod postgres;
