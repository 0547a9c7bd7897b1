//! Running the dashboard: interactively in the terminal (crossterm through
//! ratatui), or once into plain text.

use std::{
    io,
    sync::mpsc::{self, Receiver, TryRecvError},
    thread,
    time::{Duration, Instant},
};

use ratatui::{
    DefaultTerminal,
    buffer::Buffer,
    crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
    layout::Rect,
    widgets::Widget,
};

use super::{
    input::{InputSource, Line, LineReader, parse_input_line},
    state::Dashboard,
    view::View,
};

/// Reads all of `source` (to its end, never following) and renders one
/// frame of `width × height` as plain text, trailing spaces trimmed.
pub fn snapshot(source: &InputSource, window_seconds: u64, width: u16, height: u16) -> io::Result<String> {
    let mut dashboard = Dashboard::new(source.to_string(), window_seconds);
    let mut reader = LineReader::open(source)?;
    while let Some(line) = reader.next_line()? {
        dashboard.apply_text(line);
    }
    dashboard.end_of_input();
    Ok(render_text(&dashboard, width, height))
}

pub fn render_text(dashboard: &Dashboard, width: u16, height: u16) -> String {
    let area = Rect::new(0, 0, width, height);
    let mut buffer = Buffer::empty(area);
    View { dashboard, status: None }.render(area, &mut buffer);
    let mut text = String::with_capacity(usize::from(width + 1) * usize::from(height));
    for y in 0..height {
        let start = text.len();
        for x in 0..width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.truncate(text[start..].trim_end().len() + start);
        text.push('\n');
    }
    text
}

/// What the reading thread hands the screen.
enum Input {
    /// A line, parsed off the drawing thread; `None` if it was not flowwatch
    /// output. Boxed: a stats line is over 200 bytes, and the queue holds
    /// up to [`QUEUE`] of these.
    Line(Option<Box<Line>>),
    Ended,
    Failed(io::Error),
}

/// Lines queued between the reader and the screen. When the screen falls this
/// far behind, the reader waits (and so does whatever writes the input).
const QUEUE: usize = 65_536;
/// How often the screen is redrawn.
const FRAME: Duration = Duration::from_millis(250);
/// The most time spent applying queued lines before a frame is drawn.
const APPLY_BUDGET: Duration = Duration::from_millis(100);

