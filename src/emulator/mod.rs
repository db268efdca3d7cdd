//! The local ScaiDrive emulator.
