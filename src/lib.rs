//! The `margo` package's library: the desktop app, so that tests can drive it headless
//! (egui_kittest) while `main.rs` holds the command line.

pub mod app;
