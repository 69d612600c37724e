//! [`Figure::Mosaics`](super::Figure::Mosaics) as a PNG: image mosaics with their attention drawn
//! on the tiles, pixel by pixel and without text (so without fonts; the numbers go to the
//! report's caption table, [`caption_table`]).
//!
//! Panels fall in two groups: focus true (argmax alpha = J) on the left under a green strip,
//! focus false on the right under a red strip, at most [`PER_ROW`] panels a row, each group in
//! input order, each on a light grey card. Each tile is upscaled by an integer factor; around it an orange band whose width
//! and opacity grow with its alpha, below it a bar filled to alpha of its length, and outside an
//! optional ring: green on the foreground tile J, red on the argmax tile when that is not J.
//!
//! (About 630 lines: the code is under 370; the rest are its drawing tests.)

use std::path::Path;

use super::format::{DisplayTable, num};
use super::{MosaicPanel, ReportError};

/// Tiles are upscaled by the largest integer factor that keeps their longer side at most this
/// many pixels (at least 1): 28x28 MNIST and 32x32 CIFAR tiles become 84 and 96 pixels.
const TILE_TARGET: usize = 96;
/// Width of the alpha band at alpha = 1, in pixels.
const BAND: usize = 6;
/// Width of the J / argmax ring.
const RING: usize = 3;
/// White space between the ring and the band.
const RING_GAP: usize = 1;
/// From a tile cell's edge to its pixels: ring, gap, band.
const MARGIN: usize = RING + RING_GAP + BAND;
/// White space between the ring and the alpha bar below it.
const BAR_GAP: usize = 2;
/// Height of the alpha bar.
const BAR_HEIGHT: usize = 6;
/// White space between the tile cells of a panel.
const TILE_SPACING: usize = 4;
/// Space around each panel: its grey card, then white.
const PANEL_PAD: usize = 12;
/// How far a panel's card reaches past its tiles (the rest of [`PANEL_PAD`] stays white, so
/// neighbouring panels are told apart).
const CARD_PAD: usize = 6;
/// White space above the group strips.
const TOP: usize = 4;
/// Height of the coloured strip over each group.
const STRIP: usize = 6;
/// White space between the two groups; a grey line runs down its middle.
const GROUP_GAP: usize = 24;
/// Width of that line.
const SEPARATOR_WIDTH: usize = 2;
/// Panels per row within a group.
pub(super) const PER_ROW: usize = 3;

/// Limits that keep a figure drawable (and the arithmetic below far from overflow).
const MAX_PANELS: usize = 48;
const MAX_GRID: usize = 16;
const MAX_TILE_SIDE: usize = 1024;
/// Largest image, in pixels (150 MB of RGB).
const MAX_PIXELS: usize = 50_000_000;

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
/// Background of a panel.
const CARD: Rgb = [242, 242, 242];
/// Focus true: the strip over the left group and the ring on J.
const GREEN: Rgb = [44, 160, 44];
/// Focus false: the strip over the right group and the ring on a wrong argmax.
const RED: Rgb = [214, 39, 40];
const ORANGE: Rgb = [255, 127, 14];
const BLUE: Rgb = [31, 119, 180];
const BAR_BACK: Rgb = [205, 205, 205];
const SEPARATOR: Rgb = [170, 170, 170];
/// Opacity of the alpha band at alpha = 0 (it then has width 0) and at alpha = 1.
const BAND_OPACITY: (f64, f64) = (0.35, 1.0);

/// Explains the picture; shown under every mosaics figure.
pub(super) const LEGEND: &str = "Left, under a green strip: focus true (argmax α = J); right, \
    under a red strip: focus false. Panels are numbered left to right and top to bottom, left \
    group first. On each tile, the width of the orange band and the filled length of the blue \
    bar below are its α; a green ring marks the foreground tile J, a red ring the argmax tile \
    when it is not J. Tiles are numbered row by row from 0 (α0 is the top-left tile).";

