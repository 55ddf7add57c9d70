//! The page's charts as SVG text, drawn by `plotters`' SVG backend: bars with 95% intervals
//! (one per model) and grouped histograms (one bar per model in each bin).

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use crate::stats::Interval;
use crate::{EvalError, Result};

/// Model colours (Okabe–Ito, told apart with any colour vision), in report order.
pub(crate) const PALETTE: [(u8, u8, u8); 8] = [
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (240, 228, 66),
    (0, 0, 0),
];

/// The colour of the `i`-th model, as plotters and as CSS want it.
pub(crate) fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// `#rrggbb` of the `i`-th model.
pub(crate) fn css_colour(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One bar: a model's value, its interval when there is one.
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    pub interval: Option<Interval>,
    pub colour: usize,
}

/// One model's measurements for a histogram.
pub(crate) struct Series {
    pub label: String,
    pub values: Vec<f64>,
    pub colour: usize,
}

const FONT: &str = "sans-serif";
const BAR_SIZE: (u32, u32) = (340, 260);
const HISTOGRAM_SIZE: (u32, u32) = (560, 300);
const BINS: usize = 12;

fn drawing<E: std::fmt::Display>(e: E) -> EvalError {
    EvalError::Render(e.to_string())
}

/// Draws into an SVG string of `size` pixels.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        draw(&root)?;
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

/// A label short enough for an axis.
fn short(label: &str) -> String {
    const MAX: usize = 16;
    if label.chars().count() <= MAX {
        label.to_string()
    } else {
        label.chars().take(MAX - 1).chain(['…']).collect()
    }
}

/// An x axis of `n` slots side by side: slot `i` spans `i..i + 1`, its one key point (where
/// its label goes) is its centre.
struct Slots(usize);

impl Ranged for Slots {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1 - limit.0);
        limit.0 + (value / self.0 as f64 * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.0).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.0 as f64
    }
}

/// Bars on a `0..y_max` scale, one per model, each with its interval as an error bar.
pub(crate) fn bars(title: &str, y_max: f64, bars: &[Bar]) -> Result<String> {
    let n = bars.len().max(1);
    svg(BAR_SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(48)
            .build_cartesian_2d(Slots(n), 0f64..y_max)
            .map_err(drawing)?;
        let label = |x: &f64| {
            let i = x.floor().max(0.0) as usize;
            bars.get(i).map(|b| short(&b.label)).unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .x_label_formatter(&label)
            .y_labels(6)
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let top = b.value.clamp(0.0, y_max);
                let x = i as f64;
                Rectangle::new([(x + 0.2, 0.0), (x + 0.8, top)], colour(b.colour).filled())
            }))
            .map_err(drawing)?;
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                b.interval.map(|ci| {
                    ErrorBar::new_vertical(
                        i as f64 + 0.5,
                        ci.low,
                        b.value,
                        ci.high,
                        BLACK.stroke_width(2),
                        12,
                    )
                })
            }))
            .map_err(drawing)?;
        Ok(())
    })
}

/// A histogram of each model's measurements on shared bins, the models' bars side by side.
pub(crate) fn histogram(title: &str, x_desc: &str, series: &[Series]) -> Result<String> {
    let all = series.iter().flat_map(|s| s.values.iter().copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let width = (hi - lo) / BINS as f64;
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|s| {
            let mut bins = vec![0usize; BINS];
            for v in &s.values {
                let bin = (((v - lo) / width) as usize).min(BINS - 1);
                bins[bin] += 1;
            }
            bins
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0) as u32;
    let y_max = top + top / 8 + 1;
    let models = series.len().max(1) as f64;
    let decimals = match hi - lo {
        span if span >= 20.0 => 0,
        span if span >= 2.0 => 1,
        _ => 2,
    };
    svg(HISTOGRAM_SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(lo..hi, 0u32..y_max)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .x_desc(x_desc)
            .y_desc("cases")
            .x_labels(8)
            .x_label_formatter(&|x| format!("{x:.decimals$}"))
            .y_labels((y_max as usize + 1).min(8))
            .draw()
            .map_err(drawing)?;
        for (m, (s, bins)) in series.iter().zip(&counts).enumerate() {
            let fill = colour(s.colour).filled();
            let rects = bins
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(j, c)| {
                    let x0 = lo + j as f64 * width + width * (0.05 + 0.9 * m as f64 / models);
                    let x1 = x0 + width * 0.9 / models;
                    Rectangle::new([(x0, 0), (x1, *c as u32)], fill)
                });
            chart
                .draw_series(rects)
                .map_err(drawing)?
                .label(short(&s.label))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], fill));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(drawing)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_histograms_are_svg_with_rects() {
        let svg = bars(
            "exact_match",
            1.05,
            &[Bar {
                label: "m".into(),
                value: 0.5,
                interval: Some(Interval {
                    low: 0.25,
                    high: 0.75,
                }),
                colour: 0,
            }],
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<rect"), "{svg}");
        let svg = histogram(
            "latency",
            "ms",
            &[Series {
                label: "m".into(),
                values: vec![1.0, 2.0, 2.0, 30.0],
                colour: 1,
            }],
        )
        .unwrap();
        assert!(svg.contains("<rect") && svg.contains("latency"), "{svg}");
        // A single value or none at all still draws.
        assert!(histogram("t", "x", &[]).unwrap().contains("<svg"));
    }
}
