//! The debt trend as a small PNG bar chart (plotters draws, `png` encodes). No text is drawn:
//! fonts would need system font libraries; the numbers go in the image's alt text and the
//! HTML table instead.

use plotters::prelude::*;

pub const WIDTH: u32 = 600;
pub const HEIGHT: u32 = 200;

/// A PNG of one bar per value (`None`: no bar).
///
/// # Errors
/// Drawing or encoding failed.
pub fn png(values: &[Option<i64>]) -> anyhow::Result<Vec<u8>> {
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
        let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
        let n = i32::try_from(values.len().max(1))?;
        let (w, h) = (i32::try_from(WIDTH)?, i32::try_from(HEIGHT)?);
        let slot = w / n;
        let baseline = h - 10;
        root.draw(&PathElement::new(vec![(0, baseline), (w, baseline)], BLACK))
            .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
        for (i, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let i = i32::try_from(i)?;
            let top = baseline - i32::try_from(*v * i64::from(baseline - 10) / max)?;
            let x = i * slot + slot / 5;
            root.draw(&Rectangle::new(
                [(x, top), (x + slot * 3 / 5, baseline)],
                RGBColor(0x3c, 0x6e, 0xb4).filled(),
            ))
            .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader
            .next_frame(&mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        (info, buf)
    }

    fn blue_columns(rgb: &[u8]) -> usize {
        (0..WIDTH as usize)
            .filter(|x| {
                (0..HEIGHT as usize).any(|y| {
                    let i = (y * WIDTH as usize + x) * 3;
                    rgb[i..i + 3] == [0x3c, 0x6e, 0xb4]
                })
            })
            .count()
    }

    #[test]
    fn bars_for_known_weeks_only() {
        let bytes = png(&[None, Some(10), Some(20)]).unwrap_or_else(|e| panic!("{e}"));
        if let Ok(path) = std::env::var("FORKDEBT_CHART_OUT") {
            let _ = std::fs::write(path, &bytes);
        }
        let (info, rgb) = decode(&bytes);
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        // Two bars, each three fifths of a 200-pixel slot wide.
        assert_eq!(blue_columns(&rgb), 2 * 120);
        let (_, empty) = decode(&png(&[None, None]).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(blue_columns(&empty), 0);
    }
}
