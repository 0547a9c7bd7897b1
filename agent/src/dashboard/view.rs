//! Drawing the dashboard: a header of totals and losses, the traffic graph,
//! the top talkers, events by kind, and the newest events.

use std::net::IpAddr;

use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    symbols::Marker,
    text::{Line, Span},
    widgets::{Axis, Bar, BarChart, Block, Chart, Dataset, GraphType, Paragraph, Row, Table, Widget, Wrap},
};
use time::{OffsetDateTime, macros::format_description};

use super::state::Dashboard;
use crate::event::Severity;

/// The dashboard as one widget; `status` is the key help and state shown at
/// the bottom of the interactive view (none in a text snapshot).
pub struct View<'a> {
    pub dashboard: &'a Dashboard,
    pub status: Option<&'a str>,
}

/// Rows in the top-talker table (more only if the screen is tall).
const TALKER_ROWS: usize = 50;

impl Widget for View<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let footer = u16::from(self.status.is_some());
        let [header, graph, middle, events, footer_area] = Layout::vertical([
            Constraint::Length(6),
            Constraint::Percentage(35),
            Constraint::Percentage(30),
            Constraint::Fill(1),
            Constraint::Length(footer),
        ])
        .areas(area);
        let [talkers, kinds] =
            Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(middle);
        let d = self.dashboard;
        header_widget(d).render(header, buf);
        let (series, measured_by) = d.traffic();
        let points: Vec<(f64, f64)> = series.points().map(|(x, bytes)| (x, bytes * 8.0)).collect();
        traffic_widget(&points, series.window(), series.newest(), measured_by).render(graph, buf);
        talkers_widget(d).render(talkers, buf);
        kinds_widget(d).render(kinds, buf);
        events_widget(d).render(events, buf);
        if let Some(status) = self.status {
            Paragraph::new(status).style(Style::new().add_modifier(Modifier::REVERSED)).render(footer_area, buf);
        }
    }
}

fn header_widget(d: &Dashboard) -> Paragraph<'_> {
    let flows = d.flows();
    let input = if d.input_ended() { "input ended" } else { "reading" };
    let when = d.newest_time().map_or_else(|| "no data yet".to_owned(), clock_time);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("flowwatch top", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!(" · {} · newest {when} · {input}", d.source())),
        ]),
        Line::from(format!(
            "flows {} · {} · {} packets · {} flagged by the model",
            grouped(flows.records),
            bytes(flows.bytes as f64),
            grouped(flows.packets),
            grouped(flows.flagged)
        )),
        events_line(d),
    ];
    lines.push(match d.kernel() {
        Some(k) => {
            let both = k.hooks();
            let mut text = format!(
                "kernel {} pkts ({} in / {} out) · open flows {} · malformed {} · non-IP {} · map failures {} · \
                 frozen writes {} · evicted {} · unseen {} · unaccounted {}",
                grouped(both.packets),
                grouped(k.ingress.packets),
                grouped(k.egress.packets),
                grouped(k.flows_active),
                grouped(both.malformed()),
                grouped(both.non_ip),
                grouped(both.map_update_failed),
                // Non-zero when the agent falls behind in deleting idle entries.
                grouped(both.frozen_writes),
                grouped(k.flows_evicted),
                grouped(k.flows_unseen),
                grouped(k.packets_unaccounted),
            );
            // Only live `-w` has a sample ring to overflow.
            if let Some(drops) = k.write.as_ref().and_then(|w| w.ring_drops) {
                text.push_str(&format!(" · -w ring drops {}", grouped(drops)));
            }
            Line::from(text)
        }
        None => Line::from("kernel: no stats line yet (live: run with --stats-interval 1s)"),
    });
    if d.unreadable_lines() > 0 {
        lines.push(Line::styled(
            format!("{} input lines were not flowwatch output", grouped(d.unreadable_lines())),
            Style::new().fg(Color::Yellow),
        ));
    }
    // Narrow terminals wrap the longer lines rather than cut off the loss counters.
    Paragraph::new(lines).wrap(Wrap { trim: true })
}

fn events_line(d: &Dashboard) -> Line<'static> {
    let mut spans = vec![Span::raw(format!("events {}", grouped(d.events_total())))];
    for severity in [Severity::High, Severity::Medium, Severity::Low] {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            format!("{} {}", grouped(d.events_with(severity)), severity.as_str()),
            severity_style(severity),
        ));
    }
    let countries = d.top_countries(5);
    if !countries.is_empty() {
        let listed: Vec<String> = countries.iter().map(|(c, n)| format!("{c} {n}")).collect();
        spans.push(Span::raw(format!(" · countries: {}", listed.join(", "))));
    }
    Line::from(spans)
}

