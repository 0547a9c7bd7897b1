//! `flowwatch top`: a terminal dashboard over flowwatch's own NDJSON output
//! (flow, event and stats lines), live from a pipe or a growing file, or
//! rendered once as text.
//!
//! It reads the documented output rather than hooking into the agent, so it
//! works the same on `run` (live), `replay` and files written earlier, and a
//! dashboard that falls behind or quits never slows the capture.

mod input;
mod rate;
mod state;
mod talkers;
mod terminal;
mod view;

pub use input::{InputSource, Line, LineReader};
pub use state::Dashboard;
pub use terminal::{interactive, snapshot};
