//! A text chart of several histograms, one bar per non-empty bucket.

use std::fmt;

use crate::Histogram;

/// The widest bar, in characters.
const BAR_CHARS_MAX: u64 = 40;

/// Named histograms to draw together.
pub struct AsciiChart<T = ()> {
    series: Vec<(String, Histogram<T>)>,
}

impl<T> AsciiChart<T> {
    /// An empty chart.
    pub fn new() -> Self {
        AsciiChart { series: Vec::new() }
    }

    /// Adds a histogram under `name`.
    pub fn add(mut self, name: &str, hist: Histogram<T>) -> Self {
        self.series.push((name.to_string(), hist));
        self
    }

    /// Every bucket of every series, with its range and count.
    pub fn detailed(&self) -> DetailedDisplay<'_, T> {
        DetailedDisplay { chart: self }
    }
}

impl<T> Default for AsciiChart<T> {
    fn default() -> Self {
        AsciiChart::new()
    }
}

/// The one-line summary of each series: its percentiles.
impl<T> fmt::Display for AsciiChart<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, hist) in &self.series {
            writeln!(f, "{name}: {}", hist.percentile_stats())?;
        }
        Ok(())
    }
}

/// [`AsciiChart::detailed`]: per series, a bar per non-empty bucket scaled
/// to the series' fullest bucket.
pub struct DetailedDisplay<'a, T> {
    chart: &'a AsciiChart<T>,
}

impl<T> fmt::Display for DetailedDisplay<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, hist) in &self.chart.series {
            writeln!(f, "{name} (samples: {})", hist.total())?;
            let fullest = hist.buckets().map(|(_, _, count)| count).max().unwrap_or(0);
            for (low, high, count) in hist.buckets() {
                let bar = (count.saturating_mul(BAR_CHARS_MAX)).div_ceil(fullest.max(1));
                let high = high.map_or_else(|| "max".to_string(), |h| h.to_string());
                writeln!(
                    f,
                    "  [{low:>12}, {high:>12}) {count:>10} {}",
                    "#".repeat(bar as usize)
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_draws_each_series_bucket_with_bars_scaled_to_the_fullest() {
        let mut a: Histogram = Histogram::new();
        a.record_n(2, 10);
        a.record_n(100, 5);
        let mut b: Histogram = Histogram::new();
        b.record(7);
        let chart = AsciiChart::new().add("a", a).add("b", b);
        let text = chart.detailed().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[0], "a (samples: 15)");
        assert!(
            lines[1].contains("[           2,            3)")
                && lines[1].ends_with(&"#".repeat(40))
        );
        assert!(
            lines[2].contains("[          96,          112)")
                && lines[2].ends_with(&format!(" {}", "#".repeat(20)))
        );
        assert_eq!(lines[3], "b (samples: 1)");
        assert!(chart.to_string().starts_with("a: [samples: 15, "));
    }
}