/// `points` are (seconds before `newest`, bits/s).
fn traffic_widget<'a>(points: &'a [(f64, f64)], window: u64, newest: Option<i64>, measured_by: &str) -> Chart<'a> {
    let peak = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let top = if peak > 0.0 { peak * 1.1 } else { 1.0 };
    let window = window as f64;
    let newest = newest.map_or_else(|| "now".to_owned(), |s| clock_time(s as f64));
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Cyan))
        .data(points);
    Chart::new(vec![dataset])
        .block(Block::bordered().title(format!(
            " traffic, bits/s over {}s ({measured_by}) · peak {} ",
            window as u64,
            bits_per_second(peak)
        )))
        .x_axis(Axis::default().bounds([-(window - 1.0), 0.0]).labels([
            format!("-{}s", window as u64 - 1),
            format!("-{}s", (window as u64 - 1) / 2),
            newest,
        ]))
        .y_axis(Axis::default().bounds([0.0, top]).labels([
            "0".to_owned(),
            bits_per_second(top / 2.0),
            bits_per_second(top),
        ]))
}

fn talkers_widget(d: &Dashboard) -> Table<'static> {
    let rows = d.talkers().top(TALKER_ROWS).into_iter().map(|(c, v)| {
        Row::new(vec![
            address(c.src),
            address(c.dst),
            service(c.proto, c.dst_port),
            bytes(v.bytes as f64),
            grouped(v.packets),
            grouped(v.flows),
        ])
    });
    let pruned = d.talkers().pruned();
    let title = if pruned > 0 {
        format!(" top conversations by bytes ({} small ones no longer ranked) ", grouped(pruned))
    } else {
        " top conversations by bytes ".to_owned()
    };
    Table::new(
        rows,
        [
            Constraint::Min(15),
            Constraint::Min(15),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(8),
        ],
    )
    .header(header_row(["source", "destination", "service", "bytes", "packets", "flows"]))
    .block(Block::bordered().title(title))
}

fn kinds_widget(d: &Dashboard) -> BarChart<'static> {
    let bars: Vec<Bar<'static>> =
        d.events_by_kind().iter().map(|(kind, n)| Bar::with_label(kind.clone(), *n).text_value(grouped(*n))).collect();
    BarChart::horizontal(bars)
        .block(Block::bordered().title(" events by kind "))
        .bar_width(1)
        .bar_gap(0)
        .max(d.events_by_kind().values().copied().max().unwrap_or(1).max(1))
        .bar_style(Style::new().fg(Color::Magenta))
        .label_style(Style::new().add_modifier(Modifier::BOLD))
}

fn events_widget(d: &Dashboard) -> Table<'static> {
    let rows = d.recent_events().map(|e| {
        let geo = e
            .remote
            .as_ref()
            .map(|r| [r.country.as_deref(), r.org.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Row::new(vec![
            clock_time(e.last_seen),
            e.severity.as_str().to_owned(),
            e.kind.clone(),
            e.src_ip.map_or_else(|| "(spoofed)".to_owned(), address),
            e.dst_ip.map_or_else(String::new, address),
            format!("×{}", grouped(e.occurrences)),
            geo,
            e.summary.clone(),
        ])
        .style(severity_style(e.severity))
    });
    Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(15),
            Constraint::Length(15),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Fill(1),
        ],
    )
    .header(header_row(["time", "level", "kind", "source", "destination", "count", "geo", "summary"]))
    .block(Block::bordered().title(" newest events "))
}

fn header_row<const N: usize>(names: [&'static str; N]) -> Row<'static> {
    Row::new(names).style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

fn severity_style(severity: Severity) -> Style {
    match severity {
        Severity::High => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Severity::Medium => Style::new().fg(Color::Yellow),
        Severity::Low => Style::new().fg(Color::Blue),
    }
}

fn address(ip: IpAddr) -> String {
    ip.to_string()
}

fn service(proto: u8, port: u16) -> String {
    match proto {
        1 => "icmp".to_owned(),
        58 => "icmp6".to_owned(),
        6 => format!("tcp/{port}"),
        17 => format!("udp/{port}"),
        132 => format!("sctp/{port}"),
        other => format!("proto {other}"),
    }
}

/// `HH:MM:SS` UTC of Unix seconds (the header and event rows; the date is
/// rarely what an operator scans for).
fn clock_time(unix_seconds: f64) -> String {
    let format = format_description!("[hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(unix_seconds.floor() as i64)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "--:--:--".to_owned())
}

/// Thousands separated, as counts are read at a glance.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: f64) -> String {
    scaled(n, "B")
}

fn bits_per_second(n: f64) -> String {
    scaled(n, "bit/s")
}

/// SI-scaled with one decimal: network rates and volumes are quoted in powers of 1000.
fn scaled(n: f64, unit: &str) -> String {
    const PREFIXES: [&str; 5] = ["", "k", "M", "G", "T"];
    let mut value = n;
    let mut prefix = 0;
    while value >= 1000.0 && prefix + 1 < PREFIXES.len() {
        value /= 1000.0;
        prefix += 1;
    }
    if prefix == 0 { format!("{value:.0} {unit}") } else { format!("{value:.1} {}{unit}", PREFIXES[prefix]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1_500.0), "1.5 kB");
        assert_eq!(bits_per_second(2_500_000_000.0), "2.5 Gbit/s");
        assert_eq!(service(6, 443), "tcp/443");
        assert_eq!(service(47, 0), "proto 47");
        assert_eq!(clock_time(1_709_629_200.7), "09:00:00");
    }
}