/// Checks the panels of one figure; the message names the panel (1-based, input order).
pub(super) fn check_panels(panels: &[MosaicPanel]) -> Result<(), String> {
    if panels.is_empty() {
        return Err("no mosaic panels".into());
    }
    if panels.len() > MAX_PANELS {
        return Err(format!(
            "{} mosaic panels; at most {MAX_PANELS}",
            panels.len()
        ));
    }
    for (i, p) in panels.iter().enumerate() {
        check_panel(p).map_err(|e| format!("mosaic panel {}: {e}", i + 1))?;
    }
    let (width, height) = layout(panels).size;
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(format!(
            "the image would be {width}x{height} pixels; at most {MAX_PIXELS} in all"
        ));
    }
    Ok(())
}

fn check_panel(p: &MosaicPanel) -> Result<(), String> {
    if !(1..=MAX_GRID).contains(&p.grid) {
        return Err(format!("grid = {}; accepted 1 to {MAX_GRID}", p.grid));
    }
    if !matches!(p.channels, 1 | 3) {
        return Err(format!("channels = {}; accepted 1 or 3", p.channels));
    }
    for (field, v) in [("height", p.height), ("width", p.width)] {
        if !(1..=MAX_TILE_SIDE).contains(&v) {
            return Err(format!("{field} = {v}; accepted 1 to {MAX_TILE_SIDE}"));
        }
    }
    let m = p.n_tiles();
    let need = m * p.channels * p.height * p.width;
    if p.pixels.len() != need {
        return Err(format!(
            "{} pixel bytes for {m} tiles of {}x{}x{} (need {need})",
            p.pixels.len(),
            p.channels,
            p.height,
            p.width
        ));
    }
    if p.alpha.len() != m {
        return Err(format!("{} alpha values for {m} tiles", p.alpha.len()));
    }
    if p.fg_index >= m {
        return Err(format!(
            "fg_index = {}; accepted below {m} (the number of tiles)",
            p.fg_index
        ));
    }
    Ok(())
}

/// Panel indices in display order: focus-true panels, then focus-false ones, each in input order.
pub(super) fn order(panels: &[MosaicPanel]) -> Vec<usize> {
    let (mut left, right): (Vec<usize>, Vec<usize>) =
        (0..panels.len()).partition(|&i| panels[i].focus_true());
    left.extend(right);
    left
}

/// The numbers of the picture, one row per panel in display order: panel number, focus, the
/// panel's caption, label, prediction, J, argmax, then alpha per tile with 2 decimals.
pub(super) fn caption_table(panels: &[MosaicPanel]) -> DisplayTable {
    let m = panels.iter().map(MosaicPanel::n_tiles).max().unwrap_or(0);
    let named = [
        "panel",
        "focus",
        "mosaic",
        "label",
        "prediction",
        "J",
        "argmax",
    ];
    let mut header: Vec<String> = named.iter().map(|h| h.to_string()).collect();
    header.extend((0..m).map(|t| format!("α{t}")));
    let rows = (order(panels).into_iter().enumerate())
        .map(|(k, i)| {
            let p = &panels[i];
            let mut row = vec![
                (k + 1).to_string(),
                if p.focus_true() { "true" } else { "false" }.to_owned(),
                p.caption.clone(),
                p.label.to_string(),
                p.prediction.to_string(),
                p.fg_index.to_string(),
                p.focus().to_string(),
            ];
            row.extend(p.alpha.iter().map(|&a| num(a, 2)));
            row.resize(header.len(), String::new());
            row
        })
        .collect();
    DisplayTable {
        header,
        rows,
        n_axes: 3,
    }
}

