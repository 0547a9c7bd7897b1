//! One module per subcommand.

mod analysis;
pub mod collect;
pub mod evaluate;
mod live;
pub(crate) mod output;
pub mod replay;
pub mod run;
mod selection;
pub mod simulate;
pub mod top;
pub mod train;
