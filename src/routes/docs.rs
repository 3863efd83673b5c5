//! The documentation pages, rendered into complete HTML once at start-up.

use crate::site::Site;
use crate::site::docs::Library;
use crate::site::pages::{DocsIndexPage, DocsPage, PageLink, SidebarLink, SidebarSection};
use askama::Template;

fn sidebar(lib: &Library, current: Option<&str>) -> Vec<SidebarSection> {
    lib.sections()
        .into_iter()
        .map(|(title, pages)| SidebarSection {
            title: title.to_string(),
            pages: pages
                .into_iter()
                .map(|p| SidebarLink {
                    href: format!("/docs/{}", p.slug),
                    title: p.title.clone(),
                    current: current == Some(p.slug.as_str()),
                })
                .collect(),
        })
        .collect()
}

pub fn index_html(site: &Site) -> askama::Result<String> {
    DocsIndexPage {
        layout: site.layout("Documentation", "Fox ML Infrastructure documentation: onboarding, architecture, configuration, data format, licensing.", "docs", "/docs"),
        sidebar: sidebar(&site.docs, None),
    }
    .render()
}

/// The page at position `i` of the library.
pub fn page_html(site: &Site, i: usize) -> askama::Result<String> {
    let lib = &site.docs;
    let doc = &lib.pages[i];
    let link = |j: usize| PageLink {
        href: format!("/docs/{}", lib.pages[j].slug),
        title: lib.pages[j].title.clone(),
    };
    DocsPage {
        layout: site.layout(
            &doc.title,
            &format!("{} — Fox ML Infrastructure documentation", doc.title),
            "docs",
            &format!("/docs/{}", doc.slug),
        ),
        title: doc.title.clone(),
        section: doc.section.clone(),
        body_html: doc.html.clone(),
        toc: doc.toc.clone(),
        sidebar: sidebar(lib, Some(&doc.slug)),
        prev: i.checked_sub(1).map(link),
        next: (i + 1 < lib.pages.len()).then(|| link(i + 1)),
    }
    .render()
}