/// Draws the panels and encodes the picture as PNG; `path` only names errors.
pub(super) fn png(panels: &[MosaicPanel], path: &Path) -> Result<Vec<u8>, ReportError> {
    let canvas = draw(panels);
    let err = |e: png::EncodingError| ReportError::Png {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let (width, height) = (dim_u32(canvas.width, path)?, dim_u32(canvas.height, path)?);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&canvas.rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

fn dim_u32(v: usize, path: &Path) -> Result<u32, ReportError> {
    u32::try_from(v).map_err(|_| ReportError::Png {
        path: path.to_owned(),
        message: format!("{v} pixels is too large a side for a PNG"),
    })
}

/// Where one panel's tiles go, relative to the panel's top-left corner.
#[derive(Clone, Copy, Debug)]
struct PanelGeometry {
    grid: usize,
    /// Integer upscaling factor of the tile pixels.
    scale: usize,
    tile_w: usize,
    tile_h: usize,
}

impl PanelGeometry {
    fn of(p: &MosaicPanel) -> Self {
        let scale = (TILE_TARGET / p.height.max(p.width)).max(1);
        Self {
            grid: p.grid,
            scale,
            tile_w: p.width * scale,
            tile_h: p.height * scale,
        }
    }

    fn cell_w(&self) -> usize {
        self.tile_w + 2 * MARGIN
    }

    /// The ringed square plus the bar below it.
    fn cell_h(&self) -> usize {
        self.tile_h + 2 * MARGIN + BAR_GAP + BAR_HEIGHT
    }

    fn size(&self) -> (usize, usize) {
        let gaps = (self.grid - 1) * TILE_SPACING;
        (
            self.grid * self.cell_w() + gaps,
            self.grid * self.cell_h() + gaps,
        )
    }

    /// Top-left corner of tile `t`'s cell.
    fn cell(&self, t: usize) -> (usize, usize) {
        let (row, col) = (t / self.grid, t % self.grid);
        (
            col * (self.cell_w() + TILE_SPACING),
            row * (self.cell_h() + TILE_SPACING),
        )
    }

    /// Top-left corner of tile `t`'s pixels.
    fn tile(&self, t: usize) -> (usize, usize) {
        let (x, y) = self.cell(t);
        (x + MARGIN, y + MARGIN)
    }
}

/// Positions of everything in the picture.
#[derive(Debug)]
struct Layout {
    /// `(width, height)` of the picture.
    size: (usize, usize),
    /// Top-left corner of each panel, in input order.
    origins: Vec<(usize, usize)>,
    /// `(x, width, colour)` of each non-empty group's strip.
    strips: Vec<(usize, usize, Rgb)>,
    /// Left edge of the line between the groups, when both have panels.
    separator: Option<usize>,
}

/// Lays the panels out in equal slots sized to the largest panel.
fn layout(panels: &[MosaicPanel]) -> Layout {
    let sizes = panels.iter().map(|p| PanelGeometry::of(p).size());
    let (max_w, max_h) = sizes.fold((0, 0), |(w, h), (pw, ph)| (w.max(pw), h.max(ph)));
    let (slot_w, slot_h) = (max_w + 2 * PANEL_PAD, max_h + 2 * PANEL_PAD);
    let (left, right): (Vec<usize>, Vec<usize>) =
        (0..panels.len()).partition(|&i| panels[i].focus_true());
    let mut origins = vec![(0, 0); panels.len()];
    let mut strips = Vec::new();
    let mut separator = None;
    let (mut x, mut height) = (0, 0);
    let top = TOP + STRIP;
    for (group, colour) in [(left, GREEN), (right, RED)] {
        if group.is_empty() {
            continue;
        }
        if x > 0 {
            separator = Some(x + (GROUP_GAP - SEPARATOR_WIDTH) / 2);
            x += GROUP_GAP;
        }
        let cols = group.len().min(PER_ROW);
        let rows = group.len().div_ceil(PER_ROW);
        for (k, &i) in group.iter().enumerate() {
            let (row, col) = (k / PER_ROW, k % PER_ROW);
            origins[i] = (x + col * slot_w + PANEL_PAD, top + row * slot_h + PANEL_PAD);
        }
        let group_w = cols * slot_w;
        strips.push((x + PANEL_PAD, group_w - 2 * PANEL_PAD, colour));
        x += group_w;
        height = height.max(top + rows * slot_h);
    }
    Layout {
        size: (x, height),
        origins,
        strips,
        separator,
    }
}

/// An RGB picture, row-major.
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            rgb: WHITE.repeat(width * height),
        }
    }

    /// Paints `colour` over the rectangle with `opacity` in [0, 1] (1 replaces the pixels).
    fn fill(&mut self, (x, y): (usize, usize), (w, h): (usize, usize), colour: Rgb, opacity: f64) {
        for row in y..(y + h).min(self.height) {
            for col in x..(x + w).min(self.width) {
                let at = (row * self.width + col) * 3;
                for (dst, &src) in self.rgb[at..at + 3].iter_mut().zip(&colour) {
                    let mixed = f64::from(*dst) * (1.0 - opacity) + f64::from(src) * opacity;
                    *dst = mixed.round() as u8;
                }
            }
        }
    }

    fn put(&mut self, x: usize, y: usize, colour: Rgb) {
        let at = (y * self.width + x) * 3;
        self.rgb[at..at + 3].copy_from_slice(&colour);
    }

    /// A rectangular frame `thickness` pixels wide inside the rectangle; the four sides do not
    /// overlap, so a translucent frame is even.
    fn frame(
        &mut self,
        (x, y): (usize, usize),
        (w, h): (usize, usize),
        thickness: usize,
        colour: Rgb,
        opacity: f64,
    ) {
        let t = thickness.min(w / 2).min(h / 2);
        if t == 0 {
            return;
        }
        self.fill((x, y), (w, t), colour, opacity);
        self.fill((x, y + h - t), (w, t), colour, opacity);
        self.fill((x, y + t), (t, h - 2 * t), colour, opacity);
        self.fill((x + w - t, y + t), (t, h - 2 * t), colour, opacity);
    }

    #[cfg(test)]
    fn pixel(&self, x: usize, y: usize) -> Rgb {
        let at = (y * self.width + x) * 3;
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }
}

