//! The one table every section writes into.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: &'static str,
    pub metric: String,
    pub value: String,
    pub unit: &'static str,
    pub target: String,
    pub note: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    pub fn add(
        &mut self,
        section: &'static str,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> &mut Row {
        let value = if value.abs() >= 100.0 { format!("{value:.0}") } else { format!("{value:.2}") };
        self.rows.push(Row { section, metric: metric.into(), value, unit, target: String::new(), note: String::new() });
        let row = self.rows.last_mut().expect("just pushed");
        eprintln!("  {:<8} {:<48} {:>14} {}", row.section, row.metric, row.value, row.unit);
        row
    }

    pub fn print(&self) {
        let widths = [8, 50, 14, 10, 18];
        println!(
            "{:<w0$} {:<w1$} {:>w2$} {:<w3$} {:<w4$} note",
            "section",
            "metric",
            "value",
            "unit",
            "target",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        );
        println!("{}", "-".repeat(widths.iter().sum::<usize>() + 20));
        for r in &self.rows {
            println!(
                "{:<w0$} {:<w1$} {:>w2$} {:<w3$} {:<w4$} {}",
                r.section,
                r.metric,
                r.value,
                r.unit,
                r.target,
                r.note,
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
                w4 = widths[4]
            );
        }
    }
}

impl Row {
    pub fn target(&mut self, target: impl Into<String>) -> &mut Self {
        self.target = target.into();
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Self {
        self.note = note.into();
        self
    }
}

/// The middle value of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
