//! `report.html`: `report.md` rendered once with pulldown-cmark into one self-contained page,
//! figures inlined (SVG as markup, PNG as a base64 `data:` URI), minimal CSS, no external
//! resources. The HTML says nothing the Markdown does not.

use std::collections::BTreeMap;

use base64::Engine as _;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use super::Report;
use super::figures::Drawn;
use super::format::{figure_rel, html_escape as esc};
use crate::verdict::Verdict;

const CSS: &str = "\
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;\
line-height:1.45;color:#222}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem;display:block;max-width:100%;\
overflow-x:auto}\
th,td{border:1px solid #ccc;padding:.2rem .4rem;vertical-align:top}\
th{background:#f3f3f3}\
.verdict{font-weight:bold;padding:0 .3rem;border-radius:.2rem}\
.v-reproduced{background:#d4f4d4}.v-direction-reproduced{background:#fff2c2}\
.v-inconclusive{background:#dde8f8}.v-not-reproduced{background:#f8d0d0}\
.v-incomplete{background:#e4e4e4}\
svg,img{max-width:100%;height:auto;display:block;margin:1rem 0}\
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}h2{margin-top:2.5rem}";

/// A heading's anchor as GitHub derives it: lower case, spaces to `-`, other punctuation dropped.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The whole HTML document from the Markdown text `markdown` of `report`; `drawn[i][j]` is
/// figure `j` of experiment `i`, inlined where the Markdown links its file.
pub(super) fn html(report: &Report, markdown: &str, drawn: &[Vec<Drawn>]) -> String {
    let mut inline: BTreeMap<String, String> = BTreeMap::new();
    for (e, figs) in report.experiments.iter().zip(drawn) {
        for (f, d) in e.figures.iter().zip(figs) {
            inline.insert(figure_rel(&e.name, f), inline_figure(f.title(), d));
        }
    }
    page(&report.title, markdown, &inline)
}

/// A drawn figure as HTML to inline: SVG markup, or a PNG as a base64 `data:` URI.
pub(super) fn inline_figure(title: &str, drawn: &Drawn) -> String {
    match drawn {
        // The SVG comes from plotters, which escapes every text it draws.
        Drawn::Svg(svg) => svg.clone(),
        Drawn::Png(png) => format!(
            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
            esc(title),
            base64::engine::general_purpose::STANDARD.encode(png)
        ),
    }
}

/// A self-contained page titled `title` from `markdown`, rendered once: images whose link is a
/// key of `inline` are replaced by its HTML, headings get GitHub's anchors and verdicts their
/// badges.
pub(super) fn page(title: &str, markdown: &str, inline: &BTreeMap<String, String>) -> String {
    let verdicts = [
        Verdict::Reproduced,
        Verdict::DirectionReproduced,
        Verdict::Inconclusive,
        Verdict::NotReproduced,
        Verdict::Incomplete,
    ];

    let events: Vec<Event<'_>> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    let mut out: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut in_strong = false;
    let mut skip_image = false;
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Start(Tag::Image { dest_url, .. }) if inline.contains_key(&**dest_url) => {
                out.push(Event::Html(CowStr::from(inline[&**dest_url].clone())));
                skip_image = true;
            }
            Event::End(TagEnd::Image) if skip_image => skip_image = false,
            _ if skip_image => {}
            // Headings get GitHub's anchors, so the summary's links work here too.
            Event::Start(Tag::Heading {
                level,
                id: None,
                classes,
                attrs,
            }) => {
                let text = match events.get(i + 1) {
                    Some(Event::Text(t)) => slug(t),
                    _ => String::new(),
                };
                out.push(Event::Start(Tag::Heading {
                    level: *level,
                    id: (!text.is_empty()).then(|| CowStr::from(text)),
                    classes: classes.clone(),
                    attrs: attrs.clone(),
                }));
            }
            Event::Start(Tag::Strong) => {
                in_strong = true;
                out.push(event.clone());
            }
            Event::End(TagEnd::Strong) => {
                in_strong = false;
                out.push(event.clone());
            }
            Event::Text(t) if in_strong => {
                let text = t.trim_start_matches("Verdict: ").trim_end_matches('.');
                match verdicts.iter().find(|v| v.as_str() == text) {
                    Some(v) => out.push(Event::Html(CowStr::from(format!(
                        "<span class=\"verdict v-{}\">{}</span>",
                        v.slug(),
                        esc(t)
                    )))),
                    None => out.push(event.clone()),
                }
            }
            _ => out.push(event.clone()),
        }
    }
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, out.into_iter());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_match_github_anchors() {
        assert_eq!(slug("avg-layer-d2"), "avg-layer-d2");
        assert_eq!(slug("How verdicts are decided"), "how-verdicts-are-decided");
        assert_eq!(slug("Failures (2)"), "failures-2");
    }

    #[test]
    fn markdown_renders_once_with_badges_anchors_and_inline_figures() {
        let report = Report {
            title: "T <1>".into(),
            profile: "quick".into(),
            generated_by: "test".into(),
            experiments: vec![],
        };
        let md = "# T\n\n## Summary\n\n| a | b |\n|---|---:|\n| x | **not reproduced** |\n\n\
                  **Verdict: inconclusive.** Why.\n\n- `code` and *em*\n";
        let html = html(&report, md, &[]);
        assert!(html.contains("<title>T &lt;1&gt;</title>"), "{html}");
        assert!(html.contains("<h2 id=\"summary\">Summary</h2>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td style=\"text-align: right\">"), "{html}");
        assert!(
            html.contains("<span class=\"verdict v-not-reproduced\">not reproduced</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"verdict v-inconclusive\">Verdict: inconclusive.</span>"),
            "{html}"
        );
        assert!(
            html.contains("<li><code>code</code> and <em>em</em></li>"),
            "{html}"
        );
    }
}