/// Alpha as drawn: clamped to [0, 1], non-finite as 0 (the table shows the true value).
fn shown(alpha: f64) -> f64 {
    if alpha.is_finite() {
        alpha.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Draws checked panels (see [`check_panels`]).
fn draw(panels: &[MosaicPanel]) -> Canvas {
    let layout = layout(panels);
    let (width, height) = layout.size;
    let mut canvas = Canvas::new(width, height);
    for &(x, w, colour) in &layout.strips {
        canvas.fill((x, TOP), (w, STRIP), colour, 1.0);
    }
    if let Some(x) = layout.separator {
        canvas.fill(
            (x, TOP),
            (SEPARATOR_WIDTH, height - 2 * TOP),
            SEPARATOR,
            1.0,
        );
    }
    for (p, &(x, y)) in panels.iter().zip(&layout.origins) {
        let (w, h) = PanelGeometry::of(p).size();
        let card = (x - CARD_PAD, y - CARD_PAD);
        canvas.fill(card, (w + 2 * CARD_PAD, h + 2 * CARD_PAD), CARD, 1.0);
        draw_panel(&mut canvas, (x, y), p);
    }
    canvas
}

fn draw_panel(canvas: &mut Canvas, (px, py): (usize, usize), p: &MosaicPanel) {
    let g = PanelGeometry::of(p);
    let focus = p.focus();
    let tile_len = p.channels * p.height * p.width;
    for (t, tile) in p.pixels.chunks_exact(tile_len).enumerate() {
        let a = shown(p.alpha[t]);
        let (cx, cy) = g.cell(t);
        let (cx, cy) = (px + cx, py + cy);
        let (tx, ty) = g.tile(t);
        let (tx, ty) = (px + tx, py + ty);

        let ring = if t == p.fg_index {
            Some(GREEN)
        } else if t == focus {
            Some(RED)
        } else {
            None
        };
        let square = (g.tile_w + 2 * MARGIN, g.tile_h + 2 * MARGIN);
        if let Some(colour) = ring {
            canvas.frame((cx, cy), square, RING, colour, 1.0);
        }

        // The band hugs the tile and widens outwards with alpha.
        let band = (a * BAND as f64).round() as usize;
        let (lo, hi) = BAND_OPACITY;
        canvas.frame(
            (tx - band, ty - band),
            (g.tile_w + 2 * band, g.tile_h + 2 * band),
            band,
            ORANGE,
            lo + (hi - lo) * a,
        );

        for y in 0..g.tile_h {
            for x in 0..g.tile_w {
                let (sy, sx) = (y / g.scale, x / g.scale);
                let at = |c: usize| tile[(c * p.height + sy) * p.width + sx];
                let colour = if p.channels == 1 {
                    [at(0); 3]
                } else {
                    [at(0), at(1), at(2)]
                };
                canvas.put(tx + x, ty + y, colour);
            }
        }

        let bar_y = cy + square.1 + BAR_GAP;
        canvas.fill((tx, bar_y), (g.tile_w, BAR_HEIGHT), BAR_BACK, 1.0);
        let filled = (a * g.tile_w as f64).round() as usize;
        canvas.fill((tx, bar_y), (filled, BAR_HEIGHT), BLUE, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x3 mosaic of 1x4x4 tiles, tile t filled with grey 20 * t.
    fn panel(alpha: Vec<f64>, fg_index: usize) -> MosaicPanel {
        MosaicPanel {
            grid: 3,
            channels: 1,
            height: 4,
            width: 4,
            pixels: (0..9u8).flat_map(|t| [20 * t; 16]).collect(),
            alpha,
            fg_index,
            label: 1,
            prediction: 1,
            caption: "train #0".into(),
        }
    }

    fn one_hot(t: usize) -> Vec<f64> {
        let mut a = vec![0.0; 9];
        a[t] = 1.0;
        a
    }

    #[test]
    fn geometry_by_hand() {
        let p = panel(one_hot(4), 4);
        let g = PanelGeometry::of(&p);
        // 4x4 tiles: scale 96 / 4 = 24, so 96-pixel tiles.
        assert_eq!((g.scale, g.tile_w, g.tile_h), (24, 96, 96));
        // cell 96 + 2 * 10 = 116 wide, 116 + 2 + 6 = 124 high; 3 cells and 2 gaps of 4.
        assert_eq!(g.size(), (3 * 116 + 8, 3 * 124 + 8));
        assert_eq!(g.tile(4), (120 + 10, 128 + 10));
        // One group of one panel: slot = panel + 2 * 12, below the strip.
        let l = layout(&[p]);
        assert_eq!(l.size, (356 + 24, 4 + 6 + 380 + 24));
        assert_eq!(l.origins, vec![(12, 22)]);
        assert_eq!(l.separator, None);
    }

    #[test]
    fn groups_split_by_focus() {
        let panels = [
            panel(one_hot(2), 4),                                        // false
            panel(one_hot(4), 4),                                        // true
            panel(vec![0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 1), // tie -> 0: false
            panel(one_hot(0), 0),                                        // true
        ];
        assert_eq!(order(&panels), vec![1, 3, 0, 2]);
        let l = layout(&panels);
        let slot = 356 + 24;
        // Left: panels 1 and 3; right, after the gap: panels 0 and 2.
        assert_eq!(l.origins[1].0, 12);
        assert_eq!(l.origins[3].0, slot + 12);
        assert_eq!(l.origins[0].0, 2 * slot + 24 + 12);
        assert_eq!(l.origins[2].0, 3 * slot + 24 + 12);
        assert_eq!(l.size.0, 4 * slot + 24);
        assert_eq!(l.separator, Some(2 * slot + 11));
        assert_eq!(
            l.strips.iter().map(|s| s.2).collect::<Vec<_>>(),
            [GREEN, RED]
        );
    }

    #[test]
    fn alpha_on_j_and_elsewhere_draw_differently() {
        let on_j = draw(&[panel(one_hot(4), 4)]);
        let off = draw(&[panel(one_hot(2), 4)]);
        let origin = (12, 22);
        let g = PanelGeometry::of(&panel(one_hot(4), 4));
        let at = |t: usize, dx: isize, dy: isize| {
            let (x, y) = g.tile(t);
            ((origin.0 + x) as isize + dx, (origin.1 + y) as isize + dy)
        };
        let px = |c: &Canvas, (x, y): (isize, isize)| c.pixel(x as usize, y as usize);
        // The band just left of tile J: orange at alpha 1, none (the card) at alpha 0.
        assert_eq!(px(&on_j, at(4, -1, 10)), ORANGE);
        assert_eq!(px(&off, at(4, -1, 10)), CARD);
        // ...and the other way round at tile 2, which the second panel focuses on.
        assert_eq!(px(&on_j, at(2, -1, 10)), CARD);
        assert_eq!(px(&off, at(2, -1, 10)), ORANGE);
        // The ring: green on J in both, red on a wrong argmax only.
        let ring = -(MARGIN as isize);
        assert_eq!(px(&on_j, at(4, ring, 10)), GREEN);
        assert_eq!(px(&off, at(4, ring, 10)), GREEN);
        assert_eq!(px(&on_j, at(2, ring, 10)), CARD);
        assert_eq!(px(&off, at(2, ring, 10)), RED);
        // The bar under J: filled at alpha 1, empty at alpha 0.
        let bar = (96 + MARGIN + BAR_GAP + 1) as isize;
        assert_eq!(px(&on_j, at(4, 90, bar)), BLUE);
        assert_eq!(px(&off, at(4, 90, bar)), BAR_BACK);
        // Tile pixels are the input, upscaled: tile 4 is grey 80.
        assert_eq!(px(&on_j, at(4, 95, 95)), [80; 3]);
    }

    #[test]
    fn band_grows_with_alpha() {
        let mut alpha = vec![0.0; 9];
        alpha[4] = 0.5;
        alpha[0] = 0.5;
        let c = draw(&[panel(alpha, 4)]);
        let g = PanelGeometry::of(&panel(one_hot(4), 4));
        let (x, y) = g.tile(4);
        let (x, y) = (12 + x, 22 + y + 10);
        // alpha 0.5: a 3-pixel band, lighter than at alpha 1.
        for d in 1..=3 {
            let p = c.pixel(x - d, y);
            assert!(p != CARD && p != ORANGE, "{d}: {p:?}");
        }
        assert_eq!(c.pixel(x - 4, y), CARD);
        // Outside the card, white.
        assert_eq!(c.pixel(12 - CARD_PAD - 1, y), WHITE);
        assert_eq!(c.pixel(12 - CARD_PAD, y), CARD);
    }

    #[test]
    fn rgb_tiles_are_channel_planar() {
        let mut p = panel(one_hot(0), 0);
        p.channels = 3;
        // Tile 0: red plane 200, green 100, blue 50; the rest black.
        p.pixels = vec![0; 9 * 3 * 16];
        p.pixels[..16].fill(200);
        p.pixels[16..32].fill(100);
        p.pixels[32..48].fill(50);
        let c = draw(&[p.clone()]);
        let (x, y) = PanelGeometry::of(&p).tile(0);
        assert_eq!(c.pixel(12 + x + 5, 22 + y + 5), [200, 100, 50]);
    }

    #[test]
    fn checks_name_the_panel_and_field() {
        let mut p = panel(one_hot(0), 0);
        p.pixels.pop();
        let e = check_panels(&[panel(one_hot(0), 0), p]).unwrap_err();
        assert_eq!(
            e,
            "mosaic panel 2: 143 pixel bytes for 9 tiles of 1x4x4 (need 144)"
        );
        let mut p = panel(one_hot(0), 0);
        p.fg_index = 9;
        assert!(check_panels(&[p]).unwrap_err().contains("fg_index = 9"));
        let mut p = panel(one_hot(0), 0);
        p.channels = 2;
        assert!(check_panels(&[p]).unwrap_err().contains("channels = 2"));
        let mut p = panel(one_hot(0), 0);
        p.alpha.push(0.0);
        assert!(check_panels(&[p]).unwrap_err().contains("10 alpha values"));
        assert_eq!(check_panels(&[]).unwrap_err(), "no mosaic panels");
    }

    #[test]
    fn caption_rows_follow_the_picture() {
        let mut wrong = panel(vec![0.1, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 4);
        wrong.caption = "train #3".into();
        let right = panel(vec![0.0, 0.0, 0.0, 0.0, 0.996, 0.004, 0.0, 0.0, 0.0], 4);
        let t = caption_table(&[wrong, right]);
        assert_eq!(t.header.len(), 7 + 9);
        assert_eq!(t.header[7], "α0");
        assert_eq!(
            t.rows[0][..9],
            ["1", "true", "train #0", "1", "1", "4", "4", "0.00", "0.00"]
        );
        assert_eq!(t.rows[0][11], "1.00");
        assert_eq!(
            t.rows[1][..8],
            ["2", "false", "train #3", "1", "1", "4", "2", "0.10"]
        );
    }
}
