//! One module per subcommand.

pub(crate) mod output;
pub mod replay;
pub mod run;
pub mod simulate;
