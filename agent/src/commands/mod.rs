//! One module per subcommand.

mod collect;
mod live;
pub(crate) mod output;
pub mod replay;
pub mod run;
pub mod simulate;
