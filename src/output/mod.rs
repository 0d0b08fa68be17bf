//! What labctl shows while it works and when it is done: progress (bars on a terminal, one
//! line per event otherwise), colour that follows the terminal and `NO_COLOR`, summary tables.

pub mod progress;
pub mod shell;
pub mod style;
pub mod summary;