/// The interactive dashboard, until `q`, Esc or Ctrl-C.
pub fn interactive(source: InputSource, window_seconds: u64) -> io::Result<()> {
    let mut reader = LineReader::open(&source)?;
    let (sender, lines) = mpsc::sync_channel(QUEUE);
    thread::Builder::new().name("top-reader".into()).spawn(move || {
        let last = loop {
            match reader.next_line() {
                Ok(Some(text)) => {
                    if let Some(line) = parse_input_line(text)
                        && sender.send(Input::Line(line.map(Box::new))).is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break Input::Ended,
                Err(err) => break Input::Failed(err),
            }
        };
        let _ = sender.send(last);
    })?;
    let dashboard = Dashboard::new(source.to_string(), window_seconds);
    let mut terminal = ratatui::try_init()?;
    let result = run(&mut terminal, dashboard, &lines);
    ratatui::restore();
    result
}

fn run(terminal: &mut DefaultTerminal, mut dashboard: Dashboard, lines: &Receiver<Input>) -> io::Result<()> {
    let mut paused = false;
    let mut read_error: Option<String> = None;
    loop {
        let started = Instant::now();
        while started.elapsed() < APPLY_BUDGET {
            match lines.try_recv() {
                Ok(Input::Line(line)) => dashboard.apply(line.map(|line| *line)),
                Ok(Input::Ended) | Err(TryRecvError::Disconnected) => {
                    dashboard.end_of_input();
                    break;
                }
                Ok(Input::Failed(err)) => {
                    read_error = Some(err.to_string());
                    dashboard.end_of_input();
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        let status = status_line(paused, read_error.as_deref());
        if !paused {
            terminal.draw(|frame| {
                frame.render_widget(View { dashboard: &dashboard, status: Some(&status) }, frame.area())
            })?;
        }
        if event::poll(FRAME)?
            && let Event::Key(key) = event::read()?
            && key.kind == KeyEventKind::Press
        {
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
                KeyCode::Char('p') | KeyCode::Char(' ') => paused = !paused,
                _ => {}
            }
        }
    }
}

fn status_line(paused: bool, read_error: Option<&str>) -> String {
    let state = match (paused, read_error) {
        (_, Some(err)) => format!("reading the input failed: {err}"),
        (true, None) => "paused (still reading; nothing is lost)".to_owned(),
        (false, None) => "live".to_owned(),
    };
    format!(" q quit · p pause · {state}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_shows_totals_talkers_events_and_the_graph() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.ndjson");
        let flow = |src: &str, bytes: u64, end: &str| {
            format!(
                r#"{{"type":"flow","start":"2024-03-05T09:00:00Z","end":"{end}","proto":6,"src_ip":"{src}","dst_ip":"198.51.100.7","dst_port":443,"orig_packets":10,"orig_bytes":{bytes},"resp_packets":5,"resp_bytes":0}}"#
            )
        };
        let lines = [
            flow("10.0.0.1", 9_000_000, "2024-03-05T09:00:30Z"),
            flow("10.0.0.2", 1_000, "2024-03-05T09:00:59Z"),
            r#"{"type":"event","kind":"exfiltration","severity":"high","summary":"10.0.0.1 sent 9.0 MB out","src_ip":"10.0.0.1","dst_ip":"198.51.100.7","last_seen":"2024-03-05T09:00:30Z","occurrences":2,"remote":{"scope":"public","country":"NL"}}"#.to_owned(),
            "garbage".to_owned(),
        ];
        std::fs::write(&path, lines.join("\n"))?;
        let text = snapshot(&InputSource::File { path, follow: false }, 60, 120, 40)?;
        assert!(text.contains("flows 2 · 9.0 MB · 30 packets · 0 flagged"), "{text}");
        assert!(text.contains("events 1 · 1 high · 0 medium · 0 low · countries: NL 1"), "{text}");
        assert!(text.contains("1 input lines were not flowwatch output"), "{text}");
        assert!(text.contains("newest 09:00:59"), "{text}");
        let heaviest = text.lines().position(|l| l.contains("10.0.0.1") && l.contains("tcp/443"));
        let lighter = text.lines().position(|l| l.contains("10.0.0.2") && l.contains("tcp/443"));
        assert!(heaviest.is_some() && heaviest < lighter, "talkers ranked by bytes:\n{text}");
        assert!(text.contains("exfiltration"), "{text}");
        assert!(text.contains("×2"), "{text}");
        assert!(text.contains("peak 2.4 Mbit/s"), "9 MB over 30 s is 2.4 Mbit/s:\n{text}");
        assert!(text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)), "a braille graph:\n{text}");
        Ok(())
    }

    #[test]
    fn the_header_shows_every_loss_counter_of_the_newest_stats_line() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.ndjson");
        let stats = |unseen: u64, drops: u64, frozen: u64| {
            format!(
                r#"{{"type":"stats","time":"2024-03-05T09:00:10Z","final":false,"ingress":{{"packets":9,"bytes":900,"frozen_writes":1}},"egress":{{"packets":0,"bytes":0,"frozen_writes":{frozen}}},"flows_active":2,"flows_evicted":3,"flows_unseen":{unseen},"packets_unaccounted":5,"write":{{"path":"x.pcap","packets":8,"truncated":0,"ring_drops":{drops}}}}}"#
            )
        };
        std::fs::write(&path, [stats(1, 2, 0), stats(4, 7, 2)].join("\n"))?;
        let text = snapshot(&InputSource::File { path, follow: false }, 60, 240, 40)?;
        assert!(text.contains("evicted 3 · unseen 4 · unaccounted 5 · -w ring drops 7"), "{text}");
        assert!(text.contains("map failures 0 · frozen writes 3 · evicted 3"), "ingress + egress:\n{text}");
        Ok(())
    }
}
