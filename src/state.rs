//! State database.
