//! The ScaiDrive client.
