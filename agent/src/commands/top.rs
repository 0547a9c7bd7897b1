//! `flowwatch top`: the terminal dashboard over flowwatch output.

use std::{io::Write, path::Path};

use anyhow::{Context, bail};

use crate::{
    cli::TopArgs,
    dashboard::{self, InputSource},
};

pub fn run(args: &TopArgs) -> anyhow::Result<()> {
    let source = match args.input.as_deref() {
        None => InputSource::Stdin,
        Some(path) if path == Path::new("-") => InputSource::Stdin,
        Some(path) => InputSource::File { path: path.to_owned(), follow: !args.no_follow && !args.snapshot },
    };
    let window = args.window.as_secs().max(2);
    if args.snapshot {
        let text = dashboard::snapshot(&source, window, args.size.columns, args.size.rows)
            .with_context(|| format!("reading {source}"))?;
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("the dashboard needs a terminal on stdout; use --snapshot to print one frame as text");
    }
    dashboard::interactive(source.clone(), window).with_context(|| format!("showing the dashboard of {source}"))
}
