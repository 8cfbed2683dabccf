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
