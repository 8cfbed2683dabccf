//! The 12-week trend as an inline SVG (no script, no image request): a polyline over the
//! weekly carried-patch totals, with a text alternative for screen readers.

/// An SVG of `points` (`(week end, carried)`; `None`: not known that week).
pub fn trend_svg(points: &[(String, Option<i64>)]) -> String {
    const W: f64 = 360.0;
    const H: f64 = 80.0;
    let known: Vec<(usize, i64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.map(|v| (i, v)))
        .collect();
    let max = known.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let step = W / (points.len().max(2) - 1) as f64;
    let coords: Vec<String> = known
        .iter()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                *i as f64 * step,
                H - 4.0 - (*v as f64 / max) * (H - 8.0)
            )
        })
        .collect();
    let label = if known.is_empty() {
        "Carried patches over the last 12 weeks: no data yet".to_string()
    } else {
        format!(
            "Carried patches over the last 12 weeks: {}",
            points
                .iter()
                .filter_map(|(d, v)| v.map(|v| format!("{v} on {d}")))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // Only numbers and our own text go in: the label is escaped anyway.
    let label = label
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    // A dot per known week, so a single week still shows.
    let dots: String = coords
        .iter()
        .filter_map(|c| c.split_once(','))
        .map(|(x, y)| format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"currentColor\"/>"))
        .collect();
    format!(
        "<svg class=\"trend\" viewBox=\"-4 0 {} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" points=\"{}\"/>{dots}</svg>",
        W + 8.0,
        coords.join(" ")
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Days from droppable to dropped per month (median), as bars with a days axis and the
/// month under each bar.
pub fn days_to_drop_svg(months: &[(String, f64)]) -> String {
    const H: f64 = 120.0;
    const BAR: f64 = 34.0;
    const LEFT: f64 = 40.0;
    let max = months.iter().map(|(_, d)| *d).fold(1.0_f64, f64::max);
    let w = LEFT + BAR * months.len().max(1) as f64 + 10.0;
    let label = format!(
        "Median days from droppable to dropped, by month: {}",
        months
            .iter()
            .map(|(m, d)| format!("{d:.1} days in {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let plot = H - 30.0;
    let bars: String = months
        .iter()
        .enumerate()
        .map(|(i, (m, d))| {
            let h = (d / max) * (plot - 10.0);
            let x = LEFT + i as f64 * BAR + 4.0;
            format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"currentColor\"><title>{}: {d:.1} days</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                plot - h,
                BAR - 8.0,
                escape(m),
                x + (BAR - 8.0) / 2.0,
                H - 14.0,
                escape(m.get(2..).unwrap_or(m))
            )
        })
        .collect();
    let label = escape(&label);
    format!(
        "<svg class=\"trend\" viewBox=\"0 0 {w:.0} {H}\" width=\"{w:.0}\" height=\"{H}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title>\
         <line x1=\"{LEFT}\" y1=\"0\" x2=\"{LEFT}\" y2=\"{plot}\" stroke=\"#999\"/>\
         <line x1=\"{LEFT}\" y1=\"{plot}\" x2=\"{w:.0}\" y2=\"{plot}\" stroke=\"#999\"/>\
         <text x=\"{:.0}\" y=\"10\" font-size=\"9\" text-anchor=\"end\">{max:.0} d</text>\
         <text x=\"{:.0}\" y=\"{plot}\" font-size=\"9\" text-anchor=\"end\">0 d</text>\
         <text x=\"{LEFT}\" y=\"{:.0}\" font-size=\"9\">month of the drop</text>{bars}</svg>",
        LEFT - 4.0,
        LEFT - 4.0,
        H - 2.0
    )
}

/// One package's patch lifetimes as horizontal bars on a time axis (years), an open bar for
/// what is still carried. `lives`: `(file, added, dropped)` as Unix seconds.
pub fn lifetimes_svg(lives: &[(String, i64, Option<i64>)], now: i64) -> String {
    const W: f64 = 520.0;
    const ROW: f64 = 16.0;
    const LEFT: f64 = 10.0;
    let Some(start) = lives.iter().map(|l| l.1).min() else {
        return String::new();
    };
    let span = (now - start).max(1) as f64;
    let x = |t: i64| LEFT + (t - start) as f64 / span * (W - 2.0 * LEFT);
    let h = ROW * lives.len() as f64 + 24.0;
    let year = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m").to_string())
            .unwrap_or_default()
    };
    let bars: String = lives
        .iter()
        .enumerate()
        .map(|(i, (file, a, d))| {
            let end = d.unwrap_or(now);
            let y = i as f64 * ROW + 2.0;
            format!(
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"currentColor\" opacity=\"{}\">\
                 <title>{}: {} to {}</title></rect>",
                x(*a),
                (x(end) - x(*a)).max(2.0),
                ROW - 4.0,
                if d.is_some() { "0.5" } else { "1" },
                escape(file),
                year(*a),
                d.map_or("now".to_string(), year)
            )
        })
        .collect();
    let label = escape(&format!(
        "Lifetimes of {} patches from {} to now; faded bars were dropped",
        lives.len(),
        year(start)
    ));
    format!(
        "<svg class=\"trend\" viewBox=\"0 0 {W} {h:.0}\" width=\"{W}\" height=\"{h:.0}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title>{bars}\
         <line x1=\"{LEFT}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"#999\"/>\
         <text x=\"{LEFT}\" y=\"{:.0}\" font-size=\"9\">{}</text>\
         <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"9\" text-anchor=\"end\">{} (now)</text></svg>",
        h - 20.0,
        W - LEFT,
        h - 20.0,
        h - 8.0,
        year(start),
        W - LEFT,
        h - 8.0,
        year(now)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_known_weeks_only() {
        let svg = super::trend_svg(&[
            ("2026-11-01".into(), None),
            ("2026-11-08".into(), Some(10)),
            ("2026-11-15".into(), Some(5)),
        ]);
        assert!(svg.contains("points=\"180.0,4.0 360.0,40.0\""), "{svg}");
        assert!(svg.contains("10 on 2026-11-08, 5 on 2026-11-15"));
    }
}
