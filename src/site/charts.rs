//! Server-rendered SVG charts for the results pages: horizontal bars with uncertainty
//! whiskers, per-fold dot plots and grouped bars. No script and no inline style (the CSP allows
//! neither): colours come from classes in `site.css`. Every chart carries a `<title>` and a
//! `<desc>` and the page shows the same numbers in a table, for screen readers and copying.

use std::fmt::Write;

/// One bar: a value, optionally an interval, optionally a flag (e.g. "suspicious").
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub interval: Option<(f64, f64)>,
    pub flag: Option<String>,
}

/// Escapes text for SVG/XML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A linear scale from `[lo, hi]` to `[a, b]` pixels.
#[derive(Debug, Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    a: f64,
    b: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        if self.hi == self.lo {
            return self.a;
        }
        self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)
    }
}

/// A domain that includes 0 and every value, padded to round ticks.
fn domain(values: impl Iterator<Item = f64>) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let lo = (lo / step).floor() * step;
    let hi = (hi / step).ceil() * step;
    let n = ((hi - lo) / step).round() as usize;
    let ticks = (0..=n).map(|i| lo + i as f64 * step).collect();
    (lo, hi, ticks)
}

fn fmt_tick(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn open(out: &mut String, id: &str, w: f64, h: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

fn axis(out: &mut String, x: Scale, ticks: &[f64], top: f64, bottom: f64) {
    for t in ticks {
        let px = x.at(*t);
        let class = if *t == 0.0 {
            "chart-zero"
        } else {
            "chart-grid"
        };
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{px:.1}" x2="{px:.1}" y1="{top:.1}" y2="{bottom:.1}"/><text class="chart-tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 14.0,
            fmt_tick(*t)
        );
    }
}

/// Horizontal bars (one per row, in order) with interval whiskers; flagged bars are drawn in
/// the warning colour with the flag after the label.
pub fn bars(id: &str, title: &str, desc: &str, rows: &[Bar]) -> String {
    let (label_w, w, row_h, top) = (190.0, 720.0, 26.0, 10.0);
    let h = top + rows.len() as f64 * row_h + 30.0;
    let (lo, hi, ticks) = domain(rows.iter().flat_map(|r| {
        let (a, b) = r.interval.unwrap_or((r.value, r.value));
        [r.value, a, b]
    }));
    let x = Scale {
        lo,
        hi,
        a: label_w,
        b: w - 20.0,
    };
    let mut out = String::new();
    open(&mut out, id, w, h, title, desc);
    axis(&mut out, x, &ticks, top, h - 24.0);
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let (x0, x1) = (x.at(0.0), x.at(r.value));
        let class = if r.flag.is_some() {
            "chart-bar chart-flag"
        } else {
            "chart-bar"
        };
        let label = match &r.flag {
            Some(f) => format!("{} ({f})", r.label),
            None => r.label.clone(),
        };
        let _ = write!(
            out,
            r#"<text class="chart-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="{class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}: {:.4}</title></rect>"#,
            label_w - 8.0,
            y + row_h * 0.62,
            esc(&label),
            x0.min(x1),
            y + 4.0,
            (x1 - x0).abs().max(1.0),
            row_h - 8.0,
            esc(&r.label),
            r.value
        );
        if let Some((a, b)) = r.interval {
            let (xa, xb, ym) = (x.at(a), x.at(b), y + row_h / 2.0);
            let _ = write!(
                out,
                r#"<g class="chart-whisker"><line x1="{xa:.1}" x2="{xb:.1}" y1="{ym:.1}" y2="{ym:.1}"/><line x1="{xa:.1}" x2="{xa:.1}" y1="{:.1}" y2="{:.1}"/><line x1="{xb:.1}" x2="{xb:.1}" y1="{:.1}" y2="{:.1}"/></g>"#,
                ym - 6.0,
                ym + 6.0,
                ym - 6.0,
                ym + 6.0
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One row per series (e.g. a target), a dot per value (e.g. a fold) and a tick at their mean.
pub fn dots(id: &str, title: &str, desc: &str, series: &[(String, Vec<f64>)]) -> String {
    let (label_w, w, row_h, top) = (190.0, 720.0, 26.0, 10.0);
    let h = top + series.len() as f64 * row_h + 30.0;
    let (lo, hi, ticks) = domain(series.iter().flat_map(|(_, v)| v.iter().copied()));
    let x = Scale {
        lo,
        hi,
        a: label_w,
        b: w - 20.0,
    };
    let mut out = String::new();
    open(&mut out, id, w, h, title, desc);
    axis(&mut out, x, &ticks, top, h - 24.0);
    for (i, (label, values)) in series.iter().enumerate() {
        let ym = top + i as f64 * row_h + row_h / 2.0;
        let _ = write!(
            out,
            r#"<text class="chart-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            ym + 4.0,
            esc(label)
        );
        for (k, v) in values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let _ = write!(
                out,
                r#"<circle class="chart-dot" cx="{:.1}" cy="{ym:.1}" r="5"><title>{} fold {}: {:.4}</title></circle>"#,
                x.at(*v),
                esc(label),
                k + 1,
                v
            );
        }
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let xm = x.at(mean);
            let _ = write!(
                out,
                r#"<line class="chart-mean" x1="{xm:.1}" x2="{xm:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                ym - 9.0,
                ym + 9.0
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Grouped horizontal bars: for each row (e.g. a feature) one bar per group (e.g. a model
/// family), with a legend.
pub fn grouped(
    id: &str,
    title: &str,
    desc: &str,
    groups: &[String],
    rows: &[(String, Vec<f64>)],
) -> String {
    let (label_w, w, bar_h, gap, top) = (190.0, 720.0, 7.0, 8.0, 28.0);
    let row_h = bar_h * groups.len() as f64 + gap;
    let h = top + rows.len() as f64 * row_h + 30.0;
    let (lo, hi, ticks) = domain(rows.iter().flat_map(|(_, v)| v.iter().copied()));
    let x = Scale {
        lo,
        hi,
        a: label_w,
        b: w - 20.0,
    };
    let mut out = String::new();
    open(&mut out, id, w, h, title, desc);
    for (g, name) in groups.iter().enumerate() {
        let lx = label_w + g as f64 * 150.0;
        let _ = write!(
            out,
            r#"<rect class="chart-series-{g}" x="{lx:.1}" y="4" width="12" height="12"/><text class="chart-legend" x="{:.1}" y="14">{}</text>"#,
            lx + 16.0,
            esc(name)
        );
    }
    axis(&mut out, x, &ticks, top, h - 24.0);
    for (i, (label, values)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let _ = write!(
            out,
            r#"<text class="chart-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + row_h / 2.0 + 2.0,
            esc(label)
        );
        for (g, v) in values.iter().enumerate() {
            let (x0, x1) = (x.at(0.0), x.at(*v));
            let _ = write!(
                out,
                r#"<rect class="chart-series-{g}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{} ({}): {:.4}</title></rect>"#,
                x0.min(x1),
                y + g as f64 * bar_h,
                (x1 - x0).abs().max(0.5),
                bar_h - 1.0,
                esc(label),
                esc(groups.get(g).map_or("", String::as_str)),
                v
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_the_chart_is_described() {
        let svg = bars(
            "c",
            "Skill <by> target",
            "desc & more",
            &[Bar {
                label: "y_<script>".into(),
                value: 0.2,
                interval: Some((0.1, 0.3)),
                flag: Some("suspicious".into()),
            }],
        );
        assert!(svg.contains("<title id=\"c-title\">Skill &lt;by&gt; target</title>"));
        assert!(svg.contains("<desc id=\"c-desc\">desc &amp; more</desc>"));
        assert!(svg.contains("y_&lt;script&gt; (suspicious)"));
        assert!(!svg.contains("<script"));
        assert!(svg.contains("chart-flag") && svg.contains("chart-whisker"));
    }

    #[test]
    fn domains_hold_zero_and_every_value_on_round_ticks() {
        let (lo, hi, ticks) = domain([0.13, 0.27, -0.04].into_iter());
        assert!(lo <= -0.04 && hi >= 0.27);
        assert!(ticks.contains(&0.0) || ticks.iter().any(|t| t.abs() < 1e-12));
        assert_eq!(fmt_tick(0.1500), "0.15");
        let x = Scale {
            lo: 0.0,
            hi: 1.0,
            a: 100.0,
            b: 200.0,
        };
        assert_eq!(x.at(0.5), 150.0);
        // Degenerate inputs still draw.
        let (lo, hi, _) = domain([f64::NAN].into_iter());
        assert!(hi > lo);
    }
}
