//! The documentation: Markdown files with front matter (title, order, section), rendered
//! once at start-up with pulldown-cmark (tables, fenced code, heading anchors) into pages
//! with a table of contents, grouped into sidebar sections, linked prev/next.

use anyhow::{Context, bail};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    order: i32,
    section: String,
}

/// One heading of the on-page table of contents.
#[derive(Debug, Clone)]
pub struct TocEntry {
    pub level: u8,
    pub id: String,
    pub text: String,
}

/// A rendered page.
#[derive(Debug, Clone)]
pub struct Doc {
    pub slug: String,
    pub title: String,
    pub section: String,
    pub order: i32,
    pub html: String,
    pub toc: Vec<TocEntry>,
}

/// All pages, sorted by `order`.
#[derive(Debug, Default)]
pub struct Library {
    pub pages: Vec<Doc>,
}

impl Library {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut pages = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("md") {
                continue;
            }
            let slug = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            if !is_slug(&slug) {
                bail!(
                    "{}: file names must be lower-case letters, digits and '-'",
                    path.display()
                );
            }
            let text = std::fs::read_to_string(&path)?;
            pages.push(render(&slug, &text).with_context(|| path.display().to_string())?);
        }
        pages.sort_by(|a, b| (a.order, &a.slug).cmp(&(b.order, &b.slug)));
        Ok(Self { pages })
    }

    pub fn index_of(&self, slug: &str) -> Option<usize> {
        // Only well-formed slugs are looked up: `..`, `/` and encoded paths are never files.
        if !is_slug(slug) {
            return None;
        }
        self.pages.iter().position(|p| p.slug == slug)
    }

    /// Sections in the order of their first page, each with its pages.
    pub fn sections(&self) -> Vec<(&str, Vec<&Doc>)> {
        let mut out: Vec<(&str, Vec<&Doc>)> = Vec::new();
        for p in &self.pages {
            match out.iter_mut().find(|(s, _)| *s == p.section) {
                Some((_, v)) => v.push(p),
                None => out.push((&p.section, vec![p])),
            }
        }
        out
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Splits `---\n…\n---\n` front matter from the body.
fn split_front_matter(text: &str) -> anyhow::Result<(FrontMatter, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        bail!("missing front matter (--- title/order/section ---)");
    };
    let end = rest
        .find("\n---")
        .context("front matter is not closed with ---")?;
    let fm: FrontMatter = serde_yaml_ng::from_str(&rest[..end]).context("front matter")?;
    let body = rest[end + 4..].trim_start_matches(['\r', '\n']);
    Ok((fm, body))
}

/// The anchor id for a heading text: lower case, words joined by `-`.
pub fn anchor(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if (c.is_whitespace() || c == '-' || c == '_') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn render(slug: &str, text: &str) -> anyhow::Result<Doc> {
    let (fm, body) = split_front_matter(text)?;
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_FOOTNOTES;
    let events: Vec<Event> = Parser::new_ext(body, opts).collect();
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut toc = Vec::new();
    let mut used = HashSet::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, id, .. }) = &events[i] {
            let level = *level;
            let close = events[i..]
                .iter()
                .position(|e| matches!(e, Event::End(TagEnd::Heading(_))))
                .map(|p| p + i)
                .unwrap_or(events.len());
            let inner = &events[i + 1..close];
            let plain: String = inner
                .iter()
                .filter_map(|e| match e {
                    Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                    _ => None,
                })
                .collect();
            let mut id = id
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| anchor(&plain));
            if id.is_empty() {
                id = "section".into();
            }
            let base = id.clone();
            let mut n = 1;
            while !used.insert(id.clone()) {
                n += 1;
                id = format!("{base}-{n}");
            }
            let lv = heading_number(level);
            if lv == 2 || lv == 3 {
                toc.push(TocEntry {
                    level: lv,
                    id: id.clone(),
                    text: plain.clone(),
                });
            }
            out.push(Event::Html(format!("<h{lv} id=\"{id}\"><a class=\"anchor\" href=\"#{id}\" aria-hidden=\"true\" tabindex=\"-1\">#</a>").into()));
            out.extend(inner.iter().cloned());
            out.push(Event::Html(format!("</h{lv}>\n").into()));
            i = close + 1;
            continue;
        }
        // Raw HTML in docs is shown as text: the docs are content, not markup to trust.
        let ev = match &events[i] {
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h.clone()),
            other => other.clone(),
        };
        out.push(ev);
        i += 1;
    }
    let mut html_out = String::with_capacity(body.len() * 2);
    html::push_html(&mut html_out, out.into_iter());
    Ok(Doc {
        slug: slug.to_string(),
        title: fm.title,
        section: fm.section,
        order: fm.order,
        html: html_out,
        toc,
    })
}

fn heading_number(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "---\ntitle: T\norder: 3\nsection: S\n---\n\n## Hello, World\n\ntext\n\n### Sub `code`\n\n## Hello World\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn main() {}\n```\n\n<script>alert(1)</script>\n";

    #[test]
    fn renders_anchors_toc_tables_code() {
        let d = render("t", PAGE).unwrap();
        assert_eq!(
            (d.title.as_str(), d.order, d.section.as_str()),
            ("T", 3, "S")
        );
        let ids: Vec<_> = d.toc.iter().map(|t| (t.level, t.id.as_str())).collect();
        assert_eq!(
            ids,
            vec![(2, "hello-world"), (3, "sub-code"), (2, "hello-world-2")]
        );
        assert!(
            d.html
                .contains("<h2 id=\"hello-world\"><a class=\"anchor\" href=\"#hello-world\"")
        );
        assert!(d.html.contains("<table>"));
        assert!(d.html.contains("<code class=\"language-rust\">"));
        assert!(!d.html.contains("<script>"), "raw HTML must be escaped");
    }

    #[test]
    fn front_matter_is_required() {
        assert!(render("x", "# no front matter").is_err());
        assert!(render("x", "---\ntitle: T\n---\nbody").is_err());
    }

    #[test]
    fn traversal_slugs_are_never_found() {
        let lib = Library {
            pages: vec![render("a", PAGE).unwrap()],
        };
        assert_eq!(lib.index_of("a"), Some(0));
        for bad in ["../a", "a/", "..", "%2e%2e", "A"] {
            assert_eq!(lib.index_of(bad), None);
        }
    }
}
